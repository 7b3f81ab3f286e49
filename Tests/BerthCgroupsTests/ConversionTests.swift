import BerthOS
import Testing

@testable import BerthCgroups

@Suite("v1 to v2 conversions")
struct ConversionTests {
  @Test(arguments: [
    (UInt64(0), UInt64(0)), (1, 1), (2, 1), (3, 1), (1024, 39), (262_144, 10_000), (1_000_000, 10_000),
    (26_216, 1000),
  ])
  func sharesToWeight(_ shares: UInt64, _ weight: UInt64) {
    #expect(Conversions.cpuWeight(shares: shares) == weight)
  }

  @Test(arguments: [
    (UInt16(0), UInt64(0)), (1, 1), (10, 1), (11, 11), (100, 910), (500, 4950), (1000, 10_000), (65535, 10_000),
  ])
  func blkioToIOWeight(_ blkio: UInt16, _ io: UInt64) {
    #expect(Conversions.ioWeight(blkioWeight: blkio) == io)
  }

  static let swapCases: [(swap: Int64?, limit: Int64?, expected: String?)] = [
    (nil, nil, nil),
    (nil, 1 << 20, nil),  // only a limit: swap untouched
    (-1, -1, "max"),
    (nil, -1, "max"),  // unlimited memory: unlimited swap
    (0, -1, "max"),
    (3 << 20, 1 << 20, String(2 << 20)),
    (1 << 20, 1 << 20, "0"),
  ]

  @Test(arguments: swapCases)
  func swap(_ swap: Int64?, _ limit: Int64?, _ expected: String?) throws {
    #expect(try Conversions.swapMax(swap: swap, limit: limit) == expected)
  }

  @Test(arguments: [(Int64(100), Int64?.none), (100, -1), (100, 200)])
  func badSwap(_ swap: Int64, _ limit: Int64?) {
    let message = errorMessage { _ = try Conversions.swapMax(swap: swap, limit: limit) }
    #expect(message?.hasPrefix("linux.resources.memory.swap") == true, "\(message ?? "no error")")
  }

  @Test(arguments: [
    ("0", true), ("0-3", true), ("0-3,8,10-11", true), ("abc", false), ("", false), ("3-1", false),
    ("1,", false), ("-1", false), ("1-2-3", false), ("0 1", false),
  ])
  func cpuList(_ text: String, _ valid: Bool) {
    #expect((Conversions.parseList(text) != nil) == valid)
  }

  @Test func subset() throws {
    let host = try #require(Conversions.parseList("0-1"))
    #expect(Conversions.isSubset(try #require(Conversions.parseList("0")), of: host))
    #expect(Conversions.isSubset(try #require(Conversions.parseList("0-1")), of: host))
    #expect(!Conversions.isSubset(try #require(Conversions.parseList("0-99")), of: host))
    #expect(Conversions.isSubset(try #require(Conversions.parseList("2-5")), of: try #require(Conversions.parseList("0-3,4-7"))))
  }

  @Test(arguments: [
    ("hugepages-2048kB", "2MB"), ("hugepages-1048576kB", "1GB"), ("hugepages-64kB", "64KB"), ("other", nil),
  ])
  func hugepageSizes(_ name: String, _ size: String?) {
    #expect(Conversions.hugepageSize(directoryName: name) == size)
  }
}
