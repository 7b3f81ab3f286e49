#if canImport(Glibc)
import Glibc
#endif
import BerthJSON
import BerthOS

/// The networks of one engine root: definitions in root/networks/<id>.json, host-local IPAM
/// state in root/networks/ipam/<id>/, per-boot state (firewall markers) in runRoot/networks/<id>/.
/// Parallel `berth` processes serialize changes with an flock on root/networks/.lock.
public final class NetworkStore: Sendable {
  public static let defaultNetworkName = "bridge"
  /// The Linux bridge of the default network of the standard root /var/lib/berth.
  public static let defaultBridgeName = "berth0"
  /// Names Docker reserves for its own network modes; `network create` refuses them.
  static let reservedNames: Set<String> = ["bridge", "host", "none", "default"]

  public let root: String
  public let runRoot: String

  public init(root: String, runRoot: String) {
    self.root = root
    self.runRoot = runRoot
  }

  var directory: String { Path.join(root, "networks") }
  var ipamDirectory: String { Path.join(root, "networks", "ipam") }
  var lockPath: String { Path.join(root, "networks", ".lock") }
  func definitionPath(_ id: String) -> String { Path.join(directory, id + ".json") }
  func runDirectory(_ id: String) -> String { Path.join(runRoot, "networks", id) }

  /// The default network's bridge: "berth0" for /var/lib/berth; other roots (tests,
  /// benchmarks) get their own "berth<8 hex>" so that two roots never share a bridge whose
  /// addresses two IPAM directories would hand out twice.
  public var defaultBridge: String {
    if Path.clean(root) == "/var/lib/berth" { return NetworkStore.defaultBridgeName }
    var hash: UInt32 = 2_166_136_261  // FNV-1a
    for byte in Path.clean(root).utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
    let hex = String(hash, radix: 16)
    return "berth" + String(repeating: "0", count: 8 - hex.count) + hex
  }

  /// Every network, the default "bridge" included (created on first use), by creation order.
  public func list() throws -> [NetworkDefinition] {
    var networks = try stored()
    if !networks.contains(where: \.isDefault) { networks.insert(try defaultNetwork(), at: 0) }
    return networks
  }

  /// By name, full id or unique id prefix.
  public func network(_ nameOrID: String) throws -> NetworkDefinition {
    if nameOrID == NetworkStore.defaultNetworkName { return try defaultNetwork() }
    let networks = try stored()
    if let match = networks.first(where: { $0.name == nameOrID || $0.id == nameOrID }) { return match }
    let prefixed = nameOrID.isEmpty ? [] : networks.filter { $0.id.hasPrefix(nameOrID) }
    if prefixed.count == 1 { return prefixed[0] }
    if prefixed.count > 1 {
      throw BerthError(.invalidArgument, "network \(nameOrID) is ambiguous (\(prefixed.count) matches); give more of its id")
    }
    throw BerthError(.notFound, "network \(nameOrID) not found")
  }

  /// The default network "bridge", created on first use: 10.88.0.0/16 unless that overlaps a
  /// host route or address (podman's cni-podman0 uses it), then 10.89.0.0/16, 10.90.0.0/16...
  public func defaultNetwork() throws -> NetworkDefinition {
    if let existing = try stored().first(where: \.isDefault) { return existing }
    return try NetworkLock.withLock(lockPath) { try NetworkStore.withHostClaim {
      let networks = try stored()
      if let existing = networks.first(where: \.isDefault) { return existing }
      let bridge = defaultBridge
      let routes = HostRoutes.current()
      var chosen: IPv4Network?
      for second in 88...254 {
        let candidate = IPv4Network(address: IPv4Address(UInt32(10) << 24 | UInt32(second) << 16), prefixLength: 16)
        if routes.conflict(with: candidate, ignoring: bridge) == nil,
           !networks.contains(where: { (try? IPv4Network.parse($0.subnet, what: "subnet"))?.overlaps(candidate) ?? false }) {
          chosen = candidate
          break
        }
      }
      guard let subnet = chosen else {
        throw BerthError(.unsupported, "no free /16 in 10.88.0.0-10.254.0.0 for the default network; remove unused routes or networks")
      }
      let definition = NetworkDefinition(
        name: NetworkStore.defaultNetworkName, id: NetworkStore.randomID(), bridge: bridge,
        subnet: subnet.description, gateway: IPv4Address(subnet.address.value + 1).description,
        created: Clock.rfc3339Now(), dnsEnabled: false)
      try NetworkStore.claimBridge(definition)
      try save(definition)
      return definition
    } }
  }

  /// The definitions on disk, oldest first.
  func stored() throws -> [NetworkDefinition] {
    guard FS.isDirectory(directory) else { return [] }
    var networks: [NetworkDefinition] = []
    for entry in try FS.list(directory) where entry.hasSuffix(".json") && !entry.hasPrefix(".") {
      let path = Path.join(directory, entry)
      guard let bytes = try? FS.read(path) else { continue }  // removed meanwhile
      do {
        networks.append(try JSON.decode(NetworkDefinition.self, from: bytes))
      } catch {
        throw BerthError(.invalidState, "network file \(path) is damaged (\(error)); remove it")
      }
    }
    return networks.sorted { ($0.created, $0.name) < ($1.created, $1.name) }
  }

  func save(_ definition: NetworkDefinition) throws {
    try FS.makeDirectories(directory, mode: 0o700)
    try FS.writeAtomically(
      definitionPath(definition.id), try JSON.encode(definition, options: [.prettyPrinted, .sortedKeys]), mode: 0o600)
  }

  static func randomID() -> String {
    var id = ""
    for _ in 0..<4 {
      let hex = String(UInt64.random(in: 0...UInt64.max), radix: 16)
      id += String(repeating: "0", count: 16 - hex.count) + hex
    }
    return id
  }
}
