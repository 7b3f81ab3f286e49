import BerthOS

/// A domain name as it travels on the wire: its labels, byte for byte. Labels are kept as bytes
/// so that a name is echoed back exactly as it was asked (case included).
public struct DNSName: Sendable, Equatable, CustomStringConvertible {
  public var labels: [[UInt8]]

  public init(labels: [[UInt8]]) { self.labels = labels }

  /// "a.b.c" (no trailing dot; "" for the root).
  public init(_ text: String) {
    labels = text.split(separator: ".", omittingEmptySubsequences: true).map { Array($0.utf8) }
  }

  /// Dotted and lowercased (ASCII only, as RFC 4343 compares names): the key for lookups.
  public var lowercased: String {
    labels.map { label in String(decoding: label.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self) }
      .joined(separator: ".")
  }

  public var description: String { labels.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".") }
}

/// One question of a DNS message (RFC 1035 4.1.2).
public struct DNSQuestion: Sendable, Equatable {
  public var name: DNSName
  public var type: UInt16
  public var recordClass: UInt16

  public init(name: DNSName, type: UInt16, recordClass: UInt16 = DNSMessage.classIN) {
    self.name = name
    self.type = type
    self.recordClass = recordClass
  }
}

/// One resource record (RFC 1035 4.1.3); `data` is the RDATA as sent.
public struct DNSResourceRecord: Sendable, Equatable {
  public var name: DNSName
  public var type: UInt16
  public var recordClass: UInt16
  public var ttl: UInt32
  public var data: [UInt8]

  public init(name: DNSName, type: UInt16, recordClass: UInt16 = DNSMessage.classIN, ttl: UInt32, data: [UInt8]) {
    self.name = name
    self.type = type
    self.recordClass = recordClass
    self.ttl = ttl
    self.data = data
  }

  /// An A record for a dotted IPv4 address; nil when `ipv4` is not one.
  public static func a(_ name: DNSName, ipv4: String, ttl: UInt32) -> DNSResourceRecord? {
    guard let bytes = DNSMessage.ipv4Bytes(ipv4) else { return nil }
    return DNSResourceRecord(name: name, type: DNSMessage.typeA, ttl: ttl, data: bytes)
  }
}

/// A DNS message: header fields, then the four sections (RFC 1035 4.1).
public struct DNSMessage: Sendable, Equatable {
  public static let typeA: UInt16 = 1
  public static let typePTR: UInt16 = 12
  public static let typeAAAA: UInt16 = 28
  public static let typeOPT: UInt16 = 41
  public static let typeANY: UInt16 = 255
  public static let classIN: UInt16 = 1
  public static let classANY: UInt16 = 255

  public static let rcodeNoError: UInt8 = 0
  public static let rcodeFormatError: UInt8 = 1
  public static let rcodeServerFailure: UInt8 = 2
  public static let rcodeNameError: UInt8 = 3
  public static let rcodeNotImplemented: UInt8 = 4

  public var id: UInt16
  /// QR, opcode, AA, TC, RD, RA, Z and RCODE as in the header's second 16 bits.
  public var flags: UInt16
  public var questions: [DNSQuestion]
  public var answers: [DNSResourceRecord]
  public var authorities: [DNSResourceRecord]
  public var additionals: [DNSResourceRecord]

  public init(
    id: UInt16, flags: UInt16, questions: [DNSQuestion] = [], answers: [DNSResourceRecord] = [],
    authorities: [DNSResourceRecord] = [], additionals: [DNSResourceRecord] = []
  ) {
    self.id = id
    self.flags = flags
    self.questions = questions
    self.answers = answers
    self.authorities = authorities
    self.additionals = additionals
  }

  public var isResponse: Bool { flags & 0x8000 != 0 }
  public var opcode: UInt8 { UInt8((flags >> 11) & 0xF) }
  public var isTruncated: Bool { flags & 0x0200 != 0 }
  public var recursionDesired: Bool { flags & 0x0100 != 0 }
  public var rcode: UInt8 { UInt8(flags & 0xF) }

  /// The flags of a response to a query with `queryFlags`: QR, the same opcode and RD, RA set.
  public static func responseFlags(to queryFlags: UInt16, rcode: UInt8, authoritative: Bool, truncated: Bool = false) -> UInt16 {
    var flags: UInt16 = 0x8000 | (queryFlags & 0x7800) | (queryFlags & 0x0100) | 0x0080 | UInt16(rcode & 0xF)
    if authoritative { flags |= 0x0400 }
    if truncated { flags |= 0x0200 }
    return flags
  }

  static func ipv4Bytes(_ text: String) -> [UInt8]? {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    var bytes: [UInt8] = []
    for part in parts {
      guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let value = UInt8(part) else { return nil }
      bytes.append(value)
    }
    return bytes
  }
}
