/// The value syntaxes of Docker's command line, with Docker's error texts: sizes ("512m"),
/// Go durations ("1m30s"), Go integers, decimal CPU counts ("1.5").
///
/// Written from the documented behaviour of docker/go-units and Go's strconv and time packages,
/// so that a value Docker accepts is accepted here with the same meaning, and a value Docker
/// refuses is refused with the text Docker prints.
public enum FlagSyntax {
  /// One flag in Docker's error format: `-m, --memory` or `--memory-swap`.
  public static func flagLabel(long: String, short: Character? = nil) -> String {
    if let short { return "-\(short), --\(long)" }
    return "--\(long)"
  }

  /// `invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'`.
  public static func invalidArgument(_ value: String, long: String, short: Character? = nil, _ reason: String) -> BerthErrorMessage {
    BerthErrorMessage("invalid argument \(goQuote(value)) for \"\(flagLabel(long: long, short: short))\" flag: \(reason)")
  }

  // MARK: Flag values

  /// A size flag's value (``ramInBytes(_:)``): nil when the flag is not given; a bad value
  /// fails as pflag words it (``invalidArgument(_:long:short:_:)``).
  public static func sizeFlag(_ value: String?, long: String, short: Character? = nil) throws(BerthErrorMessage) -> Int64? {
    guard let value else { return nil }
    do { return try ramInBytes(value) } catch { throw invalidArgument(value, long: long, short: short, error.text) }
  }

  /// An integer flag's value (``parseInt(_:bits:)``): nil when the flag is not given.
  public static func integerFlag(_ value: String?, long: String, short: Character? = nil) throws(BerthErrorMessage) -> Int64? {
    guard let value else { return nil }
    do { return try parseInt(value) } catch { throw invalidArgument(value, long: long, short: short, error.text) }
  }

  /// `--cpus` (``nanoCPUs(_:)``): nil when the flag is not given.
  public static func cpusFlag(_ value: String?) throws(BerthErrorMessage) -> Int64? {
    guard let value else { return nil }
    do { return try nanoCPUs(value) } catch { throw invalidArgument(value, long: "cpus", error.text) }
  }

  // MARK: Sizes

  /// docker/go-units `RAMInBytes`: "512m", "1.5g", "64MiB", "1024" (bytes); binary multiples,
  /// case-insensitive, the "b" and "i" optional. Fails with `invalid size: 'x'`.
  public static func ramInBytes(_ text: String) throws(BerthErrorMessage) -> Int64 {
    try parseSize(text, base: 1024)
  }

  /// docker/go-units `FromHumanSize`: as `ramInBytes` with decimal multiples (json-file's max-size).
  public static func humanSizeInBytes(_ text: String) throws(BerthErrorMessage) -> Int64 {
    try parseSize(text, base: 1000)
  }

  private static func parseSize(_ text: String, base: Double) throws(BerthErrorMessage) -> Int64 {
    let invalid = BerthErrorMessage("invalid size: '\(text)'")
    let bytes = Array(text.utf8)
    var index = 0
    func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }
    // (\d+(\.\d+)*)
    let numberStart = index
    guard index < bytes.count, isDigit(bytes[index]) else { throw invalid }
    while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    while index + 1 < bytes.count, bytes[index] == UInt8(ascii: "."), isDigit(bytes[index + 1]) {
      index += 1
      while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }
    let number = String(decoding: bytes[numberStart..<index], as: UTF8.self)
    // " ?([kmgtp])?i?b?$", case-insensitive
    if index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
    var power = 0
    if index < bytes.count, let found = Array("kmgtp".utf8).firstIndex(of: bytes[index] | 0x20) {
      power = found + 1
      index += 1
    }
    if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "i") { index += 1 }
    if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "b") { index += 1 }
    guard index == bytes.count else { throw invalid }
    guard var size = Double(number) else {
      throw BerthErrorMessage("strconv.ParseFloat: parsing \(goQuote(number)): invalid syntax")
    }
    for _ in 0..<power { size *= base }
    guard size < 9.223372036854775807e18 else { return Int64.max }
    return Int64(size)
  }

  // MARK: Integers

  /// `text` without a leading "+" or "-", and whether that was "-".
  private static func splitSign(_ text: Substring) -> (negative: Bool, rest: Substring) {
    guard let first = text.first, first == "+" || first == "-" else { return (false, text) }
    return (first == "-", text.dropFirst())
  }

  /// Go's `strconv.ParseInt(text, 0, 64)` as pflag's integer flags call it: decimal, or with a
  /// 0x / 0o / 0b / 0 prefix; the errors are Go's.
  public static func parseInt(_ text: String, bits: Int = 64) throws(BerthErrorMessage) -> Int64 {
    let syntax = BerthErrorMessage("strconv.ParseInt: parsing \(goQuote(text)): invalid syntax")
    let range = BerthErrorMessage("strconv.ParseInt: parsing \(goQuote(text)): value out of range")
    let (negative, unsigned) = splitSign(Substring(text))
    var digits = unsigned
    var radix = 10
    let lower = digits.lowercased()
    if lower.hasPrefix("0x") { radix = 16; digits = digits.dropFirst(2) }
    else if lower.hasPrefix("0o") { radix = 8; digits = digits.dropFirst(2) }
    else if lower.hasPrefix("0b") { radix = 2; digits = digits.dropFirst(2) }
    else if digits.count > 1 && digits.hasPrefix("0") { radix = 8; digits = digits.dropFirst() }
    digits = Substring(digits.filter { $0 != "_" || radix == 10 })
    guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isHexDigit }) else { throw syntax }
    guard let magnitude = UInt64(digits, radix: radix) else {
      if digits.allSatisfy({ $0.isASCII && ($0.hexDigitValue ?? 99) < radix }) { throw range }
      throw syntax
    }
    let limit = UInt64(1) << UInt64(bits - 1)
    if negative {
      guard magnitude <= limit else { throw range }
      return magnitude == limit ? (bits == 64 ? Int64.min : -Int64(limit)) : -Int64(magnitude)
    }
    guard magnitude < limit else { throw range }
    return Int64(magnitude)
  }

  // MARK: CPUs

  /// docker/cli's `ParseCPUs`: a decimal or fraction ("1.5", "3/2", "1e-2") times 10^9, which
  /// must be a whole number of nano-CPUs.
  public static func nanoCPUs(_ text: String) throws(BerthErrorMessage) -> Int64 {
    let unparsable = BerthErrorMessage("failed to parse \(text) as a rational number")
    guard let (numerator, denominator) = rational(text) else { throw unparsable }
    // numerator / denominator * 1e9 must be an integer.
    let (scaled, overflow) = numerator.multipliedReportingOverflow(by: 1_000_000_000)
    guard !overflow else { return numerator < 0 ? Int64.min : Int64.max }
    guard scaled % denominator == 0 else { throw BerthErrorMessage("value is too precise") }
    return scaled / denominator
  }

  /// A decimal ("1.25", ".5", "2e3") or a fraction ("5/4") as numerator and denominator.
  private static func rational(_ text: String) -> (Int64, Int64)? {
    if let slash = text.firstIndex(of: "/") {
      guard let numerator = Int64(text[..<slash]), let denominator = Int64(text[text.index(after: slash)...]),
            denominator != 0 else { return nil }
      return denominator < 0 ? (-numerator, -denominator) : (numerator, denominator)
    }
    let (negative, unsigned) = splitSign(Substring(text))
    var rest = unsigned
    var exponent = 0
    if let e = rest.firstIndex(where: { $0 == "e" || $0 == "E" }) {
      guard let value = Int(rest[rest.index(after: e)...]), abs(value) < 30 else { return nil }
      exponent = value
      rest = rest[..<e]
    }
    let parts = rest.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    let whole = parts[0], fraction = parts.count > 1 ? parts[1] : ""
    guard !(whole.isEmpty && fraction.isEmpty),
          (whole + fraction).allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    var digits = String(whole + fraction)
    exponent -= fraction.count
    while digits.count > 1 && digits.hasPrefix("0") { digits.removeFirst() }
    guard digits.count <= 18, var numerator = Int64(digits) else { return nil }
    var denominator: Int64 = 1
    while exponent > 0 {
      let (value, overflow) = numerator.multipliedReportingOverflow(by: 10)
      if overflow { return nil }
      numerator = value
      exponent -= 1
    }
    while exponent < 0 {
      let (value, overflow) = denominator.multipliedReportingOverflow(by: 10)
      if overflow { return nil }
      denominator = value
      exponent += 1
    }
    return (negative ? -numerator : numerator, denominator)
  }

  // MARK: Durations

  /// Go's `time.ParseDuration`: "300ms", "1.5h", "2h45m", "-1s", "0"; units ns, us (µs), ms,
  /// s, m, h. Returns nanoseconds.
  public static func goDuration(_ text: String) throws(BerthErrorMessage) -> Int64 {
    let invalid = BerthErrorMessage("time: invalid duration \(goQuote(text))")
    let (negative, unsigned) = splitSign(Substring(text))
    var scalars = Array(unsigned.unicodeScalars)[...]
    if scalars.count == 1 && scalars.first == "0" { return 0 }
    if scalars.isEmpty { throw invalid }
    func isDigit(_ scalar: Unicode.Scalar) -> Bool { scalar.value >= 48 && scalar.value <= 57 }
    let maximum = UInt64(1) << 63
    var total: UInt64 = 0
    while !scalars.isEmpty {
      guard let first = scalars.first, first == "." || isDigit(first) else { throw invalid }
      var whole: UInt64 = 0
      var sawWhole = false
      while let scalar = scalars.first, isDigit(scalar) {
        let (times, o1) = whole.multipliedReportingOverflow(by: 10)
        let (plus, o2) = times.addingReportingOverflow(UInt64(scalar.value - 48))
        if o1 || o2 || plus > maximum { throw invalid }
        whole = plus
        sawWhole = true
        scalars = scalars.dropFirst()
      }
      var fraction: UInt64 = 0
      var scale = 1.0
      var sawFraction = false
      if scalars.first == "." {
        scalars = scalars.dropFirst()
        var overflowed = false
        while let scalar = scalars.first, isDigit(scalar) {
          sawFraction = true
          scalars = scalars.dropFirst()
          if overflowed { continue }
          let (times, o1) = fraction.multipliedReportingOverflow(by: 10)
          let (plus, o2) = times.addingReportingOverflow(UInt64(scalar.value - 48))
          if o1 || o2 || plus > maximum { overflowed = true; continue }
          fraction = plus
          scale *= 10
        }
      }
      if !sawWhole && !sawFraction { throw invalid }
      var unitEnd = scalars.startIndex
      while unitEnd < scalars.endIndex, scalars[unitEnd] != ".", !isDigit(scalars[unitEnd]) {
        unitEnd = scalars.index(after: unitEnd)
      }
      if unitEnd == scalars.startIndex {
        throw BerthErrorMessage("time: missing unit in duration \(goQuote(text))")
      }
      var unitName = ""
      unitName.unicodeScalars.append(contentsOf: scalars[..<unitEnd])
      scalars = scalars[unitEnd...]
      guard let unit = durationUnits[unitName] else {
        throw BerthErrorMessage("time: unknown unit \(goQuote(unitName)) in duration \(goQuote(text))")
      }
      if whole > maximum / unit { throw invalid }
      whole *= unit
      if fraction > 0 {
        whole += UInt64(Double(fraction) * (Double(unit) / scale))
        if whole > maximum { throw invalid }
      }
      total += whole
      if total > maximum { throw invalid }
    }
    if negative { return total == maximum ? Int64.min : -Int64(total) }
    if total > maximum - 1 { throw invalid }
    return Int64(total)
  }

  private static let durationUnits: [String: UInt64] = [
    "ns": 1, "us": 1_000, "\u{00B5}s": 1_000, "\u{03BC}s": 1_000, "ms": 1_000_000,
    "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
  ]

  /// Go's `time.Duration.String()`: "1m30s", "500ms", "0s".
  public static func goDurationString(_ nanoseconds: Int64) -> String {
    if nanoseconds == 0 { return "0s" }
    let negative = nanoseconds < 0
    let magnitude = nanoseconds.magnitude
    var text: String
    if magnitude < 1_000_000_000 {
      let (unit, divisor): (String, UInt64) =
        magnitude < 1_000 ? ("ns", 1) : magnitude < 1_000_000 ? ("µs", 1_000) : ("ms", 1_000_000)
      text = decimal(magnitude, divisor) + unit
    } else {
      let seconds = magnitude / 1_000_000_000
      text = decimal(magnitude % 60_000_000_000, 1_000_000_000) + "s"
      if seconds >= 60 {
        text = "\((seconds / 60) % 60)m" + text
        if seconds >= 3600 { text = "\(seconds / 3600)h" + text }
      }
    }
    return negative ? "-" + text : text
  }

  private static func decimal(_ value: UInt64, _ divisor: UInt64) -> String {
    let whole = value / divisor
    let fraction = value % divisor
    guard fraction > 0 else { return "\(whole)" }
    var digits = String(fraction)
    let width = String(divisor - 1).count
    digits = String(repeating: "0", count: width - digits.count) + digits
    while digits.hasSuffix("0") { digits.removeLast() }
    return "\(whole).\(digits)"
  }

  // MARK: Booleans

  /// Go's `strconv.ParseBool`.
  public static func goBool(_ text: String) -> Bool? {
    switch text {
    case "1", "t", "T", "true", "TRUE", "True": true
    case "0", "f", "F", "false", "FALSE", "False": false
    default: nil
    }
  }

  /// Go's `%q` (strconv.Quote) for a plain string: double quotes, with escapes for quotes,
  /// backslashes and control characters.
  public static func goQuote(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": result += "\\\""
      case "\\": result += "\\\\"
      case "\n": result += "\\n"
      case "\t": result += "\\t"
      case "\r": result += "\\r"
      case "\u{07}": result += "\\a"
      case "\u{08}": result += "\\b"
      case "\u{0B}": result += "\\v"
      case "\u{0C}": result += "\\f"
      default:
        if scalar.value < 0x20 || scalar.value == 0x7f {
          result += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
        } else {
          result.unicodeScalars.append(scalar)
        }
      }
    }
    return result + "\""
  }
}

/// An error message on its way to becoming a `BerthError` (typed throws keep the parsers free of
/// existential errors).
public struct BerthErrorMessage: Error, Sendable, Equatable, CustomStringConvertible {
  public var text: String
  public init(_ text: String) { self.text = text }
  public var description: String { text }
}

extension String {
  fileprivate func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: "0", count: width - count) + self
  }
}
