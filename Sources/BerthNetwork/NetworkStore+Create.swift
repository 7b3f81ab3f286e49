import BerthOS

extension NetworkStore {
  /// Validates and records a new network and makes its bridge (so other roots see the subnet
  /// taken); its firewall rules appear on first attach.
  public func create(_ request: NetworkCreateRequest) throws -> NetworkDefinition {
    try NetworkStore.validateName(request.name)
    if NetworkStore.reservedNames.contains(request.name) {
      throw BerthError(.conflict, "network with name \(request.name) already exists (a pre-defined network)")
    }
    if let bridge = request.bridge { try NetworkStore.validateBridgeName(bridge) }
    // Parse before taking the lock: a bad flag needs no disk.
    let asked = try request.subnet.map { try IPv4Network.parse($0, what: "subnet") }
    if request.subnet == nil && (request.gateway != nil || request.ipRange != nil) {
      throw BerthError(.invalidArgument, "--gateway and --ip-range need --subnet")
    }
    return try NetworkLock.withLock(lockPath) { try NetworkStore.withHostClaim {
      let networks = try stored()
      if networks.contains(where: { $0.name == request.name }) {
        throw BerthError(.conflict, "network with name \(request.name) already exists")
      }
      let id = NetworkStore.randomID()
      let bridge = request.bridge ?? "br-" + id.prefix(12)
      if networks.contains(where: { $0.bridge == bridge }) || bridge == defaultBridge {
        throw BerthError(.conflict, "bridge \(bridge) is used by another network")
      }
      if FS.exists("/sys/class/net/" + bridge) && !FS.exists("/sys/class/net/\(bridge)/bridge") {
        throw BerthError(.conflict, "\(bridge) is a host interface that is not a bridge; choose another bridge name")
      }
      let others = networks.compactMap { network in
        (try? IPv4Network.parse(network.subnet, what: "subnet")).map { (network.name, $0) }
      }
      let routes = HostRoutes.current()
      let subnet: IPv4Network
      if let asked {
        guard asked.prefixLength <= 30 else {
          throw BerthError(.invalidArgument, "subnet \(asked) is too small: use a prefix length of 30 or less")
        }
        if let other = others.first(where: { $0.1.overlaps(asked) }) {
          throw BerthError(.conflict, "subnet \(asked) overlaps \(other.1) of network \(other.0); choose another --subnet")
        }
        if let route = routes.conflict(with: asked, ignoring: bridge) {
          throw BerthError(
            .conflict, "subnet \(asked) overlaps \(route.network) on the host's interface \(route.interface); choose another --subnet")
        }
        subnet = asked
      } else {
        subnet = try NetworkStore.freeSubnet(routes: routes, taken: others.map(\.1), bridge: bridge)
      }
      let gateway = try NetworkStore.gateway(request.gateway, in: subnet)
      let ipRange = try request.ipRange.map { try NetworkStore.ipRange($0, in: subnet) }
      let definition = NetworkDefinition(
        name: request.name, id: id, bridge: bridge, subnet: subnet.description, gateway: gateway.description,
        ipRange: ipRange?.description, internal: request.internal, labels: request.labels,
        created: Clock.rfc3339Now(), dnsEnabled: true)
      try NetworkStore.claimBridge(definition)
      do { try save(definition) } catch {
        try? NetworkStore.deleteLink(bridge)
        throw error
      }
      return definition
    } }
  }

  /// Docker's rule: a letter or digit, then letters, digits, "_", "." or "-".
  static func validateName(_ name: String) throws {
    let bytes = Array(name.utf8)
    func allowed(_ byte: UInt8, first: Bool) -> Bool {
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
      case UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"): return !first
      default: return false
      }
    }
    guard let head = bytes.first, allowed(head, first: true), bytes.dropFirst().allSatisfy({ allowed($0, first: false) }),
          bytes.count <= 128
    else {
      throw BerthError(
        .invalidArgument,
        "invalid network name \(quoted(name)): use up to 128 letters, digits, '_', '.' or '-', starting with a letter or digit")
    }
  }

  /// Linux interface names: 1-15 bytes, no "/", ":" or white space.
  static func validateBridgeName(_ name: String) throws {
    guard (1...15).contains(name.utf8.count),
          !name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }), name != ".", name != ".."
    else { throw BerthError(.invalidArgument, "invalid bridge name \(quoted(name)): use 1 to 15 characters without '/', ':' or spaces") }
  }

  /// The first 10.89.x.0/24 ... 10.254.x.0/24 that overlaps neither the host nor a network.
  static func freeSubnet(routes: HostRoutes, taken: [IPv4Network], bridge: String) throws -> IPv4Network {
    for second in UInt32(89)...254 {
      for third in UInt32(0)...255 {
        let candidate = IPv4Network(address: IPv4Address(10 << 24 | second << 16 | third << 8), prefixLength: 24)
        if !taken.contains(where: { $0.overlaps(candidate) }), routes.conflict(with: candidate, ignoring: bridge) == nil {
          return candidate
        }
      }
    }
    throw BerthError(.unsupported, "no free /24 subnet left in 10.89.0.0-10.254.255.0; pass --subnet")
  }

  static func gateway(_ text: String?, in subnet: IPv4Network) throws -> IPv4Address {
    guard let text else { return IPv4Address(subnet.address.value + 1) }
    guard let gateway = IPv4Address(text) else {
      throw BerthError(.invalidArgument, "invalid gateway \(quoted(text)): expected an IPv4 address such as 10.89.1.1")
    }
    guard subnet.contains(gateway), gateway != subnet.first, gateway != subnet.last else {
      throw BerthError(.invalidArgument, "gateway \(gateway) is not a host address of subnet \(subnet)")
    }
    return gateway
  }

  static func ipRange(_ text: String, in subnet: IPv4Network) throws -> IPv4Network {
    let range = try IPv4Network.parse(text, what: "ip-range")
    guard subnet.contains(range) else {
      throw BerthError(.invalidArgument, "ip-range \(range) is not inside subnet \(subnet)")
    }
    return range
  }
}
