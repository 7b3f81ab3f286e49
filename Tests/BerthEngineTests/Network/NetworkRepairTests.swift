import BerthNetwork
import BerthOS
import Foundation
import Testing

/// A stopped container's kept network is checked (CNI CHECK) at the next start and made
/// again when someone broke it meanwhile: end to end through the `berth` binary.
@Suite("network repair in the engine", .engineSandbox, .serialized)
struct NetworkRepairTests {
  @Test("start after the host-side veth was deleted: the network is attached again and a peer answers")
  func vethDeletedWhileStopped() async throws {
    try await NetworkTestSupport.withSandbox { sandbox in
      let network = NetworkTestSupport.name("repair")
      let networkID = try await sandbox.createNetwork(network, subnet: try NetworkTestSupport.freeSubnet())
      let bridge = try Self.bridge(of: networkID, root: sandbox.root)
      let address = "{{.NetworkSettings.Networks.\(network).IPAddress}}"
      try await sandbox.runDetached(["--name", "peer", "--network", network, "busybox", "sleep", "3600"])
      let id = try await sandbox.runDetached(["--name", "box", "--network", network, "busybox", "sleep", "3600"])
      let peerIP = try await sandbox.field("peer", address)
      let ping = try await sandbox.run("exec", "box", "ping", "-c1", "-W2", peerIP)
      #expect(ping.code == 0, "before: \(ping)")

      try await sandbox.ok("stop", "-t", "1", "box")
      let netns = sandbox.runRoot + "/netns/" + id
      #expect(FS.exists(netns), "stop keeps the network namespace")
      let veth = try Self.hostVeth(of: netns, bridge: bridge)
      let deleted = try Subprocess.run("/usr/sbin/ip", args: ["ip", "link", "delete", veth])
      #expect(deleted.status == .exited(0), "\(String(decoding: deleted.error, as: UTF8.self))")
      #expect(Self.ports(of: bridge).count == 1)

      let started = try await sandbox.run("start", "box")
      #expect(started.code == 0 && started.stderr.isEmpty, "\(started)")
      let repaired = try await sandbox.run("exec", "box", "ping", "-c1", "-W2", peerIP)
      #expect(repaired.code == 0, "after the repair: \(repaired)")
      // One veth per container again, one lease each: the broken endpoint was released.
      #expect(Self.ports(of: bridge).count == 2, "\(Self.ports(of: bridge))")
      let boxIP = try await sandbox.field("box", address)
      let leases = try FS.list(sandbox.root + "/networks/ipam/" + networkID).filter { $0.hasPrefix("10.") }.sorted()
      #expect(leases == [boxIP, peerIP].sorted(), "\(leases)")
      let hosts = try await sandbox.ok("exec", "box", "cat", "/etc/hosts").stdout
      #expect(hosts.contains(boxIP + "\t") || hosts.contains(boxIP + " "), "\(hosts)")

      // A healthy kept network passes the check and keeps its address.
      try await sandbox.ok("stop", "-t", "1", "box")
      try await sandbox.ok("start", "box")
      #expect(try await sandbox.field("box", address) == boxIP)
      try await sandbox.ok("rm", "-f", "box", "peer")
    }
  }

  /// The bridge's ports (its enslaved interfaces: the containers' host-side veths).
  static func ports(of bridge: String) -> [String] { (try? FS.list("/sys/class/net/\(bridge)/brif")) ?? [] }

  /// The Linux bridge of a network, from its definition.
  static func bridge(of networkID: String, root: String) throws -> String {
    let text = try FS.readText(root + "/networks/" + networkID + ".json")
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    guard let bridge = object?["bridge"] as? String else { throw BerthError(.notFound, "no bridge in network \(networkID)") }
    return bridge
  }

  /// The host side of the namespace's eth0: `ip link` in the namespace shows "eth0@ifN", N
  /// being the host veth's index; the bridge's port with that index.
  static func hostVeth(of netns: String, bridge: String) throws -> String {
    let shown = try Subprocess.run("/usr/bin/nsenter", args: ["nsenter", "--net=" + netns, "/usr/sbin/ip", "-o", "link", "show", "eth0"])
    let text = String(decoding: shown.output, as: UTF8.self)
    guard let range = text.range(of: "eth0@if"), let index = Int(text[range.upperBound...].prefix { $0.isNumber }) else {
      throw BerthError(.notFound, "no eth0 peer in: \(text)")
    }
    for port in Self.ports(of: bridge)
    where (try? FS.readText("/sys/class/net/\(port)/ifindex", trimmingNewline: true)) == String(index) {
      return port
    }
    throw BerthError(.notFound, "no port of \(bridge) with index \(index)")
  }
}
