import ArgumentParser
import BerthNetwork

/// `berth dns-server --network-id ID --listen IP --runroot DIR` (hidden): the embedded DNS
/// server of one network, started detached by `DNSServerControl.ensureRunning`.
struct DNSServerCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dns-server", abstract: "Serve the DNS names of one network's containers.", shouldDisplay: false)

  @Option(name: .customLong("network-id"), help: "The network's ID.") var networkID: String
  @Option(name: .customLong("listen"), help: "The address to listen on (the network's gateway).") var listen: String
  @Option(name: .customLong("port"), help: "The UDP and TCP port.") var port: Int = 53
  @Option(name: .customLong("runroot"), help: "Berth's runtime state directory.") var runRoot: String
  @Option(name: .customLong("ready-fd"), help: "A descriptor to write \"ready\" to once listening.") var readyFD: Int32?
  @Option(name: .customLong("idle-exit"), help: "Seconds without containers before the server exits (0: never).")
  var idleExit: Int = 30

  func run() async throws {
    let configuration = DNSServerConfiguration(
      networkID: networkID, listenAddress: listen, port: port, runRoot: runRoot,
      idleExitSeconds: idleExit > 0 ? idleExit : nil)
    try await DNSServer.serve(configuration, readyFD: readyFD)
  }
}
