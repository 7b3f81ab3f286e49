import BerthJSON
import BerthOS

extension NetworkAttacher {
  /// CNI CHECK of a kept network (a stopped container started again): per endpoint, the
  /// bridge plugin with the ADD's configuration and its saved result as `prevResult`. It
  /// fails when the bridge, the host-side veth or the container's interface is gone or
  /// changed, when an address or route is missing in the namespace, or when host-local no
  /// longer holds a lease for the container. `ports` are not checked (portmap's CHECK runs
  /// iptables several times); a caller that re-attaches after a failure re-makes them too.
  public func check(containerID: String, netns: String, endpoints: [Endpoint], ports: [PortMapping]) throws {
    guard FS.exists(netns) else {
      throw BerthError(.notFound, "network namespace \(netns) of container \(containerID.prefix(12)) is gone: attach the container again")
    }
    for endpoint in endpoints {
      guard let result = endpoint.cniResult else {
        throw BerthError(
          .invalidState,
          "endpoint \(endpoint.interface) of container \(containerID.prefix(12)) on network \(endpoint.network) was saved without its CNI result (older berth): attach it again")
      }
      let network: NetworkDefinition
      do { network = try store.network(endpoint.networkID) } catch {
        throw error.berthPrefixed("check network \(endpoint.network) of container \(containerID.prefix(12))")
      }
      var config = try network.bridgeConfig(ipamDirectory: store.ipamDirectory, staticIP: nil, mac: nil)
      config["prevResult"] = NetworkAttacher.checkable(result, bridge: network.bridge)
      do {
        try CNIPlugin(type: "bridge").run(.check, containerID: containerID, netns: netns, interface: endpoint.interface, config: config)
      } catch {
        throw error.berthPrefixed("check network \(endpoint.network) of container \(containerID.prefix(12))")
      }
    }
  }

  /// The ADD result without the bridge's MAC. The bridge plugin 1.1 pins the bridge's MAC,
  /// but a bridge whose MAC was never set (older plugins, a bridge made again by hand) takes
  /// the lowest MAC of its ports, which changes as other containers come and go: a healthy
  /// endpoint would fail. A bridge made again loses its ports, so the veth check still
  /// catches that.
  static func checkable(_ result: JSONValue, bridge: String) -> JSONValue {
    guard var object = result.objectValue, let interfaces = object["interfaces"]?.arrayValue else { return result }
    object["interfaces"] = .array(interfaces.map { item in
      guard var entry = item.objectValue, entry["name"]?.stringValue == bridge, entry["sandbox"] == nil else { return item }
      entry["mac"] = nil
      return .object(entry)
    })
    return .object(object)
  }
}
