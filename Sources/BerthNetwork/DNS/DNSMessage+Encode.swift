extension DNSMessage {
  /// The wire form. Names are compressed against the names written before them (RFC 1035
  /// 4.1.4), so answers for the question's name cost 2 bytes of name each.
  public func encode() -> [UInt8] {
    var writer = DNSWriter()
    writer.uint16(id)
    writer.uint16(flags)
    for count in [questions.count, answers.count, authorities.count, additionals.count] {
      writer.uint16(UInt16(clamping: count))
    }
    for question in questions.prefix(Int(UInt16.max)) {
      writer.name(question.name)
      writer.uint16(question.type)
      writer.uint16(question.recordClass)
    }
    for section in [answers, authorities, additionals] {
      for record in section.prefix(Int(UInt16.max)) { writer.record(record) }
    }
    return writer.bytes
  }
}

/// Builds a packet, remembering where each name suffix was written for compression.
struct DNSWriter {
  var bytes: [UInt8] = []
  /// Lowercased suffix ("b.c") → its offset; only offsets a pointer can reach (< 0x4000).
  private var suffixes: [[UInt8]: Int] = [:]

  mutating func uint16(_ value: UInt16) {
    bytes.append(UInt8(value >> 8))
    bytes.append(UInt8(value & 0xFF))
  }

  mutating func uint32(_ value: UInt32) {
    uint16(UInt16(value >> 16))
    uint16(UInt16(value & 0xFFFF))
  }

  mutating func record(_ record: DNSResourceRecord) {
    name(record.name)
    uint16(record.type)
    uint16(record.recordClass)
    uint32(record.ttl)
    let data = record.data.prefix(Int(UInt16.max))
    uint16(UInt16(data.count))
    bytes += data
  }

  /// A name on its own, as RDATA that must not point into the message (PTR targets could, but
  /// need not).
  static func uncompressed(_ name: DNSName) -> [UInt8] {
    var writer = DNSWriter()
    writer.name(name)
    return writer.bytes
  }

  mutating func name(_ name: DNSName) {
    // Labels longer than 63 bytes cannot be encoded; they are cut (a decoded name never has one).
    let labels = name.labels.map { Array($0.prefix(63)) }
    for index in labels.indices {
      let key = Self.key(labels[index...])
      if let offset = suffixes[key] {
        uint16(0xC000 | UInt16(offset))
        return
      }
      if bytes.count < 0x4000 { suffixes[key] = bytes.count }
      bytes.append(UInt8(labels[index].count))
      bytes += labels[index]
    }
    bytes.append(0)
  }

  /// The suffix in wire form, ASCII-lowercased: names compare without case.
  private static func key(_ labels: ArraySlice<[UInt8]>) -> [UInt8] {
    var key: [UInt8] = []
    for label in labels {
      key.append(UInt8(label.count))
      key += label.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
    }
    return key
  }
}
