import BerthEngine
import Foundation

/// Numbers and times as Docker's CLI prints them.
enum Humanize {
  /// Decimal units with three significant digits: "4.26MB", "1.2GB", "512B" (Docker's
  /// go-units HumanSize).
  static func size(_ bytes: Int64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1000 && unit < units.count - 1 {
      value /= 1000
      unit += 1
    }
    let text: String
    if value >= 100 || unit == 0 {
      text = String(format: "%.0f", value)
    } else if value >= 10 {
      text = String(format: "%.1f", value)
    } else {
      text = String(format: "%.2f", value)
    }
    return trimZeros(text) + units[unit]
  }

  /// "3.50" → "3.5", "4.00" → "4".
  static func trimZeros(_ text: String) -> String {
    guard text.contains(".") else { return text }
    var result = text
    while result.hasSuffix("0") { result.removeLast() }
    if result.hasSuffix(".") { result.removeLast() }
    return result
  }

  /// "2 days ago", "About an hour ago", "Less than a second ago" (go-units HumanDuration).
  static func ago(_ date: Date, now: Date = Date()) -> String {
    duration(now.timeIntervalSince(date)) + " ago"
  }

  static func duration(_ seconds: Double) -> String { HumanDuration.describe(seconds: seconds) }

  /// Parses RFC 3339 (with or without fractional seconds).
  static func date(_ text: String?) -> Date? {
    guard let text else { return nil }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let date = formatter.date(from: text) { return date }
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.date(from: text)
  }
}
