#if canImport(Glibc)
import Glibc
#endif

/// A point in time with nanosecond precision: a log entry's `time`, or the bound given to
/// `--since` / `--until`.
///
/// Seconds and nanoseconds rather than one 64-bit count of nanoseconds, so that any date
/// RFC 3339 can write (years 0000–9999) fits.
public struct DockerTime: Hashable, Comparable, Sendable, CustomStringConvertible {
  /// Seconds since the Unix epoch (negative before 1970).
  public var seconds: Int64
  /// Always in 0..<1_000_000_000.
  public var nanoseconds: Int32

  /// Normalizes `nanoseconds` into 0..<1e9, carrying into `seconds`.
  public init(seconds: Int64, nanoseconds: Int64 = 0) {
    let (carry, rest) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
    self.seconds = seconds + carry - (rest < 0 ? 1 : 0)
    self.nanoseconds = Int32(rest < 0 ? rest + 1_000_000_000 : rest)
  }

  /// The wall clock (CLOCK_REALTIME).
  public static func now() -> DockerTime {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return DockerTime(seconds: Int64(now.tv_sec), nanoseconds: Int64(now.tv_nsec))
  }

  public static func < (lhs: DockerTime, rhs: DockerTime) -> Bool {
    (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
  }

  /// This time moved by `nanoseconds` (negative: earlier); saturates instead of trapping.
  func adding(nanoseconds delta: Int64) -> DockerTime {
    let (carry, rest) = delta.quotientAndRemainder(dividingBy: 1_000_000_000)
    let (sum, overflow) = seconds.addingReportingOverflow(carry)
    if overflow { return DockerTime(seconds: carry < 0 ? Int64.min / 2 : Int64.max / 2) }
    return DockerTime(seconds: sum, nanoseconds: Int64(nanoseconds) + rest)
  }

  // MARK: Formatting

  /// What `docker logs -t` prints: RFC 3339 in UTC with all nine fraction digits
  /// (Docker's `RFC3339NanoFixed`, so that timestamps line up), e.g.
  /// `2026-11-21T08:00:00.123400000Z`.
  public var rfc3339NanoFixed: String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(30)
    appendRFC3339(to: &bytes, trimmingZeros: false)
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Go's `time.RFC3339Nano` in UTC: trailing zeros of the fraction trimmed, no fraction
  /// at all on a whole second, e.g. `2026-11-21T08:00:00.1234Z`, `2026-11-21T08:00:00Z`.
  public var rfc3339Nano: String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(30)
    appendRFC3339(to: &bytes, trimmingZeros: true)
    return String(decoding: bytes, as: UTF8.self)
  }

  public var description: String { rfc3339Nano }

  /// Appends the RFC 3339 text in UTC to `bytes` without building a String (one per log
  /// line with `-t`).
  public func appendRFC3339(to bytes: inout [UInt8], trimmingZeros: Bool) {
    let (days, secondOfDay) = seconds.quotientAndRemainder(dividingBy: 86_400)
    let (dayIndex, second) = secondOfDay < 0 ? (days - 1, secondOfDay + 86_400) : (days, secondOfDay)
    let date = CivilDate(daysSinceEpoch: dayIndex)
    func digits(_ value: Int64, _ width: Int) {
      var divisor: Int64 = 1
      for _ in 1..<width { divisor *= 10 }
      var rest = value < 0 ? -value : value
      while divisor > 0 {
        bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
        rest %= divisor
        divisor /= 10
      }
    }
    digits(date.year, 4)
    bytes.append(UInt8(ascii: "-"))
    digits(Int64(date.month), 2)
    bytes.append(UInt8(ascii: "-"))
    digits(Int64(date.day), 2)
    bytes.append(UInt8(ascii: "T"))
    digits(second / 3600, 2)
    bytes.append(UInt8(ascii: ":"))
    digits(second / 60 % 60, 2)
    bytes.append(UInt8(ascii: ":"))
    digits(second % 60, 2)
    var fraction = Int64(nanoseconds)
    var width = 9
    if trimmingZeros {
      while width > 0 && fraction % 10 == 0 {
        fraction /= 10
        width -= 1
      }
    }
    if width > 0 {
      bytes.append(UInt8(ascii: "."))
      digits(fraction, width)
    }
    bytes.append(UInt8(ascii: "Z"))
  }
}

/// A proleptic Gregorian date, converted to and from days since 1970-01-01 with Howard
/// Hinnant's algorithms: exact for any year, no libc, no time zone database.
struct CivilDate: Equatable {
  var year: Int64
  var month: Int  // 1...12
  var day: Int  // 1...31

  init(year: Int64, month: Int, day: Int) {
    self.year = year
    self.month = month
    self.day = day
  }

  init(daysSinceEpoch days: Int64) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let shiftedMonth = (5 * dayOfYear + 2) / 153
    day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
    month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
    year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
  }

  var daysSinceEpoch: Int64 {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let dayOfYear = Int64((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1)
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }

  static func daysIn(month: Int, year: Int64) -> Int {
    switch month {
    case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
  }
}
