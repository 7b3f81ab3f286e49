import BerthOS
import Testing

@Suite("Signals")
struct SignalsTests {
  @Test(
    "parse accepts names with or without SIG, in any case, and numbers",
    arguments: [
      ("KILL", 9), ("SIGKILL", 9), ("kill", 9), ("sigkill", 9), ("SigKill", 9),
      ("TERM", 15), ("sigterm", 15), ("HUP", 1), ("INT", 2), ("USR1", 10), ("USR2", 12),
      ("CHLD", 17), ("CLD", 17), ("ABRT", 6), ("IOT", 6), ("IO", 29), ("POLL", 29), ("WINCH", 28),
      ("STOP", 19), ("CONT", 18), ("SYS", 31),
      ("1", 1), ("9", 9), ("15", 15), ("34", 34), ("64", 64),
      ("RTMIN", 34), ("RTMIN+3", 37), ("rtmin+3", 37), ("SIGRTMIN+3", 37), ("sigrtmin+30", 64),
      ("RTMAX", 64), ("RTMAX-1", 63), ("SIGRTMAX-1", 63), ("rtmax-30", 34),
    ] as [(String, Int32)])
  func parse(_ text: String, _ expected: Int32) throws {
    #expect(try Signals.parse(text) == expected)
  }

  @Test(
    "parse rejects bad input with a message naming it",
    arguments: ["", "0", "65", "-1", "100", "FOO", "SIGFOO", "SIG", "KILLX", "RTMIN+31", "RTMAX-31", "RTMIN+x", "RTMIN+",
      "9x", " 9", "SIG9"])
  func parseRejects(_ text: String) {
    let error = #expect(throws: BerthError.self) { try Signals.parse(text) }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.contains(text.isEmpty ? "\"\"" : text) == true, "message: \(error?.message ?? "-")")
  }

  /// runc refuses these: RTMIN-1 is not a real-time signal, RTMAX+1 is no signal at all.
  @Test(
    "parse keeps real-time offsets inside RTMIN...RTMAX",
    arguments: ["RTMAX+1", "RTMIN-1", "RTMIN-40", "SIGRTMAX+5"])
  func parseRealtimeBounds(_ text: String) {
    #expect(throws: BerthError.self) { try Signals.parse(text) }
  }

  @Test(
    "name(of:)",
    arguments: [
      (1, "HUP"), (6, "ABRT"), (9, "KILL"), (15, "TERM"), (17, "CHLD"), (29, "IO"), (31, "SYS"),
      (34, "RTMIN"), (35, "RTMIN+1"), (37, "RTMIN+3"), (64, "RTMIN+30"), (0, "0"), (65, "65"), (-3, "-3"),
    ] as [(Int32, String)])
  func name(_ number: Int32, _ expected: String) {
    #expect(Signals.name(of: number) == expected)
  }

  /// 32 and 33 (glibc's own real-time signals) have no name: they are printed as numbers.
  @Test("name(of:) and parse round-trip for every signal")
  func roundTrip() throws {
    for number in Int32(1)...Signals.realtimeMax {
      let name = Signals.name(of: number)
      #expect(try Signals.parse(name) == number, "signal \(number) named \(name)")
      if Int32(name) == nil { #expect(try Signals.parse("SIG" + name) == number) }
    }
  }
}
