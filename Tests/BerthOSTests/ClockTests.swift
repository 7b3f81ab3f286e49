import BerthOS
import Testing

@Suite("Clock")
struct ClockTests {
  @Test(
    "rfc3339(seconds:nanoseconds:) is UTC with nine fraction digits",
    arguments: [
      (0, 0, "1970-01-01T00:00:00.000000000Z"),
      (0, 1, "1970-01-01T00:00:00.000000001Z"),
      (1_000_000_000, 5, "2001-09-09T01:46:40.000000005Z"),
      (951_782_400, 123_456_789, "2000-02-29T00:00:00.123456789Z"),  // a leap day
      (1_700_000_000, 999_999_999, "2023-11-14T22:13:20.999999999Z"),
      (1_700_000_000, 120_000_000, "2023-11-14T22:13:20.120000000Z"),
      (-1, 0, "1969-12-31T23:59:59.000000000Z"),
      (253_402_300_799, 0, "9999-12-31T23:59:59.000000000Z"),
    ] as [(Int, Int, String)])
  func rfc3339(_ seconds: Int, _ nanoseconds: Int, _ expected: String) {
    #expect(Clock.rfc3339(seconds: seconds, nanoseconds: nanoseconds) == expected)
  }

  @Test("rfc3339Now has the same shape")
  func now() {
    let text = Clock.rfc3339Now()
    #expect(text.count == 30)
    #expect(text.hasSuffix("Z"))
    let bytes = Array(text.utf8)
    for (index, separator) in [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, ".")] {
      #expect(bytes[index] == UInt8(ascii: Unicode.Scalar(separator)!), "character \(index) of \(text)")
    }
    #expect(text >= "2024-01-01T")
  }

  @Test("monotonic time does not go backwards")
  func monotonic() {
    let first = Clock.monotonicNanoseconds()
    let second = Clock.monotonicNanoseconds()
    #expect(first > 0)
    #expect(second >= first)
  }
}
