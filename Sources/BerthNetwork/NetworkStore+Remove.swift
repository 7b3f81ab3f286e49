#if canImport(Glibc)
import Glibc
#endif
import BerthOS

extension NetworkStore {
  /// Removes a network's bridge, firewall rules, IPAM state and definition. The caller checks
  /// that no container uses it. The default network cannot be removed.
  public func remove(_ nameOrID: String) throws {
    let network = try network(nameOrID)
    if network.isDefault {
      throw BerthError(.invalidState, "\(network.name) is a pre-defined network and cannot be removed")
    }
    try NetworkLock.withLock(lockPath) { try destroy(network) }
  }

  /// Removes every network of this root, the default one included: for test sandboxes and
  /// resets. Containers must be gone.
  public func removeAll() throws {
    try NetworkLock.withLock(lockPath) {
      for network in try stored() { try destroy(network) }
    }
  }

  /// The host side first, the definition last: a failure leaves a definition to retry with.
  private func destroy(_ network: NetworkDefinition) throws {
    try Firewall.remove(network)
    try NetworkStore.deleteLink(network.bridge)
    try? FS.removeTree(Path.join(ipamDirectory, network.id))
    try? FS.removeTree(runDirectory(network.id))
    if unlink(definitionPath(network.id)) != 0 && errno != ENOENT {
      throw BerthError.system("remove \(definitionPath(network.id))")
    }
  }

  /// `ip link delete`; a missing link is fine.
  static func deleteLink(_ name: String) throws {
    guard FS.exists("/sys/class/net/" + name) else { return }
    let result = try Subprocess.run(Tools.ip, args: ["ip", "link", "delete", name])
    if result.status != .exited(0) && FS.exists("/sys/class/net/" + name) {
      throw BerthError(
        .commandFailed, "delete the bridge \(name): \(String(decoding: result.error, as: UTF8.self).trimmingTrailingNewlines)")
    }
  }
}
