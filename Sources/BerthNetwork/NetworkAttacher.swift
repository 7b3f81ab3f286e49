#if canImport(Glibc)
import Glibc
#endif
import BerthJSON
import BerthOS

/// Connects containers' network namespaces to networks with the CNI plugins: per container
/// only `bridge` (+ host-local), `portmap` when ports are published; the firewall is per
/// network (Firewall), installed once per boot.
public struct NetworkAttacher: Sendable {
  public let store: NetworkStore

  public init(store: NetworkStore) {
    self.store = store
  }

  /// Creates a new network namespace bound at runRoot/netns/<containerID> (loopback up) and
  /// returns its path.
  public func createNamespace(containerID: String) throws -> String {
    let path = namespacePath(containerID: containerID)
    try NetworkNamespace.create(at: path)
    return path
  }

  /// Unmounts and unlinks the namespace file; never throws, idempotent.
  public func removeNamespace(containerID: String) {
    NetworkNamespace.remove(at: namespacePath(containerID: containerID))
  }

  public func namespacePath(containerID: String) -> String {
    Path.join(store.runRoot, "netns", containerID)
  }

  /// CNI ADD for each request in order (eth0, eth1...), then the port mappings (on the first
  /// endpoint's network). On any failure undoes what it did.
  public func attach(
    containerID: String, containerName: String, netns: String, requests: [EndpointRequest], ports: [PortMapping]
  ) throws -> [Endpoint] {
    var endpoints: [Endpoint] = []
    var firstResult: JSONValue?
    var firstNetwork: NetworkDefinition?
    do {
      for (index, request) in requests.enumerated() {
        let network = try store.network(request.network)
        let (endpoint, result) = try add(containerID: containerID, netns: netns, network: network, request: request, interface: "eth\(index)")
        endpoints.append(endpoint)
        if index == 0 { firstResult = result; firstNetwork = network }
      }
      if !ports.isEmpty, let network = firstNetwork {
        try CNIPlugin(type: "portmap").run(
          .add, containerID: containerID, netns: netns, interface: "eth0",
          config: network.portmapConfig(ports: ports, prevResult: firstResult))
      }
    } catch {
      try? detach(containerID: containerID, netns: netns, endpoints: endpoints, ports: ports)
      throw error.berthPrefixed("connect container \(containerName) to its networks")
    }
    return endpoints
  }

  /// CNI DEL for each endpoint and its port mappings; works when the netns is already gone
  /// (after a reboot); never leaves rules behind; idempotent.
  public func detach(containerID: String, netns: String, endpoints: [Endpoint], ports: [PortMapping]) throws {
    let namespace = FS.exists(netns) ? netns : ""
    var failures: [String] = []
    if !ports.isEmpty, let first = endpoints.first {
      do {
        try CNIPlugin(type: "portmap").run(
          .del, containerID: containerID, netns: namespace, interface: first.interface,
          config: NetworkDefinition.portmapConfig(networkID: first.networkID, ports: ports, prevResult: nil))
      } catch {
        failures.append("\(error)")
      }
    }
    for endpoint in endpoints.reversed() {
      do { try delete(containerID: containerID, netns: namespace, endpoint: endpoint) } catch { failures.append("\(error)") }
    }
    if !failures.isEmpty {
      throw BerthError(.commandFailed, "disconnect container \(containerID.prefix(12)): " + failures.joined(separator: "; "))
    }
  }

  /// Adds one more network to a running container (`network connect`).
  public func connect(
    containerID: String, containerName: String, netns: String, request: EndpointRequest, existing: [Endpoint]
  ) throws -> Endpoint {
    let network = try store.network(request.network)
    if existing.contains(where: { $0.networkID == network.id }) {
      throw BerthError(.conflict, "endpoint with name \(containerName) already exists in network \(network.name)")
    }
    let used = Set(existing.map(\.interface))
    var index = 0
    while used.contains("eth\(index)") { index += 1 }
    do {
      return try add(containerID: containerID, netns: netns, network: network, request: request, interface: "eth\(index)").0
    } catch {
      throw error.berthPrefixed("connect container \(containerName) to network \(network.name)")
    }
  }

  /// Removes one network from a running container (`network disconnect`).
  public func disconnect(containerID: String, netns: String, endpoint: Endpoint) throws {
    try delete(containerID: containerID, netns: FS.exists(netns) ? netns : "", endpoint: endpoint)
  }

  // MARK: - One endpoint

  private func add(
    containerID: String, netns: String, network: NetworkDefinition, request: EndpointRequest, interface: String
  ) throws -> (Endpoint, JSONValue) {
    try prepare(network)
    if let ip = request.ip {
      guard let address = IPv4Address(ip), let subnet = try? IPv4Network.parse(network.subnet, what: "subnet"),
            subnet.contains(address)
      else {
        throw BerthError(.invalidArgument, "invalid IP address \(ip): it is not in the subnet \(network.subnet) of network \(network.name)")
      }
    }
    if let mac = request.mac { try NetworkAttacher.validateMAC(mac) }
    let config = try network.bridgeConfig(ipamDirectory: store.ipamDirectory, staticIP: request.ip, mac: request.mac)
    let result: JSONValue
    do {
      result = try CNIPlugin(type: "bridge").run(.add, containerID: containerID, netns: netns, interface: interface, config: config)
    } catch {
      // A failed ADD can leave its veth (IPAM refused after the link was made): DEL removes it.
      _ = try? CNIPlugin(type: "bridge").run(.del, containerID: containerID, netns: netns, interface: interface, config: config)
      throw error
    }
    let endpoint: Endpoint
    do {
      endpoint = try NetworkAttacher.endpoint(from: result, network: network, interface: interface, aliases: request.aliases)
      if let mac = request.mac, endpoint.mac.lowercased() != mac.lowercased() {
        throw BerthError(.unsupported, "the bridge CNI plugin ignored the MAC address \(mac) (gave \(endpoint.mac)); update containernetworking-plugins")
      }
    } catch {
      _ = try? CNIPlugin(type: "bridge").run(.del, containerID: containerID, netns: netns, interface: interface, config: config)
      throw error
    }
    return (endpoint, result)
  }

  private func delete(containerID: String, netns: String, endpoint: Endpoint) throws {
    // The network may be gone already (removed by force): nothing of it is left to free.
    guard let network = try? definition(of: endpoint) else { return }
    let config = try network.bridgeConfig(ipamDirectory: store.ipamDirectory, staticIP: nil, mac: nil)
    try CNIPlugin(type: "bridge").run(.del, containerID: containerID, netns: netns, interface: endpoint.interface, config: config)
  }

  private func definition(of endpoint: Endpoint) throws -> NetworkDefinition {
    try store.network(endpoint.networkID)
  }

  /// The network's firewall rules, once per boot: a marker in runRoot/networks/<id>/ holds
  /// the kernel's boot id, so a runRoot on a disk that survived a reboot does not fool it.
  func prepare(_ network: NetworkDefinition) throws {
    let marker = Path.join(store.runDirectory(network.id), "firewall")
    let boot = (try? FS.readText("/proc/sys/kernel/random/boot_id", trimmingNewline: true)) ?? ""
    if let seen = try? FS.readText(marker), seen == boot { return }
    try Firewall.ensure(network)
    try FS.makeDirectories(store.runDirectory(network.id), mode: 0o755)
    try FS.writeAtomically(marker, Array(boot.utf8))
  }

  /// The container's side of a CNI 1.0 result: the address on `interface` and its MAC.
  static func endpoint(from result: JSONValue, network: NetworkDefinition, interface: String, aliases: [String]) throws -> Endpoint {
    let interfaces = result["interfaces"]?.arrayValue ?? []
    let ips = result["ips"]?.arrayValue ?? []
    let chosen = ips.first { item in
      guard let index = item["interface"]?.numberValue?.integer(as: Int.self), index < interfaces.count else { return false }
      return interfaces[index]["name"]?.stringValue == interface
    } ?? ips.first
    guard let entry = chosen, let address = entry["address"]?.stringValue else {
      throw BerthError(.commandFailed, "the bridge CNI plugin returned no IP address for \(interface)")
    }
    let parts = address.split(separator: "/")
    guard parts.count == 2, let length = Int(parts[1]) else {
      throw BerthError(.commandFailed, "the bridge CNI plugin returned an unreadable address \(address)")
    }
    let mac = interfaces.first { $0["name"]?.stringValue == interface && $0["sandbox"] != nil }?["mac"]?.stringValue ?? ""
    return Endpoint(
      network: network.name, networkID: network.id, interface: interface, ip: String(parts[0]), prefixLength: length,
      gateway: entry["gateway"]?.stringValue ?? network.gateway, mac: mac, aliases: aliases, cniResult: result)
  }

  /// "02:42:ac:11:00:02": six hex pairs, unicast.
  static func validateMAC(_ mac: String) throws {
    let parts = mac.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 6, parts.allSatisfy({ $0.count == 2 && UInt8($0, radix: 16) != nil }),
          let first = UInt8(parts[0], radix: 16), first & 1 == 0
    else { throw BerthError(.invalidArgument, "invalid MAC address \(mac): expected six hex pairs such as 02:42:ac:11:00:02 (unicast)") }
  }
}

extension Error {
  /// A BerthError with `context` in front; other errors wrapped as internal ones.
  func berthPrefixed(_ context: String) -> BerthError {
    if let error = self as? BerthError { return error.prefixed(context) }
    return BerthError(.internalError, "\(context): \(self)")
  }
}
