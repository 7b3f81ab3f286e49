import BerthJSON
import BerthNetwork
import BerthOS
import Foundation
import Testing

@testable import BerthEngine

/// The network flags as the parser reads them, and the /etc files built from endpoints:
/// no containers needed.
@Suite("network flags and /etc files")
struct NetworkOptionsTests {
  func parse(_ configure: (inout ContainerFlagValues) -> Void) throws -> ContainerOptions {
    var flags = ContainerFlagValues()
    configure(&flags)
    return try ContainerOptions.parse(flags, image: "busybox")
  }

  func message(_ configure: (inout ContainerFlagValues) -> Void) -> String? {
    do {
      _ = try parse(configure)
      return nil
    } catch {
      return (error as? BerthError)?.message ?? "\(error)"
    }
  }

  @Test("the default is the bridge; user networks in order, the first carries --ip, --mac-address and aliases")
  func networks() throws {
    let plain = try parse { _ in }
    #expect(plain.networkMode == "bridge" && plain.networks == [EndpointRequest(network: "bridge")])
    let user = try parse {
      $0.networks = ["front", "back"]
      $0.ip = "10.9.0.5"
      $0.macAddress = "02:42:AC:11:00:02"
      $0.networkAliases = ["web"]
    }
    #expect(user.networkMode == "front")
    #expect(user.networks == [
      EndpointRequest(network: "front", ip: "10.9.0.5", mac: "02:42:ac:11:00:02", aliases: ["web"]),
      EndpointRequest(network: "back"),
    ])
    #expect(try parse { $0.networks = ["none"] }.networks.isEmpty)
    #expect(try parse { $0.networks = ["host"]; $0.publish = ["80:80"] }.publish.isEmpty)
    #expect(try parse { $0.networks = ["default"] }.networkMode == "bridge")
    #expect(message { $0.networks = ["a", "a"] } == "network \"a\" is specified multiple times")
    #expect(message { $0.networks = ["container:"] } == "invalid container format container:<name|id>")
    #expect(message { $0.ip = "10.1.1" } == "invalid IPv4 address: 10.1.1")
    #expect(message { $0.networks = ["container:x"]; $0.dns = ["1.1.1.1"] } == "conflicting options: dns and the network mode")
    #expect(message { $0.networks = ["container:x"]; $0.addHosts = ["a:1.2.3.4"] }
      == "conflicting options: custom host-to-IP mapping and the network mode")
  }

  @Test("records written before networks join the bridge they name")
  func lenientDecoding() throws {
    let old = #"{"image":"busybox","networkMode":"bridge","networkNote":"loopback only"}"#
    let decoded = try JSON.decode(ContainerOptions.self, from: Array(old.utf8))
    #expect(decoded.networks == [EndpointRequest(network: "bridge")])
    let none = try JSON.decode(ContainerOptions.self, from: Array(#"{"image":"busybox","networkMode":"none"}"#.utf8))
    #expect(none.networks.isEmpty && none.publish.isEmpty && none.dns.isEmpty)
  }

  @Test("--expose ranges, --add-host forms, -p through PortSpec")
  func values() throws {
    #expect(try ContainerOptions.exposedPorts("80") == ["80/tcp"])
    #expect(try ContainerOptions.exposedPorts("7000-7002/udp") == ["7000/udp", "7001/udp", "7002/udp"])
    #expect(message { $0.expose = ["90-80"] } == "invalid range format for --expose: 90-80, error: invalid end port '80'")
    #expect(ContainerOptions.splitExtraHost("db:10.0.0.1") == ("db", "10.0.0.1"))
    #expect(ContainerOptions.splitExtraHost("db=10.0.0.1") == ("db", "10.0.0.1"))
    #expect(ContainerOptions.splitExtraHost("v6:[::1]") == ("v6", "::1"))
    let published = try parse { $0.publish = ["127.0.0.1:8080:80/udp"] }.publish
    #expect(published == [PortMapping(hostIP: "127.0.0.1", hostPort: 8080, containerPort: 80, proto: "udp")])
  }

  @Test("/etc/hosts: localhost, extra hosts, then the container's address with hostname and name")
  func hosts() {
    let text = EtcFiles.hosts(
      hostname: "box", domainname: "example.test", name: "web", networkMode: "front", address: "10.9.0.5",
      extraHosts: [("db", "10.0.0.1")])
    #expect(text == EtcFiles.localhostLines + "10.0.0.1\tdb\n10.9.0.5\tbox.example.test box web\n")
    #expect(EtcFiles.hosts(hostname: "box", domainname: nil, name: "", networkMode: "none", address: nil, extraHosts: [])
      == EtcFiles.localhostLines)
  }

  @Test("/etc/resolv.conf: the network's DNS server, the host's without loopback, or the flags")
  func resolvConf() throws {
    let host = try FS.readText("/etc/resolv.conf")
    let onNetwork = EtcFiles.resolvConf(networkMode: "front", dnsServer: "10.9.0.1", dns: [], search: [], options: [])
    #expect(onNetwork.hasPrefix("nameserver 10.9.0.1\n") && onNetwork.components(separatedBy: "nameserver").count == 2)
    let bridge = EtcFiles.resolvConf(networkMode: "bridge", dnsServer: nil, dns: [], search: [], options: [])
    #expect(!bridge.contains("nameserver 127.") && bridge.contains("nameserver "), "\(bridge)")
    #expect(EtcFiles.resolvConf(networkMode: "host", dnsServer: nil, dns: [], search: [], options: []) == host)
    // On a network with DNS, --dns servers are where its server forwards: it stays the nameserver.
    let flags = EtcFiles.resolvConf(networkMode: "front", dnsServer: "10.9.0.1", dns: ["192.0.2.1"], search: ["."], options: ["ndots:1"])
    #expect(flags == "nameserver 10.9.0.1\noptions ndots:1\n# ExtServers: [192.0.2.1]\n")
    // Without one (the default bridge, host mode), --dns replaces the servers.
    let bridgeFlags = EtcFiles.resolvConf(networkMode: "bridge", dnsServer: nil, dns: ["192.0.2.1", "192.0.2.2"], search: ["."], options: [])
    #expect(bridgeFlags.hasPrefix("nameserver 192.0.2.1\nnameserver 192.0.2.2\n") && !bridgeFlags.contains("ExtServers"), "\(bridgeFlags)")
    let hostFlags = EtcFiles.resolvConf(networkMode: "host", dnsServer: nil, dns: ["192.0.2.1"], search: [], options: [])
    #expect(hostFlags.hasPrefix("nameserver 192.0.2.1\n") && hostFlags.components(separatedBy: "nameserver").count == 2, "\(hostFlags)")
  }

  @Test("--ip must be inside the network's subnet (or ip-range)")
  func subnetContains() {
    #expect(ContainerEngine.subnet("10.9.0.0/24", contains: "10.9.0.77"))
    #expect(!ContainerEngine.subnet("10.9.0.0/24", contains: "10.9.1.77"))
    #expect(ContainerEngine.subnet("10.9.0.128/25", contains: "10.9.0.200"))
    #expect(!ContainerEngine.subnet("10.9.0.128/25", contains: "10.9.0.100"))
    #expect(!ContainerEngine.subnet("bad", contains: "10.9.0.1"))
  }
}
