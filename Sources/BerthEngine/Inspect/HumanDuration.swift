/// Durations in words as Docker prints them in `ps` ("Up 5 seconds", "Exited (0) 2 hours
/// ago"): go-units' HumanDuration rules, which users and scripts have come to read.
public enum HumanDuration {
  /// "Less than a second", "1 second", "45 seconds", "About a minute", "3 minutes",
  /// "About an hour", "5 hours", "3 days", "2 weeks", "4 months", "2 years".
  public static func describe(seconds: Double) -> String {
    let whole = Int(seconds)
    if whole < 1 { return "Less than a second" }
    if whole == 1 { return "1 second" }
    if whole < 60 { return "\(whole) seconds" }
    let minutes = whole / 60
    if minutes == 1 { return "About a minute" }
    if minutes < 60 { return "\(minutes) minutes" }
    let hours = Int((seconds / 3600).rounded())
    if hours == 1 { return "About an hour" }
    if hours < 48 { return "\(hours) hours" }
    if hours < 24 * 7 * 2 { return "\(hours / 24) days" }
    if hours < 24 * 30 * 2 { return "\(hours / 24 / 7) weeks" }
    if hours < 24 * 365 * 2 { return "\(hours / 24 / 30) months" }
    return "\(hours / 24 / 365) years"
  }

  /// Seconds from `earlier` to `later` (negative when the clock went back).
  public static func seconds(from earlier: DockerTime, to later: DockerTime) -> Double {
    Double(later.seconds - earlier.seconds) + Double(later.nanoseconds - earlier.nanoseconds) / 1e9
  }
}

extension DockerTime {
  /// Parses the RFC 3339 times the engine and the monitor record ("2026-11-21T08:38:10.471103492Z").
  public static func recorded(_ text: String?) -> DockerTime? {
    guard let text, !text.isEmpty else { return nil }
    var bytes = Array(text.utf8)
    return bytes.withUnsafeMutableBufferPointer { parseLogTime(UnsafeBufferPointer($0)) }
  }

  /// Go's zero time, which Docker shows for a container that never started or never stopped.
  public static let zeroText = "0001-01-01T00:00:00Z"
}
