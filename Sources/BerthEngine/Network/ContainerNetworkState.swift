#if canImport(Glibc)
import Glibc
#endif
import BerthJSON
import BerthNetwork
import BerthOS

/// What a container's network namespace is joined to: containers/<id>/network.json. It lives
/// on the disk, not the run root, so that after a reboot (netns gone, run root cleared) the
/// engine still knows which addresses and port forwards to release.
public struct ContainerNetworkState: Codable, Sendable, Equatable {
  /// The namespace file (runRoot/netns/<id>) the endpoints were made in.
  public var netns: String
  /// One per network, in interface order (eth0 first).
  public var endpoints: [Endpoint]
  /// The published ports as forwarded (host ports chosen).
  public var ports: [PortMapping]
  /// True while the attach runs: the endpoints are what it will make (network ID and
  /// interface, no address yet), enough for a CNI DEL to free an address or rule if the
  /// attaching process dies. Such a state is released, never reused.
  public var pending: Bool?

  public init(netns: String, endpoints: [Endpoint], ports: [PortMapping], pending: Bool? = nil) {
    self.netns = netns
    self.endpoints = endpoints
    self.ports = ports
    self.pending = pending
  }

  static func path(_ layout: EngineLayout, _ id: String) -> String { layout.container(id) + "/network.json" }

  /// The saved state; nil when the container has none (never started, or released).
  static func load(_ layout: EngineLayout, _ id: String) -> ContainerNetworkState? {
    guard let bytes = try? FS.read(path(layout, id)) else { return nil }
    return try? JSON.decode(ContainerNetworkState.self, from: bytes)
  }

  func save(_ layout: EngineLayout, _ id: String) throws {
    try FS.writeAtomically(Self.path(layout, id), try JSON.encode(self), mode: 0o600)
  }

  static func delete(_ layout: EngineLayout, _ id: String) {
    unlink(path(layout, id))
  }

  /// Whether `path` is a bound network namespace (nsfs), not a plain file a crash left.
  static func isNamespace(_ path: String) -> Bool {
    // A bound namespace lives on nsfs, the device every /proc/PID/ns/* link resolves to.
    var file = stat()
    var own = stat()
    guard stat(path, &file) == 0, stat("/proc/self/ns/net", &own) == 0 else { return false }
    return file.st_dev == own.st_dev
  }
}

extension PortMapping {
  /// Docker's "80/tcp".
  public var containerKey: String { "\(containerPort)/\(proto)" }
  /// The host side as Docker shows it: "0.0.0.0" for all addresses.
  public var shownHostIP: String { hostIP.isEmpty ? "0.0.0.0" : hostIP }
}

/// A stable 64-hex identifier made from words (endpoint IDs, the IDs of the pre-defined
/// networks host and none): FNV-1a with four seeds, so every berth process derives the same.
enum StableID {
  static func make(_ words: String...) -> String {
    let text = words.joined(separator: "\u{0}")
    var result = ""
    for seed: UInt64 in [0xcbf2_9ce4_8422_2325, 0x84222325cbf29ce4, 0x9ce484222325cbf2, 0x2325cbf29ce48422] {
      var hash = seed
      for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
      }
      let hex = String(hash, radix: 16)
      result += String(repeating: "0", count: 16 - hex.count) + hex
    }
    return result
  }
}

extension ContainerEngine {
  /// The container's endpoints and forwarded ports; nil when it has none now.
  public func networkState(of id: String) -> ContainerNetworkState? { ContainerNetworkState.load(layout, id) }
}
