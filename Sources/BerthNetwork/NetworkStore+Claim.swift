import BerthOS

extension NetworkStore {
  /// Serializes subnet choices across every engine root on the host: another root's network
  /// shows in the host's routes only once its bridge has an address, so the choice and the
  /// bridge's creation happen under one host-wide lock.
  static let hostClaimLock = "/run/berth-networks.lock"

  static func withHostClaim<T>(_ body: () throws -> T) throws -> T {
    try NetworkLock.withLock(hostClaimLock, body)
  }

  /// Makes the network's bridge with its gateway address (the bridge plugin finds and keeps
  /// both), so that the subnet is visible in the host's routes to the next chooser.
  static func claimBridge(_ network: NetworkDefinition) throws {
    guard let subnet = try? IPv4Network.parse(network.subnet, what: "subnet") else { return }
    let link = network.bridge
    if !FS.exists("/sys/class/net/" + link) {
      try ip(["link", "add", link, "type", "bridge"], doing: "create the bridge \(link)")
    }
    let address = "\(network.gateway)/\(subnet.prefixLength)"
    let shown = try Subprocess.run(Tools.ip, args: ["ip", "-4", "-o", "addr", "show", "dev", link])
    if !String(decoding: shown.output, as: UTF8.self).contains(" \(address) ") {
      try ip(["addr", "add", address, "dev", link], doing: "give the bridge \(link) the address \(address)")
    }
    try ip(["link", "set", link, "up"], doing: "bring the bridge \(link) up")
  }

  private static func ip(_ args: [String], doing what: String) throws {
    let result = try Subprocess.run(Tools.ip, args: ["ip"] + args)
    if result.status != .exited(0) {
      throw BerthError(.commandFailed, "\(what): \(String(decoding: result.error, as: UTF8.self).trimmingTrailingNewlines)")
    }
  }
}
