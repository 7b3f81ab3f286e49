#if canImport(Glibc)
import Glibc
#endif
import BerthJSON
import BerthNetwork
import BerthOCI
import BerthOS

/// A container's network over its life: made at start when its namespace is missing, kept
/// while the namespace lives (stop, restart), taken apart at rm. See docs/network.md.
extension ContainerEngine {
  var attacher: NetworkAttacher { NetworkAttacher(store: networks) }

  /// At create: every network the container names must exist (Docker's "network X not found",
  /// before anything is made).
  func checkNetworks(_ options: ContainerOptions) throws {
    for request in options.networks {
      let network = try networks.network(request.network)
      if network.isDefault && !request.aliases.isEmpty {
        throw BerthError(.invalidArgument, "network-scoped alias is supported only for containers in user defined networks")
      }
      if network.isDefault && request.ip != nil {
        throw BerthError(.invalidArgument, "user specified IP address is supported on user defined networks only")
      }
      if let ip = request.ip, !Self.subnet(network.ipRange ?? network.subnet, contains: ip) {
        throw BerthError(.invalidArgument, "no configured subnet or ip-range contain the IP address \(ip)")
      }
    }
  }

  /// Whether an IPv4 CIDR ("10.1.2.0/24") holds an address.
  static func subnet(_ cidr: String, contains address: String) -> Bool {
    func value(_ text: String) -> UInt32? {
      var parsed = in_addr()
      guard inet_pton(AF_INET, text, &parsed) == 1 else { return nil }
      return UInt32(bigEndian: parsed.s_addr)
    }
    let parts = cidr.split(separator: "/").map(String.init)
    guard parts.count == 2, let base = value(parts[0]), let length = UInt32(parts[1]), length <= 32, let ip = value(address) else {
      return false
    }
    let mask: UInt32 = length == 0 ? 0 : ~UInt32(0) << (32 - length)
    return base & mask == ip & mask
  }

  /// At start, before the monitor: the network namespace and its endpoints. A namespace
  /// that still exists (stop then start, a restart) is kept when a CNI CHECK of its endpoints
  /// passes, else released and made again; one a reboot took is
  /// made again, after releasing what the saved state still holds (addresses, port
  /// forwards). Writes /etc/hosts and /etc/resolv.conf once the addresses are known.
  func setUpNetwork(_ record: ContainerRecord) throws {
    if let other = ContainerOptions.containerReference(record.options.networkMode) {
      try joinNetwork(of: other, record)
      return
    }
    guard record.options.hasOwnNetwork else { return }
    let attacher = attacher
    let netns = attacher.namespacePath(containerID: record.id)
    let saved = ContainerNetworkState.load(layout, record.id)
    if let saved, saved.pending != true, ContainerNetworkState.isNamespace(netns) {
      // Kept, but someone may have deleted a veth or the bridge, or flushed the leases since:
      // a CNI CHECK per endpoint; when it fails, everything is made again as after a reboot.
      do {
        try attacher.check(containerID: record.id, netns: netns, endpoints: saved.endpoints, ports: saved.ports)
        StartTrace.mark("network: kept and checked")
        return
      } catch {
        StartTrace.mark("network: check failed, attaching again: \(error)")
      }
    }
    if let saved { releaseEndpoints(record.id, saved) }
    attacher.removeNamespace(containerID: record.id)

    StartTrace.mark("network: checked")
    let path = try attacher.createNamespace(containerID: record.id)
    StartTrace.mark("network: namespace made")
    var plan: ContainerNetworkState?
    do {
      let ports = try portsToPublish(record)
      // Recorded first, so that an rm after a killed start frees what the attach took.
      var planned: [Endpoint] = []
      for (index, request) in record.options.networks.enumerated() {
        let network = try networks.network(request.network)
        planned.append(Endpoint(
          network: network.name, networkID: network.id, interface: "eth\(index)", ip: "", prefixLength: 0, gateway: "", mac: ""))
      }
      plan = ContainerNetworkState(netns: path, endpoints: planned, ports: ports, pending: true)
      try plan?.save(layout, record.id)
      let endpoints = try attacher.attach(
        containerID: record.id, containerName: record.name, netns: path, requests: record.options.networks, ports: ports)
      StartTrace.mark("network: attached")
      let state = ContainerNetworkState(netns: path, endpoints: endpoints, ports: ports)
      do {
        try state.save(layout, record.id)
        try registerNames(record, endpoints: endpoints)
        try writeNetworkFiles(record, endpoints: endpoints)
        StartTrace.mark("network: names and files")
      } catch {
        releaseEndpoints(record.id, state)
        throw error
      }
    } catch {
      // The attach undoes its own work; a DEL of what was planned makes sure (it is idempotent).
      if let plan, ContainerNetworkState.load(layout, record.id)?.pending == true { releaseEndpoints(record.id, plan) }
      attacher.removeNamespace(containerID: record.id)
      throw error
    }
  }

  /// At rm (and after a failed create): names, endpoints, port forwards and the namespace go.
  /// Never fails: each step is idempotent and the next rm or prune would find nothing to do.
  func tearDownNetwork(_ record: ContainerRecord) {
    StartTrace.mark("network: tear down")
    if let saved = ContainerNetworkState.load(layout, record.id) { releaseEndpoints(record.id, saved) }
    StartTrace.mark("network: detached")
    if record.options.hasOwnNetwork { attacher.removeNamespace(containerID: record.id) }
    StartTrace.mark("network: namespace removed")
  }

  /// Unregisters the names (stopping a DNS server nobody needs any more), detaches, and
  /// deletes the saved state.
  func releaseEndpoints(_ id: String, _ state: ContainerNetworkState) {
    for endpoint in state.endpoints { unregisterName(id, networkID: endpoint.networkID) }
    try? attacher.detach(containerID: id, netns: state.netns, endpoints: state.endpoints, ports: state.ports)
    ContainerNetworkState.delete(layout, id)
  }

  /// `-p` with chosen host ports, then `-P`: the image's EXPOSEd ports and `--expose`, each on
  /// a free host port (a port `-p` publishes already is left as it is).
  func portsToPublish(_ record: ContainerRecord) throws -> [PortMapping] {
    var result: [PortMapping] = []
    for var mapping in record.options.publish {
      if mapping.hostPort == 0 { mapping.hostPort = try PortSpec.freeHostPort(proto: mapping.proto, hostIP: mapping.hostIP) }
      result.append(mapping)
    }
    guard record.options.publishAll else { return result }
    let published = Set(result.map(\.containerKey))
    for key in try exposedPorts(record) where !published.contains(key) {
      let parts = key.split(separator: "/").map(String.init)
      guard let port = UInt16(parts[0]) else { continue }
      let proto = parts.count > 1 ? parts[1] : "tcp"
      let hostPort = try PortSpec.freeHostPort(proto: proto, hostIP: "")
      result.append(PortMapping(hostIP: "", hostPort: hostPort, containerPort: port, proto: proto))
    }
    return result
  }

  /// The image's EXPOSE, `--expose` and `-p` container ports ("80/tcp"), sorted by port.
  func exposedPorts(_ record: ContainerRecord) throws -> [String] {
    var keys = Set(record.options.expose + record.options.publish.map(\.containerKey))
    if let digest = try? Digest(parsing: record.imageID), let image = try images.image(id: digest) {
      keys.formUnion((try images.config(of: image).config.config?.ExposedPorts ?? [:]).keys)
    }
    return keys.sorted { (UInt16($0.prefix { $0 != "/" }) ?? 0, $0) < (UInt16($1.prefix { $0 != "/" }) ?? 0, $1) }
  }

  // MARK: DNS names

  /// The names other containers find this one by: its name, short ID and the endpoint's
  /// aliases (Docker's DNSNames).
  static func dnsNames(_ record: ContainerRecord, _ endpoint: Endpoint) -> [String] {
    var names = [record.name, record.shortID] + endpoint.aliases
    if record.options.hostname != nil, !names.contains(record.hostname) { names.append(record.hostname) }
    return names.filter { !$0.isEmpty }
  }

  /// Registers the names on every network that resolves them and makes sure its DNS server runs.
  /// The container's `--dns` servers go with them: its network's server forwards the names it
  /// does not know there when this container asks (Docker's embedded resolver does the same).
  func registerNames(_ record: ContainerRecord, endpoints: [Endpoint]) throws {
    let upstreams = record.options.dns.map { DNSUpstream(address: $0) }
    for endpoint in endpoints {
      guard let network = try? networks.network(endpoint.networkID), network.dnsEnabled else { continue }
      try withNetworkLock(network.id) {
        try DNSRecordStore(runRoot: layout.runRoot).register(
          networkID: network.id, containerID: record.id, names: Self.dnsNames(record, endpoint), ipv4: endpoint.ip,
          upstreams: upstreams)
        guard let berth = Executables.ownPath else {
          throw BerthError(.notFound, "cannot find the berth executable to start the DNS server of network \(network.name)")
        }
        try DNSServerControl.ensureRunning(
          networkID: network.id, listenAddress: network.gateway, runRoot: layout.runRoot, berthExecutable: berth)
      }
    }
  }

  /// Drops the container's names; the network's DNS server stops with the last of them.
  func unregisterName(_ id: String, networkID: String) {
    let records = DNSRecordStore(runRoot: layout.runRoot)
    guard FS.exists(records.recordsPath(networkID: networkID)) else { return }
    try? withNetworkLock(networkID) {
      try records.unregister(networkID: networkID, containerID: id)
      if (try? records.records(networkID: networkID).isEmpty) ?? true {
        DNSServerControl.stop(networkID: networkID, runRoot: layout.runRoot)
      }
    }
  }

  /// An flock on runRoot/networks/<id>/engine.lock: registering a name and starting the server
  /// cannot interleave with unregistering the last name and stopping it.
  func withNetworkLock<T>(_ networkID: String, _ body: () throws -> T) throws -> T {
    let directory = layout.runRoot + "/networks/" + networkID
    try FS.makeDirectories(directory, mode: 0o755)
    let lock = try OwnedFD.open(directory + "/engine.lock", O_RDWR | O_CREAT | O_CLOEXEC, mode: 0o644)
    try check("lock \(directory)/engine.lock") { flock(lock.raw, LOCK_EX) }
    defer { _ = flock(lock.raw, LOCK_UN) }
    return try body()
  }

  // MARK: --network container:NAME

  /// The namespace of the container named: its bound netns file when Berth made one, else its
  /// init's. It must be running (Docker's rule). The spec is rewritten with that path, since
  /// the other container's init may have changed since create.
  func joinNetwork(of name: String, _ record: ContainerRecord) throws {
    let path = try networkNamespacePath(of: name)
    // Docker gives the joiner the /etc/hosts and /etc/resolv.conf of the network's owner.
    var owner = try containers.resolve(name)
    for _ in 0..<8 {
      guard let next = ContainerOptions.containerReference(owner.options.networkMode) else { break }
      owner = try containers.resolve(next)
    }
    for file in ["/hosts", "/resolv.conf"] {
      if let text = try? FS.readText(layout.container(owner.id) + file) { try FS.write(layout.container(record.id) + file, text) }
    }
    let configPath = layout.bundleConfig(record.id)
    var spec = try JSON.decode(Spec.self, from: try FS.read(configPath))
    guard let index = spec.linux?.namespaces?.firstIndex(where: { $0.type == .network }) else { return }
    if spec.linux?.namespaces?[index].path == path { return }
    spec.linux?.namespaces?[index].path = path
    try FS.writeAtomically(configPath, try JSON.encode(spec), mode: 0o600)
  }

  /// The path to join for `--network container:NAME`.
  func networkNamespacePath(of name: String) throws -> String {
    let other = try containers.resolve(name)
    let state = state(of: other.id)
    guard state.status == .running || state.status == .paused, state.pid > 0 else {
      throw BerthError(.invalidState, "cannot join network namespace of a non running container: container \(other.shortID) is \(state.status.rawValue)")
    }
    if let nested = ContainerOptions.containerReference(other.options.networkMode) { return try networkNamespacePath(of: nested) }
    let own = attacher.namespacePath(containerID: other.id)
    if other.options.hasOwnNetwork, ContainerNetworkState.isNamespace(own) { return own }
    return "/proc/\(state.pid)/ns/net"
  }
}
