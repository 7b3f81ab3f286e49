#if canImport(Glibc)
import Glibc
#endif

/// Signal names and numbers, as `kill` and runc accept them: "KILL", "SIGKILL", "9", "RTMIN+3".
public enum Signals {
  /// The standard signals of Linux on x86_64 and aarch64 (generic numbering).
  public static let byName: [(name: String, number: Int32)] = [
    ("HUP", 1), ("INT", 2), ("QUIT", 3), ("ILL", 4), ("TRAP", 5), ("ABRT", 6), ("IOT", 6),
    ("BUS", 7), ("FPE", 8), ("KILL", 9), ("USR1", 10), ("SEGV", 11), ("USR2", 12), ("PIPE", 13),
    ("ALRM", 14), ("TERM", 15), ("STKFLT", 16), ("CHLD", 17), ("CLD", 17), ("CONT", 18),
    ("STOP", 19), ("TSTP", 20), ("TTIN", 21), ("TTOU", 22), ("URG", 23), ("XCPU", 24),
    ("XFSZ", 25), ("VTALRM", 26), ("PROF", 27), ("WINCH", 28), ("IO", 29), ("POLL", 29),
    ("PWR", 30), ("SYS", 31),
  ]

  public static let realtimeMin: Int32 = 34
  public static let realtimeMax: Int32 = 64

  /// Parses a signal given by name (with or without "SIG", any case) or number.
  public static func parse(_ text: String) throws -> Int32 {
    if let number = Int32(text) {
      guard number > 0 && number <= realtimeMax else {
        throw BerthError(.invalidArgument, "invalid signal number \(text): signals are 1 to \(realtimeMax)")
      }
      return number
    }
    var name = text.uppercased()
    if name.hasPrefix("SIG") { name.removeFirst(3) }
    if let match = byName.first(where: { $0.name == name }) { return match.number }
    if let value = realtime(name) { return value }
    throw BerthError(.invalidArgument, "unknown signal \(quoted(text)): use a name such as TERM or KILL, or a number")
  }

  /// The name of a signal number, without "SIG" ("RTMIN+2" for real-time signals).
  public static func name(of number: Int32) -> String {
    if let match = byName.first(where: { $0.number == number }) { return match.name }
    if number >= realtimeMin && number <= realtimeMax {
      return number == realtimeMin ? "RTMIN" : "RTMIN+\(number - realtimeMin)"
    }
    return String(number)
  }

  /// "RTMIN", "RTMIN+3", "RTMAX-1": only numbers within RTMIN...RTMAX.
  private static func realtime(_ name: String) -> Int32? {
    func offset(_ rest: Substring) -> Int32? { rest.isEmpty ? 0 : Int32(rest) }
    let number: Int32
    if name.hasPrefix("RTMIN"), let value = offset(name.dropFirst(5)) {
      number = realtimeMin + value
    } else if name.hasPrefix("RTMAX"), let value = offset(name.dropFirst(5)) {
      number = realtimeMax + value
    } else {
      return nil
    }
    return (realtimeMin...realtimeMax).contains(number) ? number : nil
  }
}
