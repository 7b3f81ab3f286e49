import BerthOS

/// One bridge network as Berth stores it: root/networks/<id>.json.
public struct NetworkDefinition: Codable, Sendable, Equatable {
  public var name: String
  /// 64 random hex characters.
  public var id: String
  /// Always "bridge" for now.
  public var driver: String
  /// The Linux bridge: "berth0" for the default network, "br-<12 hex of id>" for the others.
  public var bridge: String
  /// IPv4 CIDR strings.
  public var subnet: String
  public var gateway: String
  public var ipRange: String?
  public var `internal`: Bool
  public var labels: [String: String]
  /// RFC 3339.
  public var created: String
  /// True for user networks (containers find each other by name), false for the default "bridge".
  public var dnsEnabled: Bool

  public init(
    name: String, id: String, driver: String = "bridge", bridge: String, subnet: String, gateway: String,
    ipRange: String? = nil, internal: Bool = false, labels: [String: String] = [:], created: String,
    dnsEnabled: Bool
  ) {
    self.name = name
    self.id = id
    self.driver = driver
    self.bridge = bridge
    self.subnet = subnet
    self.gateway = gateway
    self.ipRange = ipRange
    self.internal = `internal`
    self.labels = labels
    self.created = created
    self.dnsEnabled = dnsEnabled
  }

  /// True for the network named "bridge" that Berth creates on first use.
  public var isDefault: Bool { name == NetworkStore.defaultNetworkName }
}

/// What `berth network create` asks for; nil fields are chosen by the store.
public struct NetworkCreateRequest: Sendable {
  public var name: String
  public var subnet: String?
  public var gateway: String?
  public var ipRange: String?
  public var `internal`: Bool
  public var labels: [String: String]
  /// The Linux bridge name; nil = "br-<12 hex of id>". Tests use their own unique names.
  public var bridge: String?

  public init(
    name: String, subnet: String? = nil, gateway: String? = nil, ipRange: String? = nil, internal: Bool = false,
    labels: [String: String] = [:], bridge: String? = nil
  ) {
    self.name = name
    self.subnet = subnet
    self.gateway = gateway
    self.ipRange = ipRange
    self.internal = `internal`
    self.labels = labels
    self.bridge = bridge
  }
}

extension BerthError.Code {
  /// A name or address is already taken by another object (Docker answers 409 Conflict).
  public static let conflict = BerthError.Code("conflict")
}
