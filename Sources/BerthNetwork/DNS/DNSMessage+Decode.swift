import BerthOS

extension DNSMessage {
  /// Parses a message (RFC 1035 4.1), following compression pointers in names. Any length,
  /// count or pointer that does not fit the packet is a `BerthError(.invalidArgument)`.
  public static func decode(_ bytes: [UInt8]) throws -> DNSMessage {
    var reader = DNSReader(bytes: bytes)
    let id = try reader.uint16()
    let flags = try reader.uint16()
    let counts = [try reader.uint16(), try reader.uint16(), try reader.uint16(), try reader.uint16()]
    var message = DNSMessage(id: id, flags: flags)
    for _ in 0..<counts[0] {
      let name = try reader.name()
      message.questions.append(DNSQuestion(name: name, type: try reader.uint16(), recordClass: try reader.uint16()))
    }
    message.answers = try (0..<counts[1]).map { _ in try reader.record() }
    message.authorities = try (0..<counts[2]).map { _ in try reader.record() }
    message.additionals = try (0..<counts[3]).map { _ in try reader.record() }
    return message
  }

  /// The ID of a packet that may not parse (for a FORMERR reply); nil under 12 bytes.
  public static func peekHeader(_ bytes: [UInt8]) -> (id: UInt16, flags: UInt16)? {
    guard bytes.count >= 12 else { return nil }
    return (UInt16(bytes[0]) << 8 | UInt16(bytes[1]), UInt16(bytes[2]) << 8 | UInt16(bytes[3]))
  }
}

/// A cursor over a packet that refuses to read past its end.
struct DNSReader {
  let bytes: [UInt8]
  var offset = 0

  static func malformed(_ what: String) -> BerthError {
    BerthError(.invalidArgument, "malformed DNS message: \(what)")
  }

  mutating func uint8() throws -> UInt8 {
    guard offset < bytes.count else { throw Self.malformed("ends at byte \(offset), inside a field") }
    defer { offset += 1 }
    return bytes[offset]
  }

  mutating func uint16() throws -> UInt16 {
    UInt16(try uint8()) << 8 | UInt16(try uint8())
  }

  mutating func uint32() throws -> UInt32 {
    UInt32(try uint16()) << 16 | UInt32(try uint16())
  }

  mutating func take(_ count: Int) throws -> [UInt8] {
    guard count <= bytes.count - offset else { throw Self.malformed("a field of \(count) bytes runs past the end") }
    defer { offset += count }
    return Array(bytes[offset..<offset + count])
  }

  mutating func record() throws -> DNSResourceRecord {
    let name = try name()
    let type = try uint16()
    let recordClass = try uint16()
    let ttl = try uint32()
    let length = Int(try uint16())
    return DNSResourceRecord(name: name, type: type, recordClass: recordClass, ttl: ttl, data: try take(length))
  }

  /// A name at the cursor. A pointer must point before the place it was read from, which
  /// rules out loops; the whole name stays within 255 bytes (RFC 1035 3.1).
  mutating func name() throws -> DNSName {
    var labels: [[UInt8]] = []
    var position = offset
    var resumeAt: Int?  // where the cursor goes after the first pointer
    var limit = position  // pointers must go strictly below this
    var total = 1
    while true {
      guard position < bytes.count else { throw Self.malformed("a name runs past the end") }
      let length = bytes[position]
      switch length & 0xC0 {
      case 0x00:
        if length == 0 {
          offset = resumeAt ?? position + 1
          return DNSName(labels: labels)
        }
        let start = position + 1
        guard start + Int(length) <= bytes.count else { throw Self.malformed("a label runs past the end") }
        total += Int(length) + 1
        guard total <= 255 else { throw Self.malformed("a name is longer than 255 bytes") }
        labels.append(Array(bytes[start..<start + Int(length)]))
        position = start + Int(length)
      case 0xC0:
        guard position + 1 < bytes.count else { throw Self.malformed("a compression pointer is cut off") }
        let target = Int(length & 0x3F) << 8 | Int(bytes[position + 1])
        guard target < limit else { throw Self.malformed("a compression pointer does not point backwards") }
        if resumeAt == nil { resumeAt = position + 2 }
        limit = target
        position = target
      default:
        throw Self.malformed("label type 0x\(String(length >> 6, radix: 16)) is not supported")
      }
    }
  }
}
