import BerthOS

/// Sizes and durations as runc's flags take them ("64M", "1g", "5s", "250ms").
public enum Units {
  /// Bytes from "1024", "64k", "64M", "1.5g", "2GiB" (binary multiples, as docker/runc use).
  /// "-1" stays -1 (unlimited).
  public static func bytes(_ text: String) throws -> Int64 {
    let trimmed = text.trimmingSpaces()
    if trimmed == "-1" { return -1 }
    var digitsEnd = trimmed.startIndex
    while digitsEnd < trimmed.endIndex, trimmed[digitsEnd].isNumber || trimmed[digitsEnd] == "." {
      digitsEnd = trimmed.index(after: digitsEnd)
    }
    let number = trimmed[..<digitsEnd]
    var suffix = trimmed[digitsEnd...].lowercased()
    if suffix.hasSuffix("ib") { suffix.removeLast(2) } else if suffix.count > 1, suffix.hasSuffix("b") { suffix.removeLast() }
    let multipliers: [String: Double] = [
      "": 1, "b": 1, "k": 1024, "m": 1_048_576, "g": 1_073_741_824, "t": 1_099_511_627_776,
      "p": 1_125_899_906_842_624,
    ]
    guard !number.isEmpty, let value = Double(number), let multiplier = multipliers[suffix] else {
      throw BerthError(.invalidArgument, "invalid size \(quoted(text)): use a number of bytes with an optional unit (k, m, g, t)")
    }
    let bytes = value * multiplier
    guard bytes < 9.2e18 else { throw BerthError(.invalidArgument, "size \(quoted(text)) is too large") }
    return Int64(bytes)
  }

  /// Nanoseconds from a Go duration ("5s", "1m30s", "250ms", "1h", "0"); a bare number is
  /// seconds. Like Go's time.ParseDuration, every number needs a unit and nothing may follow
  /// the last one.
  public static func durationNanoseconds(_ text: String) throws -> UInt64 {
    let invalid = BerthError(
      .invalidArgument, "invalid duration \(quoted(text)): use a number with a unit, such as 5s or 250ms")
    if let seconds = UInt64(text) { return seconds * 1_000_000_000 }
    // Longest names first, so that "ms" is not read as "m" followed by "s".
    let units: [(String, Double)] = [
      ("ns", 1), ("us", 1e3), ("\u{00B5}s", 1e3), ("\u{03BC}s", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]
    var rest = Substring(text)
    var total = 0.0
    guard !rest.isEmpty else { throw invalid }
    while !rest.isEmpty {
      let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
      guard !number.isEmpty, let value = Double(number) else { throw invalid }
      rest = rest.dropFirst(number.count)
      guard let unit = units.first(where: { rest.hasPrefix($0.0) && !($0.0 == "m" && rest.hasPrefix("ms")) }) else {
        throw invalid
      }
      total += value * unit.1
      rest = rest.dropFirst(unit.0.count)
    }
    return UInt64(total)
  }
}

extension StringProtocol {
  /// The text without leading and trailing spaces, tabs and newlines.
  func trimmingSpaces() -> String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
    guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
      return ""
    }
    return String(self[first...last])
  }
}
