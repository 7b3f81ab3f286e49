import BerthOS

#if canImport(Glibc)
import Glibc
#endif

extension DockerTime {
  /// Parses a `--since` / `--until` value the way `docker logs` does (Docker's
  /// `GetTimestamp`), trying in turn:
  ///
  /// 1. a Go duration (`10m`, `1h30m`, `1.5h`, `300ms`): that long before `now`;
  /// 2. a date: RFC 3339 with or without fraction and zone (`2026-11-21T08:00:00Z`,
  ///    `2026-11-21T08:00:00.5+01:00`), `2026-11-21T08`, `2026-11-21T08:00`, `2026-11-21`,
  ///    `2026-11-21Z`, `2026-11-21+01:00`. Without `Z` or an offset the time is local, in
  ///    the zone's offset at `now` (Docker uses `time.FixedZone(now.Zone())`);
  /// 3. a Unix timestamp `seconds[.nanoseconds]` (`1700000000`, `1700000000.123456789`).
  ///
  /// Unlike Docker, a duration keeps its sub-second precision (Docker truncates the result to
  /// whole seconds).
  ///
  /// - Parameters:
  ///   - option: the flag's name for messages ("since", "until").
  ///   - now: the reference for durations and for the local zone's offset.
  ///   - localOffset: seconds east of UTC for local times; nil asks the C library.
  /// - Throws: `BerthError(.invalidArgument)`, worded like Docker:
  ///   `invalid value for "since": failed to parse value as time or duration: "x"`.
  public static func parse(
    _ value: String, option: String = "since", now: DockerTime = .now(), localOffset: Int? = nil
  ) throws -> DockerTime {
    do {
      return try parseValue(value, now: now, localOffset: localOffset)
    } catch let reason as TimeValueError {
      throw BerthError(.invalidArgument, "invalid value for \(quoted(option)): \(reason.message)")
    }
  }

  private static func parseValue(_ value: String, now: DockerTime, localOffset: Int?) throws -> DockerTime {
    if value != "0", let duration = try? FlagSyntax.goDuration(value) {
      return now.adding(nanoseconds: -duration)
    }
    let utf8 = Array(value.utf8)
    func count(_ byte: Character) -> Int { utf8.reduce(0) { $0 + ($1 == byte.asciiValue ? 1 : 0) } }
    // Docker's rules for choosing the layout, kept as they are so that the same text means
    // the same time.
    let hasZone = value.contains { $0 == "z" || $0 == "Z" || $0 == "+" } || count("-") == 3
    let layout: TimeLayout
    if value.contains(".") {
      layout = hasZone ? .rfc3339Nano : .rfc3339NanoLocal
    } else if value.contains("T") {
      var colons = count(":")
      if hasZone && !value.contains(where: { $0 == "z" || $0 == "Z" }) && colons > 0 { colons -= 1 }
      let clock: TimeLayout.Clock = colons == 0 ? .hour : colons == 1 ? .minute : .second
      layout = TimeLayout(clock: clock, zone: hasZone)
    } else {
      layout = TimeLayout(clock: .none, zone: hasZone)
    }
    let offset = Int64(localOffset ?? Self.localOffset(at: now))
    let parsed = utf8.withUnsafeBufferPointer { RFC3339Scanner.parse($0, layout: layout, localOffset: offset) }
    switch parsed {
    case .success(let time):
      return time
    case .failure(let failure):
      // Text with a dash was meant as a date: its error says more than "not a timestamp".
      if value.contains("-") { throw TimeValueError(message: failure.message(value: value, layout: layout)) }
      if let time = parseUnixTimestamp(utf8) { return time }
      throw TimeValueError(message: "failed to parse value as time or duration: \(quoted(value))")
    }
  }

  /// `seconds[.fraction]`, as Docker's `ParseTimestamps`: the fraction is scaled to
  /// nanoseconds, digits past the ninth dropped.
  static func parseUnixTimestamp(_ utf8: [UInt8]) -> DockerTime? {
    let parts = utf8.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
    var secondsText = parts[0][...]
    var negative = false
    if let sign = secondsText.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
      negative = sign == UInt8(ascii: "-")
      secondsText = secondsText.dropFirst()
    }
    guard let seconds = decimal(secondsText, maxDigits: 18) else { return nil }
    var nanoseconds: Int64 = 0
    if parts.count == 2 {
      let fraction = parts[1]
      guard decimal(fraction, maxDigits: 18) != nil, let nine = decimal(fraction.prefix(9), maxDigits: 9) else { return nil }
      nanoseconds = nine
      for _ in fraction.prefix(9).count..<9 { nanoseconds *= 10 }
    }
    return negative
      ? DockerTime(seconds: -seconds, nanoseconds: -nanoseconds)
      : DockerTime(seconds: seconds, nanoseconds: nanoseconds)
  }

  /// A non-empty run of ASCII digits, at most `maxDigits` long.
  private static func decimal(_ digits: ArraySlice<UInt8>, maxDigits: Int) -> Int64? {
    guard !digits.isEmpty, digits.count <= maxDigits else { return nil }
    var value: Int64 = 0
    for byte in digits {
      guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
      value = value * 10 + Int64(byte - UInt8(ascii: "0"))
    }
    return value
  }

  /// Seconds east of UTC of the local zone at `time` (TZ, /etc/localtime).
  static func localOffset(at time: DockerTime) -> Int {
    var clock = time_t(time.seconds)
    var parts = tm()
    guard localtime_r(&clock, &parts) != nil else { return 0 }
    return Int(parts.tm_gmtoff)
  }

  /// The `time` of a json-file log entry: full RFC 3339 with a zone, fraction optional.
  static func parseLogTime(_ bytes: UnsafeBufferPointer<UInt8>) -> DockerTime? {
    switch RFC3339Scanner.parse(bytes, layout: .rfc3339Nano, localOffset: 0) {
    case .success(let time): return time
    case .failure: return nil
    }
  }
}

/// The reason a `--since`/`--until` value was refused (internal: callers get a BerthError).
struct TimeValueError: Error {
  var message: String
}

/// Which of Docker's date layouts applies: how much of the clock follows the date, and
/// whether a zone (`Z`, `+01:00`) must end the text.
struct TimeLayout {
  enum Clock: Int { case none, hour, minute, second }
  var clock: Clock
  var zone: Bool

  static let rfc3339Nano = TimeLayout(clock: .second, zone: true)
  static let rfc3339NanoLocal = TimeLayout(clock: .second, zone: false)

  /// The Go layout text, for messages.
  var goLayout: String {
    var text = "2006-01-02"
    switch clock {
    case .none: break
    case .hour: text += "T15"
    case .minute: text += "T15:04"
    case .second: text += "T15:04:05"
    }
    return text + (zone ? "Z07:00" : "")
  }
}

/// A strict scanner for the date layouts above, over bytes: no allocation unless it fails.
struct RFC3339Scanner {
  enum Failure: Error {
    /// The text at `index` is not the layout element `element`.
    case syntax(index: Int, element: StaticString)
    case range(StaticString)
    case extra(index: Int)

    /// Worded like Go's `time.ParseError`.
    func message(value: String, layout: TimeLayout) -> String {
      let utf8 = Array(value.utf8)
      func rest(_ index: Int) -> String { String(decoding: utf8[min(index, utf8.count)...], as: UTF8.self) }
      switch self {
      case .syntax(let index, let element):
        return "parsing time \(quoted(value)) as \(quoted(layout.goLayout)): cannot parse \(quoted(rest(index))) as \(quoted("\(element)"))"
      case .range(let what):
        return "parsing time \(quoted(value)): \(what) out of range"
      case .extra(let index):
        return "parsing time \(quoted(value)): extra text: \(quoted(rest(index)))"
      }
    }
  }

  let bytes: UnsafeBufferPointer<UInt8>
  var index = 0

  static func parse(
    _ bytes: UnsafeBufferPointer<UInt8>, layout: TimeLayout, localOffset: Int64
  ) -> Result<DockerTime, Failure> {
    var scanner = RFC3339Scanner(bytes: bytes)
    return Result { () throws(Failure) in try scanner.scan(layout: layout, localOffset: localOffset) }
  }

  private mutating func scan(layout: TimeLayout, localOffset: Int64) throws(Failure) -> DockerTime {
    let year = try number(4, "2006")
    try literal("-", "-")
    let month = try number(2, "01")
    guard (1...12).contains(month) else { throw .range("month") }
    try literal("-", "-")
    let day = try number(2, "02")
    guard day >= 1, day <= CivilDate.daysIn(month: Int(month), year: year) else { throw .range("day") }
    var hour: Int64 = 0
    var minute: Int64 = 0
    var second: Int64 = 0
    var nanoseconds: Int64 = 0
    if layout.clock != .none {
      try literal("T", "T")
      hour = try number(2, "15")
      guard hour < 24 else { throw .range("hour") }
      if layout.clock.rawValue >= TimeLayout.Clock.minute.rawValue {
        try literal(":", ":")
        minute = try number(2, "04")
        guard minute < 60 else { throw .range("minute") }
      }
      if layout.clock == .second {
        try literal(":", ":")
        second = try number(2, "05")
        guard second < 60 else { throw .range("second") }
        nanoseconds = fraction()
      }
    }
    var offset = localOffset
    if layout.zone { offset = try zone() }
    if index < bytes.count { throw .extra(index: index) }
    let days = CivilDate(year: year, month: Int(month), day: Int(day)).daysSinceEpoch
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
    return DockerTime(seconds: seconds, nanoseconds: nanoseconds)
  }

  private mutating func number(_ width: Int, _ element: StaticString) throws(Failure) -> Int64 {
    guard index + width <= bytes.count else { throw .syntax(index: index, element: element) }
    var value: Int64 = 0
    for offset in 0..<width {
      let digit = bytes[index + offset] &- UInt8(ascii: "0")
      guard digit < 10 else { throw .syntax(index: index, element: element) }
      value = value * 10 + Int64(digit)
    }
    index += width
    return value
  }

  private mutating func literal(_ byte: Unicode.Scalar, _ element: StaticString) throws(Failure) {
    guard index < bytes.count, bytes[index] == UInt8(ascii: byte) else { throw .syntax(index: index, element: element) }
    index += 1
  }

  /// `.digits` or `,digits` after the seconds (Go accepts both); digits past the ninth are
  /// dropped. A separator without a digit is not a fraction.
  private mutating func fraction() -> Int64 {
    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: ".") || bytes[index] == UInt8(ascii: ","),
      bytes[index + 1] &- UInt8(ascii: "0") < 10
    else { return 0 }
    index += 1
    var value: Int64 = 0
    var digits = 0
    while index < bytes.count, case let digit = bytes[index] &- UInt8(ascii: "0"), digit < 10 {
      if digits < 9 {
        value = value * 10 + Int64(digit)
        digits += 1
      }
      index += 1
    }
    for _ in digits..<9 { value *= 10 }
    return value
  }

  /// `Z`, or `+hh:mm` / `-hh:mm`: seconds east of UTC.
  private mutating func zone() throws(Failure) -> Int64 {
    guard index < bytes.count else { throw .syntax(index: index, element: "Z07:00") }
    let sign = bytes[index]
    if sign == UInt8(ascii: "Z") {
      index += 1
      return 0
    }
    guard sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { throw .syntax(index: index, element: "Z07:00") }
    let start = index
    index += 1
    guard let hours = try? number(2, "Z07:00"), (try? literal(":", "Z07:00")) != nil, let minutes = try? number(2, "Z07:00")
    else { throw .syntax(index: start, element: "Z07:00") }
    guard hours < 24 else { throw .range("time zone offset hour") }
    guard minutes < 60 else { throw .range("time zone offset minute") }
    let offset = hours * 3600 + minutes * 60
    return sign == UInt8(ascii: "-") ? -offset : offset
  }
}
