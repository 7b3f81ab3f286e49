import BerthOS

/// An IPv4 address as a host-order integer.
struct IPv4Address: Hashable, Comparable, CustomStringConvertible, Sendable {
  var value: UInt32

  init(_ value: UInt32) { self.value = value }

  /// "10.88.0.1"; nil unless four decimal parts 0...255.
  init?(_ text: some StringProtocol) {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    var result: UInt32 = 0
    for part in parts {
      guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let byte = UInt8(part) else { return nil }
      result = result << 8 | UInt32(byte)
    }
    value = result
  }

  var description: String {
    "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
  }

  static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}

/// An IPv4 network "10.88.0.0/16".
struct IPv4Network: Hashable, CustomStringConvertible, Sendable {
  var address: IPv4Address
  var prefixLength: Int

  init(address: IPv4Address, prefixLength: Int) {
    self.prefixLength = prefixLength
    self.address = IPv4Address(address.value & IPv4Network.mask(prefixLength))
  }

  /// Parses "a.b.c.d/n"; `strict` refuses host bits (Docker's "10.1.2.3/24" is a mistake).
  static func parse(_ text: String, what: String, strict: Bool = true) throws -> IPv4Network {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let address = IPv4Address(parts[0]), let length = Int(parts[1]), (0...32).contains(length)
    else {
      throw BerthError(.invalidArgument, "invalid \(what) \(quoted(text)): expected an IPv4 CIDR such as 10.89.1.0/24")
    }
    let network = IPv4Network(address: address, prefixLength: length)
    if strict && network.address != address {
      throw BerthError(
        .invalidArgument, "invalid \(what) \(text): the host bits are set; use \(network) instead")
    }
    return network
  }

  static func mask(_ length: Int) -> UInt32 {
    length == 0 ? 0 : UInt32.max << UInt32(32 - length)
  }

  var mask: UInt32 { IPv4Network.mask(prefixLength) }
  var first: IPv4Address { address }
  var last: IPv4Address { IPv4Address(address.value | ~mask) }
  var description: String { "\(address)/\(prefixLength)" }

  func contains(_ ip: IPv4Address) -> Bool { ip.value & mask == address.value }
  func contains(_ other: IPv4Network) -> Bool { other.prefixLength >= prefixLength && contains(other.address) }
  func overlaps(_ other: IPv4Network) -> Bool { contains(other.address) || other.contains(address) }
}
