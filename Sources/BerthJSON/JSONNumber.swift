/// A JSON number, kept as its literal text.
///
/// Keeping the text lets every integer that fits `Int64` or `UInt64` round-trip exactly, which
/// a `Double` cannot do above 2^53. The numeric accessors convert on demand.
///
/// Two numbers are equal when they denote the same value: `1`, `1.0` and `10e-1` are equal.
public struct JSONNumber: Equatable, Sendable, CustomStringConvertible {
  /// The number as written in JSON, e.g. `-12`, `0.5`, `1e+20`. Always valid JSON grammar.
  public let text: String

  /// Wraps text the parser has already validated.
  init(unchecked text: String) {
    self.text = text
  }

  /// Creates a number from its JSON text; `nil` if `text` is not a valid JSON number
  /// (RFC 8259 grammar: no `+`, no leading zeros, digits on both sides of `.`).
  public init?(text: String) {
    guard JSONNumber.isValid(text) else { return nil }
    self.text = text
  }

  /// Creates a number from an integer.
  public init<T: FixedWidthInteger>(_ value: T) {
    text = String(value)
  }

  /// Creates a number from a `Double`; `nil` for infinities and NaN, which JSON cannot express.
  ///
  /// The text is the shortest form that reads back as the same `Double` (Swift's
  /// `description`, e.g. `0.1`, `1e+20`, `1e-07`), except that integral values drop the `.0`
  /// (`1`, not `1.0`), as Go's encoding/json writes them; they still read back exactly.
  public init?(_ value: Double) {
    guard let text = JSONNumber.format(value) else {
      return nil
    }
    self.text = text
  }

  /// Creates a number from a `Float` in its own shortest form (`0.1`, not `0.10000000149011612`);
  /// `nil` for infinities and NaN.
  public init?(_ value: Float) {
    guard let text = JSONNumber.format(value) else { return nil }
    self.text = text
  }

  public var description: String { text }

  /// The value as `Int64`, if it is an integer in range (`3`, `3.0` and `3e0` all qualify).
  public var int64: Int64? { integer(as: Int64.self) }

  /// The value as `UInt64`, if it is a non-negative integer in range.
  public var uint64: UInt64? { integer(as: UInt64.self) }

  /// The value as the nearest `Double`; `nil` if it is beyond `Double`'s range (e.g. `1e400`).
  /// Tiny values such as `1e-400` become zero.
  public var double: Double? {
    guard let value = Double(text), value.isFinite else { return nil }
    return value
  }

  /// The value as any fixed-width integer type, if it is an integer in that type's range.
  public func integer<T: FixedWidthInteger>(as type: T.Type = T.self) -> T? {
    switch integerValue {
    case .exact(let negative, let magnitude):
      return JSONNumber.convert(negative: negative, magnitude: magnitude, to: T.self)
    case .fraction, .outOfRange:
      return nil
    }
  }

  public static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool {
    if lhs.text == rhs.text { return true }
    switch (lhs.integerValue, rhs.integerValue) {
    case (.exact(let n1, let m1), .exact(let n2, let m2)):
      return m1 == m2 && (n1 == n2 || m1 == 0)
    case (.exact, _), (_, .exact):
      return false
    default:
      // Neither is an integer that fits 64 bits: compare as doubles when both are in range.
      guard let a = lhs.double, let b = rhs.double else { return false }
      return a == b
    }
  }
}

// MARK: - Exact integer conversion

extension JSONNumber {
  /// Whether the number denotes an integer, and its sign and magnitude if that fits 64 bits.
  enum IntegerValue: Equatable {
    case exact(negative: Bool, magnitude: UInt64)
    /// The value has a non-zero fractional part.
    case fraction
    /// An integer whose magnitude exceeds `UInt64.max`.
    case outOfRange
  }

  /// Classifies the value exactly, in decimal, so `1e3` is the integer 1000 and
  /// `18446744073709551616` is out of range rather than rounded to a `Double`.
  var integerValue: IntegerValue {
    // Fast path: plain integers, the overwhelmingly common case.
    var negative = false
    var magnitude: UInt64 = 0
    var plain = true
    for byte in text.utf8 {
      if byte == UInt8(ascii: "-") {
        negative = true
      } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
        let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
        if overflow1 || overflow2 { return .outOfRange }
        magnitude = sum
      } else {
        plain = false
        break
      }
    }
    if plain { return .exact(negative: negative, magnitude: magnitude) }
    return JSONNumber.classifyDecimal(text)
  }

  /// The general case: `[-]digits[.digits][e[+-]digits]`.
  private static func classifyDecimal(_ text: String) -> IntegerValue {
    var negative = false
    var digits: [UInt8] = []  // significant digits, integer and fraction parts together
    var fractionDigits = 0
    var exponent = 0
    var exponentNegative = false
    enum Part { case integer, fraction, exponent }
    var part = Part.integer
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "-"):
        if part == .exponent { exponentNegative = true } else { negative = true }
      case UInt8(ascii: "+"):
        break
      case UInt8(ascii: "."):
        part = .fraction
      case UInt8(ascii: "e"), UInt8(ascii: "E"):
        part = .exponent
      default:
        let digit = Int(byte) - Int(UInt8(ascii: "0"))
        switch part {
        case .integer:
          digits.append(UInt8(digit))
        case .fraction:
          digits.append(UInt8(digit))
          fractionDigits += 1
        case .exponent:
          // Saturate: any exponent this large decides the outcome by itself.
          exponent = min(exponent * 10 + digit, 1_000_000_000)
        }
      }
    }
    // Drop leading zeros; all zeros is zero whatever the exponent.
    guard let first = digits.firstIndex(where: { $0 != 0 }) else {
      return .exact(negative: negative, magnitude: 0)
    }
    digits.removeFirst(first)
    let scale = (exponentNegative ? -exponent : exponent) - fractionDigits
    if scale < 0 {
      let dropped = -scale
      // Every digit below the decimal point must be zero.
      guard dropped < digits.count, digits.suffix(dropped).allSatisfy({ $0 == 0 }) else {
        return .fraction
      }
      digits.removeLast(dropped)
    } else if scale > 0 {
      // UInt64.max has 20 digits.
      guard digits.count + scale <= 20 else { return .outOfRange }
      digits.append(contentsOf: repeatElement(0, count: scale))
    }
    var magnitude: UInt64 = 0
    for digit in digits {
      let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
      let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
      if overflow1 || overflow2 { return .outOfRange }
      magnitude = sum
    }
    return .exact(negative: negative, magnitude: magnitude)
  }

  static func convert<T: FixedWidthInteger>(negative: Bool, magnitude: UInt64, to: T.Type) -> T? {
    if !negative || magnitude == 0 { return T(exactly: magnitude) }
    guard T.isSigned else { return nil }
    // -(m - 1) - 1 reaches T.min without overflowing.
    guard let reduced = T(exactly: magnitude - 1) else { return nil }
    return 0 - reduced - 1
  }
}

// MARK: - Grammar and formatting

extension JSONNumber {
  /// Checks RFC 8259 number grammar: `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?`.
  static func isValid(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBufferPointer { buffer in
      var parser = JSONParser(buffer)
      guard (try? parser.scanNumber()) != nil else { return false }
      return parser.position == buffer.count
    }
  }

  /// Swift's shortest round-trip `description`, minus a trailing `.0` (so `1.0` prints as
  /// `1`, as in Go); `nil` for values JSON cannot express.
  static func format<F: BinaryFloatingPoint & LosslessStringConvertible>(_ value: F) -> String? {
    guard value.isFinite else { return nil }
    let text = value.description
    return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
  }
}
