import ArgumentParser
import BerthEngine
import BerthNetwork
import BerthOS

/// `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published ports, as the
/// running container has them forwarded ("80/tcp -> 0.0.0.0:8080").
struct Port: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "port", abstract: "List port mappings or a specific mapping for the container.")
  @OptionGroup var global: GlobalOptions
  @Argument(help: "The container (name or ID).") var container: String
  @Argument(help: "PRIVATE_PORT[/PROTO]") var privatePort: String?

  func run() async throws {
    let engine = try global.engine()
    let record: ContainerRecord
    do {
      record = try engine.containers.resolve(container)
    } catch let error as BerthError {
      throw CLIOutput.daemonError(error.message)
    }
    let ports = engine.state(of: record.id).isRunning ? engine.networkState(of: record.id)?.ports ?? [] : []
    let sorted = ports.sorted { ($0.containerPort, $0.proto, $0.hostPort) < ($1.containerPort, $1.proto, $1.hostPort) }
    guard let privatePort else {
      for port in sorted { print("\(port.containerKey) -> \(Self.host(port))") }
      return
    }
    let parts = privatePort.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    let proto = parts.count > 1 ? parts[1].lowercased() : "tcp"
    guard let number = Int(parts[0]), (1...65535).contains(number) else {
      throw CommandFailure(message: "invalid port number: \(parts[0])")
    }
    guard ["tcp", "udp", "sctp"].contains(proto) else {
      throw CommandFailure(message: "invalid proto: \(proto)")
    }
    let matching = sorted.filter { Int($0.containerPort) == number && $0.proto == proto }
    if matching.isEmpty {
      throw CommandFailure(message: "No public port '\(number)/\(proto)' published for \(container)")
    }
    for port in matching { print(Self.host(port)) }
  }

  static func host(_ port: PortMapping) -> String {
    "\(port.shownHostIP):\(port.hostPort)"
  }
}
