import BerthOS

/// The conversions between the OCI spec's cgroup v1 units and cgroup v2 files, as runc and crun
/// make them, and parsers for the list formats the kernel takes.
enum Conversions {
  /// cpu.shares (2...262144) to cpu.weight (1...10000): runc's linear map
  /// `1 + ((shares - 2) * 9999) / 262142`, with shares clamped to the v1 range. 0 means unset.
  static func cpuWeight(shares: UInt64) -> UInt64 {
    if shares == 0 { return 0 }
    let clamped = min(max(shares, 2), 262_144)
    return 1 + ((clamped - 2) * 9_999) / 262_142
  }

  /// blkio.weight (10...1000) to io.weight (1...10000): `1 + (weight - 10) * 9999 / 990`, with
  /// the weight clamped to the v1 range. 0 means unset.
  static func ioWeight(blkioWeight: UInt16) -> UInt64 {
    if blkioWeight == 0 { return 0 }
    let clamped = UInt64(min(max(blkioWeight, 10), 1000))
    return 1 + (clamped - 10) * 9_999 / 990
  }

  /// The value of memory.swap.max for the spec's memory limit and swap (v1's memory+swap
  /// total): nil to leave it alone. 0 counts as unset for both, as in runc.
  static func swapMax(swap: Int64?, limit: Int64?) throws -> String? {
    let memory = limit ?? 0
    let total = swap ?? 0
    // Unlimited memory without a swap value means unlimited swap too (v1 compatibility).
    if memory == -1 && total == 0 { return "max" }
    if total == -1 { return "max" }
    if total == 0 { return nil }
    if memory == 0 || memory == -1 {
      throw BerthError(.invalidArgument, "linux.resources.memory.swap: \(total) limits memory+swap, which cgroup v2 can only express together with a memory limit (linux.resources.memory.limit is \(memory == 0 ? "unset" : "-1"))")
    }
    if memory < 0 {
      throw BerthError(.invalidArgument, "linux.resources.memory.limit: \(memory) is not a memory size")
    }
    if total < memory {
      throw BerthError(.invalidArgument, "linux.resources.memory.swap: \(total) is less than linux.resources.memory.limit \(memory); swap is the memory+swap total, so it must be at least the limit")
    }
    return String(total - memory)
  }

  /// A v1-style limit: -1 (or any negative) is "max" in v2 files.
  static func v2Limit(_ value: Int64) -> String {
    value < 0 ? "max" : String(value)
  }

  /// Parses a CPU or memory node list such as "0-3,8,10-11"; nil when malformed.
  static func parseList(_ text: String) -> [ClosedRange<Int>]? {
    var ranges: [ClosedRange<Int>] = []
    for item in text.split(separator: ",", omittingEmptySubsequences: false) {
      let bounds = item.split(separator: "-", omittingEmptySubsequences: false)
      guard bounds.count == 1 || bounds.count == 2,
            bounds.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let low = Int(bounds[0]), let high = Int(bounds[bounds.count - 1]), low <= high
      else { return nil }
      ranges.append(low...high)
    }
    return ranges.isEmpty ? nil : ranges
  }

  /// Whether every member of `list` is in `of`.
  static func isSubset(_ list: [ClosedRange<Int>], of other: [ClosedRange<Int>]) -> Bool {
    list.allSatisfy { range in
      var next = range.lowerBound
      for candidate in other.sorted(by: { $0.lowerBound < $1.lowerBound }) where candidate.contains(next) {
        if candidate.upperBound >= range.upperBound { return true }
        next = candidate.upperBound + 1
      }
      return false
    }
  }

  /// "2MB", "1GB", "64KB": a hugepage size as the hugetlb files name it.
  static func isHugepageSize(_ text: String) -> Bool {
    guard text.count > 2 else { return false }
    let digits = text.dropLast(2)
    let unit = text.suffix(2)
    return (unit == "KB" || unit == "MB" || unit == "GB") && digits.allSatisfy { $0.isASCII && $0.isNumber }
  }

  /// A hugetlb page size from a /sys/kernel/mm/hugepages entry ("hugepages-2048kB" gives "2MB").
  static func hugepageSize(directoryName name: String) -> String? {
    guard name.hasPrefix("hugepages-"), name.hasSuffix("kB"),
          let kilobytes = UInt64(name.dropFirst("hugepages-".count).dropLast(2)) else { return nil }
    if kilobytes >= 1 << 20 && kilobytes % (1 << 20) == 0 { return "\(kilobytes >> 20)GB" }
    if kilobytes >= 1 << 10 && kilobytes % (1 << 10) == 0 { return "\(kilobytes >> 10)MB" }
    return "\(kilobytes)KB"
  }
}
