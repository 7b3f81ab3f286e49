// Byte-level text: numbers, RFC 3339 timestamps and JSON strings, without Foundation and
// without Character processing (everything the monitor writes is built as UTF-8 bytes).

extension Array where Element == UInt8 {
  /// Appends the UTF-8 of a string.
  mutating func append(text: String) {
    var copy = text
    copy.withUTF8 { self.append(contentsOf: $0) }
  }

  /// Appends a static string's bytes.
  mutating func append(_ text: StaticString) {
    text.withUTF8Buffer { self.append(contentsOf: $0) }
  }

  /// Appends a signed decimal number.
  mutating func append(decimal value: Int) {
    if value < 0 {
      append(UInt8(ascii: "-"))
      append(unsigned: UInt64(0 &- value))
    } else {
      append(unsigned: UInt64(value))
    }
  }

  mutating func append(unsigned value: UInt64) {
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
      UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
      (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var count = 0
    var rest = value
    Swift.withUnsafeMutableBytes(of: &digits) { raw in
      repeat {
        raw[count] = UInt8(ascii: "0") + UInt8(rest % 10)
        rest /= 10
        count += 1
      } while rest > 0
      for i in stride(from: count - 1, through: 0, by: -1) { self.append(raw[i]) }
    }
  }

  /// Appends a number with at least `width` digits (zero padded).
  mutating func append(padded value: Int, width: Int) {
    var length = 1
    var limit = 10
    while value >= limit && length < 20 {
      length += 1
      limit &*= 10
    }
    if length < width {
      for _ in 0..<(width - length) { append(UInt8(ascii: "0")) }
    }
    append(decimal: value)
  }
}

/// Parses a non-negative decimal integer (surrounding spaces allowed); nil otherwise.
func parseDecimal<C: Collection>(_ bytes: C) -> Int64? where C.Element == UInt8 {
  var value: Int64 = 0
  var digits = 0
  var trailing = false
  for byte in bytes {
    if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") {
      if digits > 0 { trailing = true }
      continue
    }
    guard !trailing, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
    let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
    let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
    if overflow1 || overflow2 { return nil }
    value = sum
    digits += 1
  }
  return digits > 0 ? value : nil
}

func parseDecimal(_ text: String) -> Int64? {
  parseDecimal(Array(text.utf8))
}

/// Splits bytes at spaces, dropping empty fields.
func splitFields(_ bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
  var fields: [ArraySlice<UInt8>] = []
  var start = bytes.startIndex
  var i = bytes.startIndex
  while i <= bytes.endIndex {
    if i == bytes.endIndex || bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "\t")
      || bytes[i] == UInt8(ascii: "\r")
    {
      if i > start { fields.append(bytes[start..<i]) }
      start = i + 1
    }
    i += 1
  }
  return fields
}

/// Whether `bytes` spell `text` exactly.
func bytesEqual(_ bytes: ArraySlice<UInt8>, _ text: StaticString) -> Bool {
  text.withUTF8Buffer { expected in
    guard expected.count == bytes.count else { return false }
    var i = bytes.startIndex
    for byte in expected {
      if bytes[i] != byte { return false }
      i += 1
    }
    return true
  }
}

// MARK: - Time

/// Appends a wall-clock time as Go's RFC3339Nano in UTC ("2006-01-02T15:04:05.999999999Z",
/// trailing zeros of the fraction dropped, as Docker writes them).
func appendRFC3339Nano(_ out: inout [UInt8], _ time: WallTime) {
  let secondsOfDay = Int(((time.seconds % 86_400) + 86_400) % 86_400)
  let days = (time.seconds - Int64(secondsOfDay)) / 86_400
  // Civil date from days since 1970-01-01 (proleptic Gregorian).
  let z = days + 719_468
  let era = (z >= 0 ? z : z - 146_096) / 146_097
  let dayOfEra = z - era * 146_097
  let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
  let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
  let mp = (5 * dayOfYear + 2) / 153
  let day = dayOfYear - (153 * mp + 2) / 5 + 1
  let month = mp < 10 ? mp + 3 : mp - 9
  let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)

  out.append(padded: Int(year), width: 4)
  out.append(UInt8(ascii: "-"))
  out.append(padded: Int(month), width: 2)
  out.append(UInt8(ascii: "-"))
  out.append(padded: Int(day), width: 2)
  out.append(UInt8(ascii: "T"))
  out.append(padded: secondsOfDay / 3600, width: 2)
  out.append(UInt8(ascii: ":"))
  out.append(padded: (secondsOfDay / 60) % 60, width: 2)
  out.append(UInt8(ascii: ":"))
  out.append(padded: secondsOfDay % 60, width: 2)
  var fraction = Int(time.nanoseconds)
  if fraction > 0 {
    var width = 9
    while fraction % 10 == 0 {
      fraction /= 10
      width -= 1
    }
    out.append(UInt8(ascii: "."))
    out.append(padded: fraction, width: width)
  }
  out.append(UInt8(ascii: "Z"))
}

func rfc3339Nano(_ time: WallTime) -> [UInt8] {
  var out: [UInt8] = []
  out.reserveCapacity(32)
  appendRFC3339Nano(&out, time)
  return out
}

// MARK: - JSON

private let hexDigits: StaticString = "0123456789abcdef"

/// Appends `bytes` as a JSON string literal (quotes included), escaped as Docker's json-file
/// driver does: `"` and `\` with a backslash, \n and \r short, other control characters and
/// `<`, `>`, `&` as \u00XX, U+2028/U+2029 as \u2028/\u2029, invalid UTF-8 as \ufffd.
func appendJSONString(_ out: inout [UInt8], _ bytes: UnsafeBufferPointer<UInt8>) {
  out.append(UInt8(ascii: "\""))
  let count = bytes.count
  var i = 0
  var runStart = 0
  @inline(__always) func flushRun(_ out: inout [UInt8], _ end: Int) {
    if end > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<end])) }
  }
  while i < count {
    let b = bytes[i]
    if b < 0x80 {
      if b >= 0x20 && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") && b != UInt8(ascii: "<")
        && b != UInt8(ascii: ">") && b != UInt8(ascii: "&")
      {
        i += 1
        continue
      }
      flushRun(&out, i)
      switch b {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"):
        out.append(UInt8(ascii: "\\"))
        out.append(b)
      case UInt8(ascii: "\n"):
        out.append(UInt8(ascii: "\\"))
        out.append(UInt8(ascii: "n"))
      case UInt8(ascii: "\r"):
        out.append(UInt8(ascii: "\\"))
        out.append(UInt8(ascii: "r"))
      default:
        out.append("\\u00")
        hexDigits.withUTF8Buffer { hex in
          out.append(hex[Int(b >> 4)])
          out.append(hex[Int(b & 0xf)])
        }
      }
      i += 1
      runStart = i
      continue
    }
    let length = utf8SequenceLength(bytes, at: i)
    if length == 0 {
      flushRun(&out, i)
      out.append("\\ufffd")
      i += 1
      runStart = i
      continue
    }
    // U+2028 and U+2029 (E2 80 A8 / E2 80 A9) break JavaScript parsers: escaped like Go does.
    if length == 3 && b == 0xE2 && bytes[i + 1] == 0x80 && (bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9) {
      flushRun(&out, i)
      out.append(bytes[i + 2] == 0xA8 ? "\\u2028" : "\\u2029")
      i += 3
      runStart = i
      continue
    }
    i += length
  }
  flushRun(&out, count)
  out.append(UInt8(ascii: "\""))
}

func appendJSONString(_ out: inout [UInt8], _ bytes: [UInt8]) {
  bytes.withUnsafeBufferPointer { appendJSONString(&out, $0) }
}

/// The length of the valid UTF-8 sequence starting at `i` (a byte ≥ 0x80), or 0 when it is
/// invalid (bad lead byte, truncated, overlong, surrogate or beyond U+10FFFF).
func utf8SequenceLength(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
  let b0 = bytes[i]
  let available = bytes.count - i
  @inline(__always) func continuation(_ k: Int) -> Bool { bytes[i + k] & 0xC0 == 0x80 }
  switch b0 {
  case 0xC2...0xDF:
    return available >= 2 && continuation(1) ? 2 : 0
  case 0xE0...0xEF:
    guard available >= 3, continuation(1), continuation(2) else { return 0 }
    let b1 = bytes[i + 1]
    if b0 == 0xE0 && b1 < 0xA0 { return 0 }  // overlong
    if b0 == 0xED && b1 >= 0xA0 { return 0 }  // surrogates
    return 3
  case 0xF0...0xF4:
    guard available >= 4, continuation(1), continuation(2), continuation(3) else { return 0 }
    let b1 = bytes[i + 1]
    if b0 == 0xF0 && b1 < 0x90 { return 0 }  // overlong
    if b0 == 0xF4 && b1 >= 0x90 { return 0 }  // beyond U+10FFFF
    return 4
  default:
    return 0
  }
}
