import BerthOS

/// An address host-local has handed out: its lease file names the container and interface.
public struct NetworkLease: Sendable, Equatable {
  public var networkID: String
  public var ip: String
  public var containerID: String
  public var interface: String
}

extension NetworkStore {
  /// Every address leased on this root's networks (root/networks/ipam/<id>/<ip>, whose content
  /// is "containerID\r\ninterface"). Reconciliation compares them with the containers that exist.
  public func leases() throws -> [NetworkLease] {
    var result: [NetworkLease] = []
    guard FS.isDirectory(ipamDirectory) else { return [] }
    for networkID in try FS.list(ipamDirectory) where !networkID.hasPrefix(".") {
      let directory = Path.join(ipamDirectory, networkID)
      guard let entries = try? FS.list(directory) else { continue }
      for entry in entries where IPv4Address(entry) != nil {
        guard let text = try? FS.readText(Path.join(directory, entry)) else { continue }
        let lines = text.split(whereSeparator: \.isNewline).map(String.init)  // "\r\n" is one Character
        guard let containerID = lines.first else { continue }
        result.append(NetworkLease(networkID: networkID, ip: entry, containerID: containerID, interface: lines.count > 1 ? lines[1] : "eth0"))
      }
    }
    return result
  }
}

extension NetworkAttacher {
  /// Frees what a container that no longer exists still holds (after a crash, or a lost
  /// network.json): its leases on every network, the port rules portmap made for it on those
  /// networks, its namespace file. For `system prune` and start-up reconciliation. Idempotent.
  public func releaseLeftovers(containerID: String) throws {
    let leases = try store.leases().filter { $0.containerID == containerID }
    removeNamespace(containerID: containerID)
    var endpoints: [Endpoint] = []
    for lease in leases {
      guard let network = try? store.network(lease.networkID) else { continue }
      endpoints.append(Endpoint(
        network: network.name, networkID: network.id, interface: lease.interface, ip: lease.ip, prefixLength: 0,
        gateway: network.gateway, mac: ""))
    }
    var failures: [String] = []
    // portmap's DEL finds its chains by network and container id; the mapping itself only
    // has to be there for it to act.
    for endpoint in endpoints {
      do {
        try CNIPlugin(type: "portmap").run(
          .del, containerID: containerID, netns: "", interface: endpoint.interface,
          config: NetworkDefinition.portmapConfig(
            networkID: endpoint.networkID, ports: [PortMapping(hostPort: 1, containerPort: 1)], prevResult: nil))
      } catch {
        failures.append("\(error)")
      }
    }
    do { try detach(containerID: containerID, netns: "", endpoints: endpoints, ports: []) } catch { failures.append("\(error)") }
    if !failures.isEmpty {
      throw BerthError(.commandFailed, "release the leftovers of container \(containerID.prefix(12)): " + failures.joined(separator: "; "))
    }
  }
}
