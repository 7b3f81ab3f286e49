import ArgumentParser
import BerthEngine
import BerthOS

/// `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published ports. Berth
/// publishes none until it has bridge networks, so the list is empty and any port asked
/// for is not published.
struct Port: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "port", abstract: "List port mappings or a specific mapping for the container.")
  @OptionGroup var global: GlobalOptions
  @Argument(help: "The container (name or ID).") var container: String
  @Argument(help: "PRIVATE_PORT[/PROTO]") var privatePort: String?

  func run() async throws {
    let engine = try global.engine()
    do {
      _ = try engine.containers.resolve(container)
    } catch let error as BerthError {
      throw CLIOutput.daemonError(error.message)
    }
    guard let privatePort else { return }
    let parts = privatePort.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    let proto = parts.count > 1 ? parts[1].lowercased() : "tcp"
    guard let number = Int(parts[0]), (1...65535).contains(number) else {
      throw CommandFailure(message: "invalid port number: \(parts[0])")
    }
    guard ["tcp", "udp", "sctp"].contains(proto) else {
      throw CommandFailure(message: "invalid proto: \(proto)")
    }
    throw CommandFailure(message: "No public port '\(number)/\(proto)' published for \(container)")
  }
}
