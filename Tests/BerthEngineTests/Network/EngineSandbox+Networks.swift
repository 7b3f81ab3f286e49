import BerthNetwork
import BerthOS
import Foundation

/// What a sandbox's containers can leave on the host's networks, and the removal of the
/// sandbox's networks (the default "bridge" too: its Linux bridge and firewall rules are the
/// host's, not the sandbox directory's).
extension EngineSandbox {
  var networkStore: NetworkStore { NetworkStore(root: root, runRoot: runRoot) }

  /// Interfaces (the containers' veths) still on the sandbox's bridges, IPAM entries,
  /// iptables rules naming one of `ids`, network namespaces under the run root.
  func networkLeftovers(_ ids: Set<String>) -> [String] {
    var found: [String] = []
    let definitions = (try? FS.list(root + "/networks"))?.filter { $0.hasSuffix(".json") } ?? []
    for file in definitions {
      guard let text = try? FS.readText(root + "/networks/" + file),
        let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
        let bridge = object["bridge"] as? String, let id = object["id"] as? String
      else { continue }
      for port in (try? FS.list("/sys/class/net/\(bridge)/brif")) ?? [] { found.append("interface \(port) on bridge \(bridge)") }
      let ipam = root + "/networks/ipam/" + id
      for entry in (try? FS.list(ipam)) ?? [] where entry != "lock" && !entry.hasPrefix("last_reserved_ip") {
        found.append("IPAM entry \(ipam)/\(entry)")
      }
    }
    for name in (try? FS.list(runRoot + "/netns")) ?? [] { found.append("netns file \(runRoot)/netns/\(name)") }
    if !ids.isEmpty, !definitions.isEmpty, let rules = try? Subprocess.run("/usr/sbin/iptables-save", args: ["iptables-save"]) {
      for line in String(decoding: rules.output, as: UTF8.self).split(separator: "\n") {
        if let id = ids.first(where: { line.contains($0) }) { found.append("iptables rule of \(id.prefix(12)): \(line)") }
      }
    }
    return found
  }

  /// Removes every network of the sandbox (bridges, firewall chains, IPAM state).
  func removeNetworks() {
    guard FS.isDirectory(root + "/networks") else { return }
    do { try networkStore.removeAll() } catch { print("removing the sandbox's networks: \(error)") }
  }
}
