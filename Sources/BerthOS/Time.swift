#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time as RFC 3339 text, the format runc and Go use in state and logs.
public enum Clock {
  /// "2026-11-21T05:26:31.123456789Z"
  public static func rfc3339Now() -> String {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return rfc3339(seconds: Int(now.tv_sec), nanoseconds: Int(now.tv_nsec))
  }

  public static func rfc3339(seconds: Int, nanoseconds: Int) -> String {
    var time = time_t(seconds)
    var parts = tm()
    gmtime_r(&time, &parts)
    func pad(_ value: Int32, _ width: Int) -> String {
      let text = String(value)
      return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    let nanos = String(nanoseconds)
    let fraction = String(repeating: "0", count: 9 - nanos.count) + nanos
    return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
      + "T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(fraction)Z"
  }

  /// Monotonic nanoseconds, for timeouts.
  public static func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
  }
}
