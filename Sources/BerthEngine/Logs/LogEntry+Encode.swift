extension LogEntry {
  /// The entry as one json-file line, "\n" included, in Docker's key order. Bytes that are
  /// not valid UTF-8 are written as they are (the decoder passes them back unchanged).
  ///
  /// The monitor has its own writer; this one serves tests and tools that fake a log.
  func jsonLine() -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count + 80)
    out.append(contentsOf: #"{"log":""#.utf8)
    Self.appendEscaped(bytes, to: &out)
    out.append(contentsOf: #"","stream":""#.utf8)
    out.append(contentsOf: stream.rawValue.utf8)
    if !attributes.isEmpty {
      out.append(contentsOf: #"","attrs":{"#.utf8)
      for (index, key) in attributes.keys.sorted().enumerated() {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        out.append(UInt8(ascii: "\""))
        Self.appendEscaped(Array(key.utf8), to: &out)
        out.append(contentsOf: #"":""#.utf8)
        Self.appendEscaped(Array((attributes[key] ?? "").utf8), to: &out)
        out.append(UInt8(ascii: "\""))
      }
      out.append(contentsOf: #"},"time":""#.utf8)
    } else {
      out.append(contentsOf: #"","time":""#.utf8)
    }
    time.appendRFC3339(to: &out, trimmingZeros: true)
    out.append(contentsOf: "\"}\n".utf8)
    return out
  }

  private static func appendEscaped(_ bytes: [UInt8], to out: inout [UInt8]) {
    let hex = Array("0123456789abcdef".utf8)
    for byte in bytes {
      switch byte {
      case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
      case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
      case 0x0A: out.append(contentsOf: #"\n"#.utf8)
      case 0x0D: out.append(contentsOf: #"\r"#.utf8)
      case 0x09: out.append(contentsOf: #"\t"#.utf8)
      case 0..<0x20:
        out.append(contentsOf: #"\u00"#.utf8)
        out.append(hex[Int(byte >> 4)])
        out.append(hex[Int(byte & 0xF)])
      default: out.append(byte)
      }
    }
  }
}
