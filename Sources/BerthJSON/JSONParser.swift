/// A one-pass RFC 8259 parser over UTF-8 bytes.
///
/// It validates everything it reads (number grammar, escapes, surrogate pairs, UTF-8, control
/// characters) and turns the first problem into a ``JSONError`` carrying line and column. The
/// position is computed only when an error occurs, so the happy path counts no lines.
struct JSONParser {
  let bytes: UnsafeBufferPointer<UInt8>
  var position = 0
  private var depth = 0
  /// Reused buffer for strings that contain escapes.
  private var scratch: [UInt8] = []

  init(_ bytes: UnsafeBufferPointer<UInt8>) {
    self.bytes = bytes
  }

  /// Parses a whole document: one value, optionally surrounded by whitespace, optionally
  /// preceded by a UTF-8 byte order mark.
  mutating func parseDocument() throws(JSONError) -> JSONValue {
    if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
      position = 3
    }
    skipWhitespace()
    guard position < bytes.count else { throw error("the input is empty") }
    let value = try parseValue()
    skipWhitespace()
    guard position == bytes.count else { throw error("unexpected data after the JSON value") }
    return value
  }

  // MARK: Values

  private mutating func parseValue() throws(JSONError) -> JSONValue {
    guard position < bytes.count else { throw endOfInput() }
    switch bytes[position] {
    case Byte.quote:
      return .string(try parseString())
    case Byte.openBrace:
      return .object(try parseObject())
    case Byte.openBracket:
      return .array(try parseArray())
    case UInt8(ascii: "t"):
      try expectLiteral("true")
      return .bool(true)
    case UInt8(ascii: "f"):
      try expectLiteral("false")
      return .bool(false)
    case UInt8(ascii: "n"):
      try expectLiteral("null")
      return .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      let start = position
      try scanNumber()
      return .number(JSONNumber(unchecked: text(from: start, to: position)))
    case UInt8(ascii: "+"), UInt8(ascii: "."):
      throw error("a number must start with '-' or a digit")
    default:
      throw error("expected a value, found \(describeCurrentByte())")
    }
  }

  private mutating func expectLiteral(_ literal: StaticString) throws(JSONError) {
    let start = position
    for expected in UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount) {
      guard position < bytes.count else { throw endOfInput() }
      guard bytes[position] == expected else {
        position = start
        throw error("expected '\(literal)'")
      }
      position += 1
    }
  }

  private mutating func parseArray() throws(JSONError) -> [JSONValue] {
    try enterContainer()
    defer { depth -= 1 }
    position += 1  // [
    var elements: [JSONValue] = []
    skipWhitespace()
    if position < bytes.count, bytes[position] == Byte.closeBracket {
      position += 1
      return elements
    }
    while true {
      elements.append(try parseValue())
      skipWhitespace()
      guard position < bytes.count else { throw endOfInput() }
      switch bytes[position] {
      case Byte.comma:
        position += 1
        skipWhitespace()
        if position < bytes.count, bytes[position] == Byte.closeBracket {
          throw error("trailing comma before ']'")
        }
      case Byte.closeBracket:
        position += 1
        return elements
      default:
        throw error("expected ',' or ']'")
      }
    }
  }

  private mutating func parseObject() throws(JSONError) -> JSONObject {
    try enterContainer()
    defer { depth -= 1 }
    position += 1  // {
    var object = JSONObject()
    skipWhitespace()
    if position < bytes.count, bytes[position] == Byte.closeBrace {
      position += 1
      return object
    }
    while true {
      guard position < bytes.count else { throw endOfInput() }
      guard bytes[position] == Byte.quote else {
        throw error(object.isEmpty ? "expected a quoted key or '}'" : "expected a quoted key")
      }
      let key = try parseString()
      skipWhitespace()
      guard position < bytes.count else { throw endOfInput() }
      guard bytes[position] == Byte.colon else { throw error("expected ':' after the key") }
      position += 1
      skipWhitespace()
      object.members.set(try parseValue(), for: key)
      skipWhitespace()
      guard position < bytes.count else { throw endOfInput() }
      switch bytes[position] {
      case Byte.comma:
        position += 1
        skipWhitespace()
        if position < bytes.count, bytes[position] == Byte.closeBrace {
          throw error("trailing comma before '}'")
        }
      case Byte.closeBrace:
        position += 1
        return object
      default:
        throw error("expected ',' or '}'")
      }
    }
  }

  private mutating func enterContainer() throws(JSONError) {
    depth += 1
    guard depth <= JSON.maximumDepth else {
      throw error("nesting is deeper than \(JSON.maximumDepth) levels")
    }
  }

  // MARK: Numbers

  /// Advances over a number, checking the RFC 8259 grammar.
  mutating func scanNumber() throws(JSONError) {
    if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
    guard position < bytes.count else { throw endOfInput() }
    guard isDigit(bytes[position]) else { throw error("expected a digit after '-'") }
    if bytes[position] == UInt8(ascii: "0") {
      position += 1
      if position < bytes.count, isDigit(bytes[position]) {
        throw error("leading zeros are not allowed in numbers")
      }
    } else {
      skipDigits()
    }
    if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
      position += 1
      guard position < bytes.count, isDigit(bytes[position]) else {
        throw error("expected a digit after the decimal point")
      }
      skipDigits()
    }
    if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
      position += 1
      if position < bytes.count,
        bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")
      {
        position += 1
      }
      guard position < bytes.count, isDigit(bytes[position]) else {
        throw error("expected a digit in the exponent")
      }
      skipDigits()
    }
  }

  private mutating func skipDigits() {
    while position < bytes.count, isDigit(bytes[position]) { position += 1 }
  }

  private func isDigit(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
  }

  // MARK: Strings

  /// Parses a string starting at its opening quote.
  private mutating func parseString() throws(JSONError) -> String {
    position += 1  // "
    let start = position
    // Fast path: no escapes, so the string is a slice of the input.
    while position < bytes.count {
      let byte = bytes[position]
      if byte == Byte.quote {
        let string = text(from: start, to: position)
        position += 1
        return string
      } else if byte == Byte.backslash {
        return try parseEscapedString(from: start)
      } else if byte < 0x20 {
        throw controlCharacter(byte)
      } else if byte < 0x80 {
        position += 1
      } else {
        try skipUTF8Sequence()
      }
    }
    throw error("unterminated string")
  }

  /// Continues a string at its first backslash, building the decoded bytes in `scratch`.
  private mutating func parseEscapedString(from start: Int) throws(JSONError) -> String {
    scratch.removeAll(keepingCapacity: true)
    scratch.append(contentsOf: bytes[start..<position])
    while position < bytes.count {
      let byte = bytes[position]
      if byte == Byte.quote {
        position += 1
        return String(decoding: scratch, as: UTF8.self)
      } else if byte == Byte.backslash {
        try parseEscape()
      } else if byte < 0x20 {
        throw controlCharacter(byte)
      } else if byte < 0x80 {
        scratch.append(byte)
        position += 1
      } else {
        let sequenceStart = position
        try skipUTF8Sequence()
        scratch.append(contentsOf: bytes[sequenceStart..<position])
      }
    }
    throw error("unterminated string")
  }

  /// Decodes one escape sequence at a backslash and appends its UTF-8 to `scratch`.
  private mutating func parseEscape() throws(JSONError) {
    let escapeStart = position
    position += 1
    guard position < bytes.count else { throw error("unterminated string") }
    let byte = bytes[position]
    position += 1
    switch byte {
    case Byte.quote, Byte.backslash, UInt8(ascii: "/"): scratch.append(byte)
    case UInt8(ascii: "b"): scratch.append(0x08)
    case UInt8(ascii: "f"): scratch.append(0x0C)
    case UInt8(ascii: "n"): scratch.append(0x0A)
    case UInt8(ascii: "r"): scratch.append(0x0D)
    case UInt8(ascii: "t"): scratch.append(0x09)
    case UInt8(ascii: "u"):
      let unit = try parseHex4()
      var scalarValue = UInt32(unit)
      if unit >= 0xD800 && unit <= 0xDBFF {
        // A high surrogate must be followed by an escaped low surrogate.
        guard position + 1 < bytes.count, bytes[position] == Byte.backslash,
          bytes[position + 1] == UInt8(ascii: "u")
        else {
          position = escapeStart
          throw error("unpaired surrogate \\u\(hex(unit)) (a high surrogate must be followed by a low one)")
        }
        position += 2
        let low = try parseHex4()
        guard low >= 0xDC00 && low <= 0xDFFF else {
          position = escapeStart
          throw error("unpaired surrogate \\u\(hex(unit)) (followed by \\u\(hex(low)), not a low surrogate)")
        }
        scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
      } else if unit >= 0xDC00 && unit <= 0xDFFF {
        position = escapeStart
        throw error("unpaired surrogate \\u\(hex(unit)) (a low surrogate without a high one)")
      }
      appendUTF8(scalarValue)
    default:
      position = escapeStart
      throw error("invalid escape \\\(Unicode.Scalar(byte).escaped(asASCII: true)) in string")
    }
  }

  private mutating func parseHex4() throws(JSONError) -> UInt16 {
    var value: UInt16 = 0
    for _ in 0..<4 {
      guard position < bytes.count else { throw endOfInput() }
      let byte = bytes[position]
      let digit: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
      default: throw error("expected 4 hex digits after \\u")
      }
      value = value << 4 | UInt16(digit)
      position += 1
    }
    return value
  }

  private mutating func appendUTF8(_ scalar: UInt32) {
    switch scalar {
    case 0..<0x80:
      scratch.append(UInt8(scalar))
    case 0x80..<0x800:
      scratch.append(UInt8(0xC0 | scalar >> 6))
      scratch.append(UInt8(0x80 | scalar & 0x3F))
    case 0x800..<0x10000:
      scratch.append(UInt8(0xE0 | scalar >> 12))
      scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
      scratch.append(UInt8(0x80 | scalar & 0x3F))
    default:
      scratch.append(UInt8(0xF0 | scalar >> 18))
      scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
      scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
      scratch.append(UInt8(0x80 | scalar & 0x3F))
    }
  }

  /// Advances over one multi-byte UTF-8 sequence, rejecting overlong forms, surrogates and
  /// values above U+10FFFF (the well-formed table of Unicode 15, section 3.9).
  private mutating func skipUTF8Sequence() throws(JSONError) {
    let lead = bytes[position]
    let length: Int
    var secondRange: ClosedRange<UInt8> = 0x80...0xBF
    switch lead {
    case 0xC2...0xDF: length = 2
    case 0xE0: length = 3; secondRange = 0xA0...0xBF
    case 0xE1...0xEC, 0xEE...0xEF: length = 3
    case 0xED: length = 3; secondRange = 0x80...0x9F
    case 0xF0: length = 4; secondRange = 0x90...0xBF
    case 0xF1...0xF3: length = 4
    case 0xF4: length = 4; secondRange = 0x80...0x8F
    default: throw error("invalid UTF-8 byte 0x\(hex(lead)) in string")
    }
    guard position + length <= bytes.count else {
      throw error("truncated UTF-8 sequence in string")
    }
    guard secondRange.contains(bytes[position + 1]) else {
      throw error("invalid UTF-8 sequence in string")
    }
    for offset in 2..<length where bytes[position + offset] & 0xC0 != 0x80 {
      throw error("invalid UTF-8 sequence in string")
    }
    position += length
  }

  // MARK: Helpers

  private mutating func skipWhitespace() {
    while position < bytes.count {
      switch bytes[position] {
      case 0x20, 0x0A, 0x0D, 0x09: position += 1
      default: return
      }
    }
  }

  /// The input bytes in `start..<end` as a string; callers have validated them as UTF-8.
  private func text(from start: Int, to end: Int) -> String {
    String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
  }

  private func describeCurrentByte() -> String {
    let byte = bytes[position]
    if byte > 0x20 && byte < 0x7F { return "'\(Unicode.Scalar(byte))'" }
    return "byte 0x\(hex(byte))"
  }

  private func controlCharacter(_ byte: UInt8) -> JSONError {
    error("unescaped control character U+\(hex(UInt16(byte))) in string")
  }

  private func endOfInput() -> JSONError {
    var copy = self
    copy.position = bytes.count
    return copy.error("unexpected end of input")
  }

  /// A syntax error at the current position.
  private func error(_ message: String) -> JSONError {
    var line = 1
    var column = 1
    for byte in bytes[0..<min(position, bytes.count)] {
      if byte == Byte.newline {
        line += 1
        column = 1
      } else if byte & 0xC0 != 0x80 {  // count scalars, not continuation bytes
        column += 1
      }
    }
    return JSONError(syntax: message, line: line, column: column)
  }

  private func hex<T: FixedWidthInteger>(_ value: T) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    let width = T.bitWidth / 4
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
  }
}

/// ASCII bytes the parser and serializer look for.
enum Byte {
  static let quote = UInt8(ascii: "\"")
  static let backslash = UInt8(ascii: "\\")
  static let comma = UInt8(ascii: ",")
  static let colon = UInt8(ascii: ":")
  static let openBrace = UInt8(ascii: "{")
  static let closeBrace = UInt8(ascii: "}")
  static let openBracket = UInt8(ascii: "[")
  static let closeBracket = UInt8(ascii: "]")
  static let newline = UInt8(ascii: "\n")
}
