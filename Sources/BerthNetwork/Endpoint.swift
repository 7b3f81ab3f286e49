import BerthJSON

/// A published port: hostIP:hostPort on the host forwards to containerPort in the container.
public struct PortMapping: Codable, Sendable, Equatable, Hashable {
  /// "" = all the host's addresses.
  public var hostIP: String
  public var hostPort: UInt16
  public var containerPort: UInt16
  /// "tcp" or "udp".
  public var proto: String

  public init(hostIP: String = "", hostPort: UInt16, containerPort: UInt16, proto: String = "tcp") {
    self.hostIP = hostIP
    self.hostPort = hostPort
    self.containerPort = containerPort
    self.proto = proto
  }
}

/// One network a container asks to join, with its optional static address and names.
public struct EndpointRequest: Codable, Sendable, Equatable {
  /// A network name or id.
  public var network: String
  public var ip: String?
  public var mac: String?
  public var aliases: [String]

  public init(network: String, ip: String? = nil, mac: String? = nil, aliases: [String] = []) {
    self.network = network
    self.ip = ip
    self.mac = mac
    self.aliases = aliases
  }
}

/// A container's interface on one network, as CNI set it up. Saved by the engine so that a
/// detach works after a reboot.
public struct Endpoint: Codable, Sendable, Equatable {
  public var network: String
  public var networkID: String
  /// "eth0", "eth1", ...
  public var interface: String
  public var ip: String
  public var prefixLength: Int
  public var gateway: String
  public var mac: String
  public var aliases: [String]
  /// The bridge plugin's ADD result, as it printed it: the `prevResult` a CNI CHECK needs
  /// (the host-side veth's name is only there). Nil in files of older builds and in planned
  /// endpoints; such an endpoint cannot be checked (`NetworkAttacher.check`).
  public var cniResult: JSONValue?

  public init(
    network: String, networkID: String, interface: String, ip: String, prefixLength: Int, gateway: String,
    mac: String, aliases: [String] = [], cniResult: JSONValue? = nil
  ) {
    self.network = network
    self.networkID = networkID
    self.interface = interface
    self.ip = ip
    self.prefixLength = prefixLength
    self.gateway = gateway
    self.mac = mac
    self.aliases = aliases
    self.cniResult = cniResult
  }
}
