import BerthOS
import Testing

@testable import BerthEngine

@Suite("DockerTime")
struct DockerTimeTests {
  /// 2026-11-21T08:00:00Z
  static let eight: Int64 = 1_795_248_000
  static let now = DockerTime(seconds: 1_795_250_000, nanoseconds: 250_000_000)

  /// The Go duration parser `--since` shares with the other flags, nil for "not a duration".
  func goDuration(_ text: String) -> Int64? { try? FlagSyntax.goDuration(text) }

  @Test(
    "dates as docker logs accepts them (local times at a fixed offset)",
    arguments: [
      ("2026-11-21T08:00:00Z", eight, 0),
      ("2026-11-21T08:00:00.5+01:00", eight - 3600, 500_000_000),
      ("2026-11-21T08:00:00.123456789Z", eight, 123_456_789),
      ("2026-11-21T08:00:00.1234567891Z", eight, 123_456_789),  // past nine digits: dropped
      ("2026-11-21T08:00:00,25Z", eight, 250_000_000),
      ("2026-11-21T08:30:15-05:00", eight + 1800 + 15 + 5 * 3600, 0),  // three dashes: a zone
      ("2026-11-21T08:30Z", eight + 1800, 0),
      ("2026-11-21T08Z", eight, 0),
      ("2026-11-21T08:30+02:00", eight + 1800 - 2 * 3600, 0),
      ("2026-11-21Z", eight - 8 * 3600, 0),
      ("2026-11-21+02:00", eight - 10 * 3600, 0),
      ("2026-11-21T08:00:00", eight - 3600, 0),  // local, UTC+1
      ("2026-11-21T08:00:00.75", eight - 3600, 750_000_000),
      ("2026-11-21T08:30", eight + 1800 - 3600, 0),
      ("2026-11-21T08", eight - 3600, 0),
      ("2026-11-21", eight - 9 * 3600, 0),  // local midnight
      ("2000-02-29T12:00:00Z", 951_825_600, 0),
      ("1969-07-20T20:17:40Z", -14_182_940, 0),
    ] as [(String, Int64, Int64)])
  func dates(_ text: String, _ seconds: Int64, _ nanoseconds: Int64) throws {
    let time = try DockerTime.parse(text, now: Self.now, localOffset: 3600)
    #expect(time == DockerTime(seconds: seconds, nanoseconds: nanoseconds))
  }

  @Test("without an explicit offset, local time is the C library's zone")
  func localZone() throws {
    let offset = Int64(DockerTime.localOffset(at: Self.now))
    #expect(try DockerTime.parse("2026-11-21T08:00:00", now: Self.now) == DockerTime(seconds: Self.eight - offset))
  }

  @Test(
    "Unix timestamps",
    arguments: [
      ("1700000000", 1_700_000_000, 0),
      ("1700000000.123456789", 1_700_000_000, 123_456_789),
      ("1700000000.5", 1_700_000_000, 500_000_000),
      ("1700000000.000000001", 1_700_000_000, 1),
      ("0", 0, 0),  // "0" is a timestamp, not a zero duration
      ("+12", 12, 0),
    ] as [(String, Int64, Int64)])
  func unix(_ text: String, _ seconds: Int64, _ nanoseconds: Int64) throws {
    #expect(try DockerTime.parse(text, now: Self.now) == DockerTime(seconds: seconds, nanoseconds: nanoseconds))
  }

  @Test(
    "Go durations mean that long before now",
    arguments: [
      ("10m", 600_000_000_000),
      ("1h30m", 5_400_000_000_000),
      ("1.5h", 5_400_000_000_000),
      ("300ms", 300_000_000),
      ("2s500ms", 2_500_000_000),
      (".5s", 500_000_000),
      ("1.s", 1_000_000_000),
      ("3us", 3000),
      ("3µs", 3000),
      ("3μs", 3000),
      ("7ns", 7),
      ("-5s", -5_000_000_000),  // in the future
      ("+0", 0),
    ] as [(String, Int64)])
  func durations(_ text: String, _ nanoseconds: Int64) throws {
    #expect(goDuration(text) == nanoseconds)
    #expect(try DockerTime.parse(text, now: Self.now) == Self.now.adding(nanoseconds: -nanoseconds))
  }

  @Test(
    "not Go durations",
    arguments: ["", "s", ".s", "1", "1.", "-", "+-1s", "1hh", "1d", "1 h", "1h ", "9223372036854775808ns", "99999999999h"])
  func notDurations(_ text: String) {
    #expect(goDuration(text) == nil)
  }

  @Test("the extreme durations that fit")
  func extremeDurations() {
    #expect(goDuration("9223372036854775807ns") == Int64.max)
    #expect(goDuration("-9223372036854775808ns") == Int64.min)
  }

  @Test(
    "invalid values are refused with Docker's wording",
    arguments: [
      ("yesterday", #"invalid value for "since": failed to parse value as time or duration: "yesterday""#),
      ("", #"invalid value for "since": failed to parse value as time or duration: """#),
      ("10x", #"failed to parse value as time or duration: "10x""#),
      ("1.2.3", #"failed to parse value as time or duration: "1.2.3""#),
      ("12:00", #"failed to parse value as time or duration: "12:00""#),
      ("2026-13-01", #"invalid value for "since": parsing time "2026-13-01": month out of range"#),
      ("2026-02-29", #"parsing time "2026-02-29": day out of range"#),
      ("2026-11-21T24:00:00Z", #"parsing time "2026-11-21T24:00:00Z": hour out of range"#),
      ("2026-11-21T08:60:00Z", "minute out of range"),
      ("2026-11-21T08:00:60Z", "second out of range"),
      ("2026-11-21T08:00:00+25:00", "time zone offset hour out of range"),
      ("2026-1-21", #"parsing time "2026-1-21" as "2006-01-02": cannot parse "1-21" as "01""#),
      ("2026-11-21 08:00:00", #"parsing time "2026-11-21 08:00:00": extra text: " 08:00:00""#),
      ("2026-11-21T08:00:00z", #"as "2006-01-02T15:04:05Z07:00": cannot parse "z" as "Z07:00""#),
      ("2026-11-21T08:00:00.5", ""),  // fine: checked below that this one parses
    ] as [(String, String)])
  func invalid(_ text: String, _ message: String) {
    if message.isEmpty {
      #expect(throws: Never.self) { try DockerTime.parse(text, now: Self.now) }
      return
    }
    do {
      let time = try DockerTime.parse(text, now: Self.now)
      Issue.record("\(text) parsed as \(time)")
    } catch let error as BerthError {
      #expect(error.code == .invalidArgument)
      #expect(error.message.contains(message), "\(error.message)")
    } catch {
      Issue.record("unexpected \(error)")
    }
  }

  @Test("the option's name is in the message")
  func optionName() {
    #expect(throws: BerthError(.invalidArgument, #"invalid value for "until": failed to parse value as time or duration: "x""#)) {
      try DockerTime.parse("x", option: "until")
    }
  }

  @Test(
    "formats: -t pads the fraction to nine digits, RFC3339Nano trims it",
    arguments: [
      (0, 0, "1970-01-01T00:00:00.000000000Z", "1970-01-01T00:00:00Z"),
      (eight, 123_400_000, "2026-11-21T08:00:00.123400000Z", "2026-11-21T08:00:00.1234Z"),
      (eight, 1, "2026-11-21T08:00:00.000000001Z", "2026-11-21T08:00:00.000000001Z"),
      (eight + 57_599, 999_999_999, "2026-11-21T23:59:59.999999999Z", "2026-11-21T23:59:59.999999999Z"),
      (951_825_600, 500_000_000, "2000-02-29T12:00:00.500000000Z", "2000-02-29T12:00:00.5Z"),
      (-1, 500_000_000, "1969-12-31T23:59:59.500000000Z", "1969-12-31T23:59:59.5Z"),
      (253_402_300_799, 0, "9999-12-31T23:59:59.000000000Z", "9999-12-31T23:59:59Z"),
    ] as [(Int64, Int64, String, String)])
  func formats(_ seconds: Int64, _ nanoseconds: Int64, _ fixed: String, _ trimmed: String) throws {
    let time = DockerTime(seconds: seconds, nanoseconds: nanoseconds)
    #expect(time.rfc3339NanoFixed == fixed)
    #expect(time.rfc3339Nano == trimmed)
    // BerthOS's Clock goes through gmtime(3): the same text by another road.
    #expect(fixed == Clock.rfc3339(seconds: Int(seconds), nanoseconds: Int(nanoseconds)))
    #expect(try DockerTime.parse(trimmed) == time)
    #expect(try DockerTime.parse(fixed) == time)
  }

  @Test("civil dates and day counts agree over 800 years")
  func civilDates() {
    var expected = CivilDate(year: 1600, month: 1, day: 1)
    var days = expected.daysSinceEpoch
    #expect(CivilDate(year: 1970, month: 1, day: 1).daysSinceEpoch == 0)
    while expected.year < 2400 {
      #expect(CivilDate(daysSinceEpoch: days) == expected)
      #expect(expected.daysSinceEpoch == days)
      days += 1
      expected.day += 1
      if expected.day > CivilDate.daysIn(month: expected.month, year: expected.year) {
        expected.day = 1
        expected.month += 1
        if expected.month > 12 {
          expected.month = 1
          expected.year += 1
        }
      }
    }
  }

  @Test("nanoseconds are normalized and times order")
  func normalization() {
    #expect(DockerTime(seconds: 5, nanoseconds: -1) == DockerTime(seconds: 4, nanoseconds: 999_999_999))
    #expect(DockerTime(seconds: 5, nanoseconds: 2_500_000_000) == DockerTime(seconds: 7, nanoseconds: 500_000_000))
    #expect(DockerTime(seconds: 1, nanoseconds: 999_999_999) < DockerTime(seconds: 2))
    #expect(DockerTime(seconds: -1, nanoseconds: 5) < DockerTime(seconds: 0))
  }
}
