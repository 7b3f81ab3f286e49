import BerthJSON
import BerthOS

/// The CNI configurations Berth hands the plugins for one network. The CNI network name is the
/// network's id, so host-local keeps its leases in ipam/<id>/ and portmap's chain names stay
/// the same when a network is renamed.
extension NetworkDefinition {
  /// `bridge` with host-local IPAM. No ipMasq: masquerade is one rule per network (Firewall),
  /// not a chain per container.
  func bridgeConfig(ipamDirectory: String, staticIP: String?, mac: String?) throws -> JSONObject {
    let subnet = try IPv4Network.parse(self.subnet, what: "subnet")
    var range: JSONObject = ["subnet": .string(subnet.description), "gateway": .string(gateway)]
    if let ipRange {
      let pool = try IPv4Network.parse(ipRange, what: "ip-range")
      // host-local hands out rangeStart...rangeEnd; skip the pool's network and broadcast
      // addresses when the pool is the subnet's edge.
      let start = pool.first == subnet.first ? IPv4Address(pool.first.value + 1) : pool.first
      let end = pool.last == subnet.last ? IPv4Address(pool.last.value - 1) : pool.last
      range["rangeStart"] = .string(start.description)
      range["rangeEnd"] = .string(end.description)
    }
    var ipam: JSONObject = [
      "type": "host-local", "dataDir": .string(ipamDirectory), "ranges": .array([.array([.object(range)])]),
    ]
    // Internal networks get no default route: there is no way out to route to.
    if !self.internal { ipam["routes"] = .array([.object(["dst": "0.0.0.0/0"])]) }
    var config: JSONObject = [
      "name": .string(id), "bridge": .string(bridge), "isGateway": true, "ipMasq": false,
      "hairpinMode": true, "ipam": .object(ipam),
    ]
    var runtime = JSONObject()
    if let staticIP { runtime["ips"] = .array([.string(staticIP)]) }
    if let mac { runtime["mac"] = .string(mac) }
    if !runtime.isEmpty {
      config["capabilities"] = .object(["ips": true, "mac": true])
      config["runtimeConfig"] = .object(runtime)
    }
    return config
  }

  /// `portmap` for the published ports; `prevResult` is the bridge's result (nil for DEL).
  func portmapConfig(ports: [PortMapping], prevResult: JSONValue?) -> JSONObject {
    NetworkDefinition.portmapConfig(networkID: id, ports: ports, prevResult: prevResult)
  }

  /// Needs only the id, so that a DEL works when the network's definition is gone.
  static func portmapConfig(networkID id: String, ports: [PortMapping], prevResult: JSONValue?) -> JSONObject {
    let mappings: [JSONValue] = ports.map { port in
      var item: JSONObject = [
        "hostPort": .number(JSONNumber(port.hostPort)), "containerPort": .number(JSONNumber(port.containerPort)),
        "protocol": .string(port.proto),
      ]
      if !port.hostIP.isEmpty && port.hostIP != "0.0.0.0" { item["hostIP"] = .string(port.hostIP) }
      return .object(item)
    }
    var config: JSONObject = [
      "name": .string(id), "snat": true, "capabilities": .object(["portMappings": true]),
      "runtimeConfig": .object(["portMappings": .array(mappings)]),
    ]
    if let prevResult { config["prevResult"] = prevResult }
    return config
  }
}
