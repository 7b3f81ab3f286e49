@testable import BerthRuntime
import BerthOS
import Testing

@Suite("Units")
struct UnitsTests {
  @Test(
    "bytes: numbers with binary units",
    arguments: [
      ("1024", 1024), ("0", 0), ("-1", -1), ("1b", 1), ("100B", 100),
      ("64k", 65536), ("64K", 65536), ("64kb", 65536), ("64KiB", 65536),
      ("64M", 67_108_864), ("64m", 67_108_864), ("512MB", 536_870_912),
      ("1g", 1_073_741_824), ("1G", 1_073_741_824), ("1.5G", 1_610_612_736), ("2GiB", 2_147_483_648), ("2gb", 2_147_483_648),
      ("1t", 1_099_511_627_776), ("1p", 1_125_899_906_842_624),
      (" 64m ", 67_108_864), ("0.5k", 512),
    ] as [(String, Int64)])
  func bytes(_ text: String, _ expected: Int64) throws {
    #expect(try Units.bytes(text) == expected)
  }

  @Test(
    "bytes: bad sizes are errors quoting the input",
    arguments: ["", "abc", "m", "64x", "64 m", "1.2.3", "-2", "-1k", "1e3", "64mm", "0x10", "10000p"])
  func badBytes(_ text: String) {
    let error = #expect(throws: BerthError.self) { try Units.bytes(text) }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.contains("\"\(text)\"") == true, "message: \(error?.message ?? "-")")
  }

  @Test(
    "durationNanoseconds: Go durations; a bare number is seconds",
    arguments: [
      ("5s", 5_000_000_000), ("250ms", 250_000_000), ("1m30s", 90_000_000_000), ("10", 10_000_000_000),
      ("0", 0), ("1h", 3_600_000_000_000), ("1.5s", 1_500_000_000), ("100us", 100_000), ("100µs", 100_000), ("100\u{03BC}s", 100_000), ("0s", 0),
      ("10ns", 10), ("2h45m", 9_900_000_000_000), ("1m", 60_000_000_000), ("1s500ms", 1_500_000_000),
    ] as [(String, UInt64)])
  func duration(_ text: String, _ expected: UInt64) throws {
    #expect(try Units.durationNanoseconds(text) == expected)
  }

  @Test("durationNanoseconds: bad durations are errors quoting the input", arguments: ["", "abc", "5x", "-5s", "s", "5s5", "1.5.5s", "ms"])
  func badDuration(_ text: String) {
    let error = #expect(throws: BerthError.self) { try Units.durationNanoseconds(text) }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.contains("\"\(text)\"") == true, "message: \(error?.message ?? "-")")
  }

  /// Go's time.ParseDuration refuses anything after the last unit.
  @Test("durationNanoseconds: trailing text after a unit is an error", arguments: ["5sx", "5s junk", "1m30s!"])
  func trailingText(_ text: String) {
    #expect(throws: BerthError.self) { try Units.durationNanoseconds(text) }
  }
}
