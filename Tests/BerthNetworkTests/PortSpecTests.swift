import BerthOS
import Testing
@testable import BerthNetwork

@Suite("PortSpec")
struct PortSpecTests {
  @Test func parsesDockerForms() throws {
    #expect(try PortSpec.parse("8080:80") == [PortMapping(hostIP: "", hostPort: 8080, containerPort: 80, proto: "tcp")])
    #expect(try PortSpec.parse("127.0.0.1:8080:80") == [PortMapping(hostIP: "127.0.0.1", hostPort: 8080, containerPort: 80)])
    #expect(try PortSpec.parse("0.0.0.0:8080:80") == [PortMapping(hostIP: "", hostPort: 8080, containerPort: 80)])
    #expect(try PortSpec.parse("8080:80/udp") == [PortMapping(hostPort: 8080, containerPort: 80, proto: "udp")])
    #expect(try PortSpec.parse("8000-8001:80-81") == [
      PortMapping(hostPort: 8000, containerPort: 80), PortMapping(hostPort: 8001, containerPort: 81),
    ])
  }

  @Test func emptyHostPortPicksAFreeOne() throws {
    let single = try PortSpec.parse("80")
    #expect(single.count == 1 && single[0].containerPort == 80 && single[0].hostPort > 0)
    let local = try PortSpec.parse("127.0.0.1::53/udp")
    #expect(local.count == 1 && local[0].hostIP == "127.0.0.1" && local[0].proto == "udp" && local[0].hostPort > 0)
    let many = try PortSpec.parse("80-99")
    #expect(many.map(\.containerPort) == Array(80...99))
    #expect(Set(many.map(\.hostPort)).count == 20 && !many.map(\.hostPort).contains(0), "distinct free ports")
    let ranged = try PortSpec.parse("40000-40100:80")
    #expect(ranged.count == 1 && (40000...40100).contains(ranged[0].hostPort))
  }

  @Test(arguments: [
    ("", "the container port is missing"),
    ("80/sctp", "the protocol must be tcp or udp"),
    ("1:2:3:4", "expected [ip:][hostPort:]containerPort"),
    ("99999:80", "invalid host port \"99999\""),
    ("8080:0", "invalid container port \"0\""),
    ("example:8080:80", "\"example\" is not an IPv4 address"),
    ("8000-8002:80-81", "the host range has 3 ports but the container range 2"),
    ("90-80:80-90", "invalid host port \"90-80\""),
  ])
  func refusesBadValues(text: String, message: String) {
    let error = #expect(throws: BerthError.self) { try PortSpec.parse(text) }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
    #expect(error?.message.contains("\"\(text)\"") == true, "the message names the value")
  }

  @Test func freePortIsBindable() throws {
    let port = try PortSpec.freeHostPort(proto: "tcp", hostIP: "127.0.0.1")
    #expect(PortSpec.isFree(port, proto: "tcp", hostIP: "127.0.0.1"))
  }
}
