#if canImport(Glibc)
import Glibc
#endif
import BerthJSON
import BerthNetwork
import BerthOS

/// One network as `network ls` and `network inspect` show it: a bridge network of the store,
/// or one of Docker's pre-defined "host" and "none".
public struct NetworkEntry: Sendable {
  public var name: String
  public var id: String
  /// "bridge", "host" or "null" (Docker's driver names).
  public var driver: String
  /// nil for host and none.
  public var definition: NetworkDefinition?

  public var labels: [String: String] { definition?.labels ?? [:] }
  public var isPredefined: Bool { definition?.isDefault ?? true }

  /// A `label=KEY` or `label=KEY=VALUE` filter.
  public func hasLabel(_ filter: String) -> Bool { VolumeFilters.hasLabel(filter, labels) }
}

/// A container's endpoint on a network (`network inspect`'s Containers).
public struct NetworkMember: Sendable {
  public var containerID: String
  public var containerName: String
  public var endpoint: Endpoint
  public var endpointID: String { StableID.make(containerID, endpoint.networkID) }
}

extension ContainerEngine {
  /// Docker's pre-defined networks that are not bridges: they have no definition.
  static let hostNetworks = [("host", "host"), ("none", "null")]

  /// Every network: the store's (the default "bridge" included, made on first use), then host
  /// and none.
  public func listNetworks() throws -> [NetworkEntry] {
    var result = try networks.list().map { NetworkEntry(name: $0.name, id: $0.id, driver: $0.driver, definition: $0) }
    for (name, driver) in Self.hostNetworks {
      result.append(NetworkEntry(name: name, id: StableID.make(layout.root, name), driver: driver, definition: nil))
    }
    return result
  }

  /// A network by name, ID or unique ID prefix.
  public func network(_ nameOrID: String) throws -> NetworkEntry {
    for (name, driver) in Self.hostNetworks {
      let id = StableID.make(layout.root, name)
      if nameOrID == name || nameOrID == id { return NetworkEntry(name: name, id: id, driver: driver, definition: nil) }
    }
    let definition = try networks.network(nameOrID)
    return NetworkEntry(name: definition.name, id: definition.id, driver: definition.driver, definition: definition)
  }

  /// `network create`: Docker refuses the names of the pre-defined networks.
  public func createNetwork(_ request: NetworkCreateRequest) throws -> NetworkDefinition {
    if ["bridge", "host", "none", "default"].contains(request.name) {
      throw BerthError(.invalidArgument, "operation is not permitted on predefined \(request.name) network ")
    }
    return try networks.create(request)
  }

  /// The endpoints of every container, by network ID (from each container's network.json).
  public func networkMembers() throws -> [String: [NetworkMember]] {
    var result: [String: [NetworkMember]] = [:]
    for record in try containers.all() {
      guard let state = ContainerNetworkState.load(layout, record.id) else { continue }
      for endpoint in state.endpoints {
        result[endpoint.networkID, default: []].append(
          NetworkMember(containerID: record.id, containerName: record.name, endpoint: endpoint))
      }
    }
    return result
  }

  /// `network rm`: refused while a container has an endpoint on it (running, or stopped with
  /// its namespace kept); the pre-defined networks stay.
  public func removeNetwork(_ nameOrID: String) throws -> NetworkEntry {
    let entry = try network(nameOrID)
    guard let definition = entry.definition, !definition.isDefault else {
      throw BerthError(.invalidState, "\(entry.name) is a pre-defined network and cannot be removed")
    }
    if let members = try networkMembers()[definition.id], !members.isEmpty {
      throw BerthError(.invalidState, "error while removing network: network \(definition.name) id \(definition.id) has active endpoints")
    }
    DNSServerControl.stop(networkID: definition.id, runRoot: layout.runRoot)
    // The store's removal takes the run directory (DNS records, firewall marker) too.
    try networks.remove(definition.id)
    return entry
  }

  /// `network prune`: user networks no container refers to (none has an endpoint on it or
  /// names it in its configuration). Returns the removed names.
  public func pruneNetworks(labelFilters: [String] = []) throws -> [String] {
    let members = try networkMembers()
    var named = Set<String>()
    for record in try containers.all() {
      for request in record.options.networks { named.insert(request.network) }
    }
    var removed: [String] = []
    for definition in try networks.list() where !definition.isDefault {
      if !(members[definition.id] ?? []).isEmpty || named.contains(definition.name) || named.contains(definition.id) { continue }
      if !labelFilters.allSatisfy({ VolumeFilters.hasLabel($0, definition.labels) }) { continue }
      do {
        _ = try removeNetwork(definition.id)
        removed.append(definition.name)
      } catch let error as BerthError where error.code == .invalidState || error.code == .notFound {
        continue  // taken or removed meanwhile
      }
    }
    return removed
  }

  /// Leftovers of containers that no longer exist (a crash between steps of rm, a store
  /// copied without its containers): addresses host-local still reserves for them (and their
  /// veths), network namespaces under the run root, DNS names.
  /// Returns what was released.
  @discardableResult
  public func pruneNetworkLeftovers() throws -> [String] {
    let known = Set(try containers.all().map(\.id))
    // Asked again before each release: a container made since the listing is not a leftover.
    func gone(_ id: String) -> Bool {
      if known.contains(id) { return false }
      do { return try containers.get(id: id) == nil } catch { return false }
    }
    var released: [String] = []
    let netnsDirectory = layout.runRoot + "/netns"
    // host-local's reservations (a file named by the address: the container ID, then the
    // interface) of containers no row knows: a CNI DEL frees them and their veth.
    for definition in try networks.list() {
      let directory = layout.root + "/networks/ipam/" + definition.id
      for name in (try? FS.list(directory)) ?? [] where ContainerOptions.isIPv4Address(name) {
        let lines = ((try? FS.readText(directory + "/" + name)) ?? "").split(whereSeparator: \.isNewline).map(String.init)
        guard lines.count >= 2, lines[0].count == 64, gone(lines[0]) else { continue }
        let endpoint = Endpoint(
          network: definition.name, networkID: definition.id, interface: lines[1], ip: name, prefixLength: 0, gateway: "", mac: "")
        try? attacher.detach(
          containerID: lines[0], netns: attacher.namespacePath(containerID: lines[0]), endpoints: [endpoint], ports: [])
        released.append("address \(name) of \(lines[0]) on \(definition.name)")
      }
    }
    // Then the namespaces (after the DEL, which needs them to remove the veths).
    for name in (try? FS.list(netnsDirectory)) ?? [] where name.count == 64 && gone(name) {
      attacher.removeNamespace(containerID: name)
      released.append("netns \(name)")
    }
    let records = DNSRecordStore(runRoot: layout.runRoot)
    for definition in try networks.list() where definition.dnsEnabled {
      for record in (try? records.records(networkID: definition.id)) ?? [] where gone(record.containerID) {
        unregisterName(record.containerID, networkID: definition.id)
        released.append("DNS names of \(record.containerID) on \(definition.name)")
      }
    }
    return released
  }

  // MARK: connect and disconnect

  /// `network connect`: joins now when the container's namespace exists (running, or stopped
  /// with its network kept), else at its next start.
  public func connect(_ record: ContainerRecord, to nameOrID: String, ip: String?, aliases: [String]) async throws {
    let entry = try network(nameOrID)
    guard let definition = entry.definition else {
      throw BerthError(.invalidState, "container cannot be disconnected from host network or connected to host network")
    }
    try await withLock(record.id) {
      guard var current = try containers.get(id: record.id) else { throw BerthError(.notFound, "No such container: \(record.id)") }
      guard current.options.hasOwnNetwork else {
        throw BerthError(
          .invalidState,
          "container sharing network namespace with another container or host cannot be connected to any other network")
      }
      if definition.isDefault && !aliases.isEmpty {
        throw BerthError(.invalidArgument, "network-scoped alias is supported only for containers in user defined networks")
      }
      if definition.isDefault && ip != nil {
        throw BerthError(.invalidArgument, "user specified IP address is supported on user defined networks only")
      }
      if let ip, !ContainerOptions.isIPv4Address(ip) { throw BerthError(.invalidArgument, "invalid IPv4 address: \(ip)") }
      if let ip, !Self.subnet(definition.ipRange ?? definition.subnet, contains: ip) {
        throw BerthError(.invalidArgument, "no configured subnet or ip-range contain the IP address \(ip)")
      }
      let names = [definition.name, definition.id]
      if current.options.networks.contains(where: { names.contains($0.network) }) {
        throw BerthError(.alreadyExists, "endpoint with name \(current.name) already exists in network \(definition.name)")
      }
      let request = EndpointRequest(network: definition.name, ip: ip, aliases: aliases)
      let netns = attacher.namespacePath(containerID: current.id)
      if var state = ContainerNetworkState.load(layout, current.id), ContainerNetworkState.isNamespace(netns) {
        let endpoint = try attacher.connect(
          containerID: current.id, containerName: current.name, netns: netns, request: request, existing: state.endpoints)
        state.endpoints.append(endpoint)
        try state.save(layout, current.id)
        try registerNames(current, endpoints: [endpoint])
      }
      current.options.networks.append(request)
      try containers.update(current)
    }
  }

  /// `network disconnect`: leaves now when the container has an endpoint there, and drops the
  /// network from its configuration.
  public func disconnect(_ record: ContainerRecord, from nameOrID: String, force: Bool) async throws {
    // A network removed behind the container's back can still be left by its name (-f).
    let entry = try? network(nameOrID)
    if let entry, entry.definition == nil {
      throw BerthError(.invalidState, "container cannot be disconnected from host network or connected to host network")
    }
    try await withLock(record.id) {
      guard var current = try containers.get(id: record.id) else { throw BerthError(.notFound, "No such container: \(record.id)") }
      let names = Set([entry?.name, entry?.id, nameOrID].compactMap { $0 })
      let state = ContainerNetworkState.load(layout, current.id)
      let endpoint = state?.endpoints.first { names.contains($0.network) || names.contains($0.networkID) }
      let configured = current.options.networks.contains { names.contains($0.network) }
      guard endpoint != nil || configured else {
        if entry == nil && !force { throw BerthError(.notFound, "network \(nameOrID) not found") }
        throw BerthError(.invalidState, "container \(current.id) is not connected to network \(entry?.name ?? nameOrID)")
      }
      if let endpoint, var saved = state {
        unregisterName(current.id, networkID: endpoint.networkID)
        // Ports are forwarded on the first network: they go with it.
        let ports = endpoint == saved.endpoints.first ? saved.ports : []
        do {
          if ports.isEmpty {
            try attacher.disconnect(containerID: current.id, netns: saved.netns, endpoint: endpoint)
          } else {
            try attacher.detach(containerID: current.id, netns: saved.netns, endpoints: [endpoint], ports: ports)
          }
        } catch where !force {
          throw error
        } catch {}
        saved.endpoints.removeAll { $0 == endpoint }
        if !ports.isEmpty { saved.ports = [] }
        try saved.save(layout, current.id)
      }
      current.options.networks.removeAll { names.contains($0.network) }
      try containers.update(current)
    }
  }
}
