#if canImport(Glibc)
import Glibc
#endif

extension LogEntry {
  /// Decodes one line of a json-file log (with or without its trailing "\n"):
  /// `{"log":"hello\n","stream":"stdout","time":"2026-11-21T08:00:00.123456789Z"}`.
  ///
  /// Returns nil for anything else — a truncated line still being written, garbage, an
  /// unknown stream — so that a reader can skip it. Keys may come in any order; unknown keys
  /// are skipped; `attrs` is read when present. `\uXXXX` escapes (surrogate pairs included;
  /// a lone surrogate becomes U+FFFD) are turned into UTF-8; bytes that are not UTF-8 pass
  /// through unchanged.
  ///
  /// Hand-written rather than BerthJSON because the log is read a line at a time, three
  /// keys of interest, and the output must stay bytes: this avoids building a JSONValue tree
  /// and Strings for each line.
  public static func decode(jsonLine line: UnsafeBufferPointer<UInt8>) -> LogEntry? {
    guard let base = line.baseAddress else { return nil }
    var parser = LogLineParser(base: base, count: line.count)
    return parser.entry()
  }

  /// Decodes one line of a json-file log; see ``decode(jsonLine:)-(UnsafeBufferPointer<UInt8>)``.
  public static func decode(jsonLine line: some Collection<UInt8>) -> LogEntry? {
    if let result = line.withContiguousStorageIfAvailable({ decode(jsonLine: $0) }) { return result }
    return Array(line).withUnsafeBufferPointer { decode(jsonLine: $0) }
  }
}

/// A cursor over one line: just enough JSON for the log's entries, and for skipping the rest.
struct LogLineParser {
  let base: UnsafePointer<UInt8>
  let count: Int
  var index = 0

  private static let quote = UInt8(ascii: "\"")
  private static let backslash = UInt8(ascii: "\\")

  init(base: UnsafePointer<UInt8>, count: Int) {
    self.base = base
    self.count = count
  }

  mutating func entry() -> LogEntry? {
    skipSpace()
    guard take(UInt8(ascii: "{")) else { return nil }
    var bytes: [UInt8]?
    var stream: LogStream?
    var time = DockerTime(seconds: 0)
    var attributes: [String: String] = [:]
    skipSpace()
    if take(UInt8(ascii: "}")) { return nil }
    while true {
      skipSpace()
      guard let key = string() else { return nil }
      skipSpace()
      guard take(UInt8(ascii: ":")) else { return nil }
      skipSpace()
      switch keyName(key.range) {
      case .log:
        guard let value = string() else { return nil }
        bytes = unescape(value)
        guard bytes != nil else { return nil }
      case .stream:
        guard let value = string() else { return nil }
        if matches(value.range, "stdout") {
          stream = .stdout
        } else if matches(value.range, "stderr") {
          stream = .stderr
        } else {
          return nil
        }
      case .time:
        guard let value = string(), !value.escaped,
          let parsed = DockerTime.parseLogTime(UnsafeBufferPointer(start: base + value.range.lowerBound, count: value.range.count))
        else { return nil }
        time = parsed
      case .attrs:
        guard let parsed = attributeObject() else { return nil }
        attributes = parsed
      case .other:
        guard skipValue() else { return nil }
      }
      skipSpace()
      if take(UInt8(ascii: ",")) { continue }
      guard take(UInt8(ascii: "}")) else { return nil }
      break
    }
    guard let bytes, let stream else { return nil }
    return LogEntry(stream: stream, bytes: bytes, time: time, attributes: attributes)
  }

  // MARK: Tokens

  private enum Key { case log, stream, time, attrs, other }

  private func keyName(_ range: Range<Int>) -> Key {
    switch range.count {
    case 3 where matches(range, "log"): return .log
    case 6 where matches(range, "stream"): return .stream
    case 4 where matches(range, "time"): return .time
    case 5 where matches(range, "attrs"): return .attrs
    default: return .other
    }
  }

  private func matches(_ range: Range<Int>, _ text: StaticString) -> Bool {
    guard range.count == text.utf8CodeUnitCount else { return false }
    return memcmp(base + range.lowerBound, text.utf8Start, range.count) == 0
  }

  private mutating func skipSpace() {
    while index < count {
      switch base[index] {
      case 0x20, 0x09, 0x0A, 0x0D: index += 1
      default: return
      }
    }
  }

  private mutating func take(_ byte: UInt8) -> Bool {
    guard index < count, base[index] == byte else { return false }
    index += 1
    return true
  }

  /// A string token: the range of its raw content (between the quotes) and whether it holds
  /// escapes. Nil when the cursor is not on a string or the string is unterminated.
  private mutating func string() -> (range: Range<Int>, escaped: Bool)? {
    guard take(Self.quote) else { return nil }
    let start = index
    var searchFrom = start
    var escaped = false
    while searchFrom < count {
      // memchr finds the next quote at memory speed; a quote after an odd run of
      // backslashes is part of the string.
      guard let found = memchr(base + searchFrom, Int32(Self.quote), count - searchFrom) else { return nil }
      let position = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
      var backslashes = 0
      while position - backslashes - 1 >= start, base[position - backslashes - 1] == Self.backslash { backslashes += 1 }
      if backslashes % 2 == 0 {
        if !escaped { escaped = memchr(base + start, Int32(Self.backslash), position - start) != nil }
        index = position + 1
        return (start..<position, escaped)
      }
      escaped = true
      searchFrom = position + 1
    }
    return nil
  }

  /// The bytes a string token stands for. Nil for an invalid escape.
  private func unescape(_ token: (range: Range<Int>, escaped: Bool)) -> [UInt8]? {
    let range = token.range
    if !token.escaped { return Array(UnsafeBufferPointer(start: base + range.lowerBound, count: range.count)) }
    var valid = true
    // Escapes only shrink the text, so its raw length bounds the result.
    let result = [UInt8](unsafeUninitializedCapacity: range.count) { output, written in
      guard let out = output.baseAddress else { return }
      var read = range.lowerBound
      var write = 0
      let end = range.upperBound
      while read < end {
        let runEnd: Int
        if let found = memchr(base + read, Int32(Self.backslash), end - read) {
          runEnd = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
        } else {
          runEnd = end
        }
        if runEnd > read {
          (out + write).initialize(from: base + read, count: runEnd - read)
          write += runEnd - read
          read = runEnd
        }
        guard read < end else { break }
        // base[read] is a backslash, and string() guaranteed it is not the last byte.
        let code = base[read + 1]
        read += 2
        switch code {
        case UInt8(ascii: "n"): out[write] = 0x0A
        case UInt8(ascii: "t"): out[write] = 0x09
        case UInt8(ascii: "r"): out[write] = 0x0D
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out[write] = code
        case UInt8(ascii: "b"): out[write] = 0x08
        case UInt8(ascii: "f"): out[write] = 0x0C
        case UInt8(ascii: "u"):
          guard var scalar = hex4(at: read, end: end) else {
            valid = false
            return
          }
          read += 4
          if scalar & 0xFC00 == 0xD800 {
            // A high surrogate: a low one must follow to make a pair.
            if read + 6 <= end, base[read] == Self.backslash, base[read + 1] == UInt8(ascii: "u"),
              let low = hex4(at: read + 2, end: end), low & 0xFC00 == 0xDC00
            {
              scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
              read += 6
            } else {
              scalar = 0xFFFD
            }
          } else if scalar & 0xFC00 == 0xDC00 {
            scalar = 0xFFFD
          }
          write += Self.encodeUTF8(scalar, into: out + write)
          continue
        default:
          valid = false
          return
        }
        write += 1
      }
      written = write
    }
    return valid ? result : nil
  }

  private func hex4(at position: Int, end: Int) -> UInt32? {
    guard position + 4 <= end else { return nil }
    var value: UInt32 = 0
    for offset in 0..<4 {
      let byte = base[position + offset]
      let digit: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
      default: return nil
      }
      value = value << 4 | UInt32(digit)
    }
    return value
  }

  /// Writes `scalar` (not a surrogate) as UTF-8; returns how many bytes.
  private static func encodeUTF8(_ scalar: UInt32, into out: UnsafeMutablePointer<UInt8>) -> Int {
    switch scalar {
    case 0..<0x80:
      out[0] = UInt8(scalar)
      return 1
    case 0x80..<0x800:
      out[0] = UInt8(0xC0 | scalar >> 6)
      out[1] = UInt8(0x80 | scalar & 0x3F)
      return 2
    case 0x800..<0x10000:
      out[0] = UInt8(0xE0 | scalar >> 12)
      out[1] = UInt8(0x80 | scalar >> 6 & 0x3F)
      out[2] = UInt8(0x80 | scalar & 0x3F)
      return 3
    default:
      out[0] = UInt8(0xF0 | scalar >> 18)
      out[1] = UInt8(0x80 | scalar >> 12 & 0x3F)
      out[2] = UInt8(0x80 | scalar >> 6 & 0x3F)
      out[3] = UInt8(0x80 | scalar & 0x3F)
      return 4
    }
  }

  /// `{"key":"value",...}`; members whose value is not a string are skipped.
  private mutating func attributeObject() -> [String: String]? {
    guard take(UInt8(ascii: "{")) else { return nil }
    var result: [String: String] = [:]
    skipSpace()
    if take(UInt8(ascii: "}")) { return result }
    while true {
      skipSpace()
      guard let key = string().flatMap(unescape) else { return nil }
      skipSpace()
      guard take(UInt8(ascii: ":")) else { return nil }
      skipSpace()
      if index < count, base[index] == Self.quote {
        guard let value = string().flatMap(unescape) else { return nil }
        result[String(decoding: key, as: UTF8.self)] = String(decoding: value, as: UTF8.self)
      } else if !skipValue() {
        return nil
      }
      skipSpace()
      if take(UInt8(ascii: ",")) { continue }
      return take(UInt8(ascii: "}")) ? result : nil
    }
  }

  /// Skips any JSON value; lenient about numbers and literals, strict about nesting.
  private mutating func skipValue() -> Bool {
    guard index < count else { return false }
    switch base[index] {
    case Self.quote:
      return string() != nil
    case UInt8(ascii: "{"), UInt8(ascii: "["):
      var depth = 0
      while index < count {
        let byte = base[index]
        if byte == Self.quote {
          guard string() != nil else { return false }
          continue
        }
        index += 1
        if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
          depth += 1
        } else if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
          depth -= 1
          if depth == 0 { return true }
        }
      }
      return false
    default:
      let start = index
      while index < count {
        switch base[index] {
        case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D:
          return index > start
        default:
          index += 1
        }
      }
      return index > start
    }
  }
}
