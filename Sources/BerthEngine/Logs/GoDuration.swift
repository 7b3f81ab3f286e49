/// Go's `time.ParseDuration`, which Docker tries first on `--since`/`--until`:
/// `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` with units ns, us (µs, μs), ms, s, m, h — `10m`,
/// `1h30m`, `1.5h`, `300ms`, `-2s`, `.5s`. A lone `0` needs no unit.
enum GoDuration {
  private static let units: [(name: [UInt8], nanoseconds: UInt64)] = [
    (Array("ns".utf8), 1),
    (Array("us".utf8), 1_000),
    (Array("µs".utf8), 1_000),  // U+00B5 micro sign
    (Array("μs".utf8), 1_000),  // U+03BC Greek small letter mu
    (Array("ms".utf8), 1_000_000),
    (Array("s".utf8), 1_000_000_000),
    (Array("m".utf8), 60_000_000_000),
    (Array("h".utf8), 3_600_000_000_000),
  ]

  /// The duration in nanoseconds, or nil when `text` is not one (or overflows 64 bits).
  static func parse(_ text: String) -> Int64? {
    var bytes = Array(text.utf8)[...]
    var negative = false
    if let sign = bytes.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
      negative = sign == UInt8(ascii: "-")
      bytes = bytes.dropFirst()
    }
    if bytes.elementsEqual([UInt8(ascii: "0")]) { return 0 }
    guard !bytes.isEmpty else { return nil }
    let limit: UInt64 = 1 << 63
    var total: UInt64 = 0
    func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }
    while let first = bytes.first {
      guard first == UInt8(ascii: ".") || isDigit(first) else { return nil }
      // The integer part.
      var whole: UInt64 = 0
      var sawDigits = false
      while let byte = bytes.first, isDigit(byte) {
        let (times, overflow1) = whole.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
        guard !overflow1, !overflow2, sum <= limit else { return nil }
        whole = sum
        sawDigits = true
        bytes = bytes.dropFirst()
      }
      // The fraction: digits that would overflow are read and ignored, as Go does.
      var fraction: UInt64 = 0
      var scale = 1.0
      if bytes.first == UInt8(ascii: ".") {
        bytes = bytes.dropFirst()
        var overflowed = false
        while let byte = bytes.first, isDigit(byte) {
          sawDigits = true
          if !overflowed {
            let (times, overflow1) = fraction.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            if overflow1 || overflow2 || sum > limit {
              overflowed = true
            } else {
              fraction = sum
              scale *= 10
            }
          }
          bytes = bytes.dropFirst()
        }
      }
      guard sawDigits else { return nil }
      // The unit: everything up to the next digit or dot.
      let unitEnd = bytes.firstIndex { $0 == UInt8(ascii: ".") || isDigit($0) } ?? bytes.endIndex
      let unitName = bytes[bytes.startIndex..<unitEnd]
      guard !unitName.isEmpty, let unit = units.first(where: { $0.name.elementsEqual(unitName) })?.nanoseconds
      else { return nil }
      bytes = bytes[unitEnd...]
      guard whole <= limit / unit else { return nil }
      var value = whole * unit
      if fraction > 0 {
        value += UInt64(Double(fraction) * (Double(unit) / scale))
        guard value <= limit else { return nil }
      }
      total += value
      guard total <= limit else { return nil }
    }
    if negative { return total == limit ? Int64.min : -Int64(total) }
    guard total < limit else { return nil }
    return Int64(total)
  }
}
