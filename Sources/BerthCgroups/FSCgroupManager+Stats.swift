#if canImport(Glibc)
import Glibc
#endif
import BerthOS

/// Reading ``CgroupStats``: v1 files for v1-mounted controllers, cgroup2 files otherwise.
/// Missing files leave their fields at zero.
extension FSCgroupManager {
  func stats() throws -> CgroupStats {
    var stats = CgroupStats()
    try cpuStats(&stats)
    try memoryStats(&stats)
    try pidsStats(&stats)
    try blkioStats(&stats)
    try hugetlbStats(&stats)
    return stats
  }

  /// Where to read a controller's statistics: its v1 directory, else the cgroup2 one.
  private func statsTarget(_ controller: String) -> Target? {
    if let dir = v1ByController[controller] { return .v1(dir) }
    if let unifiedDir { return .v2(unifiedDir) }
    return nil
  }

  private func number(_ path: String) throws -> UInt64 {
    try CgroupIO.readUInt64IfPresent(path) ?? 0
  }

  private func flat(_ path: String) throws -> [String: UInt64] {
    guard let text = try CgroupIO.readTrimmedIfPresent(path) else { return [:] }
    return CgroupIO.parseFlatKeyed(text)
  }

  private func numbers(_ path: String) throws -> [UInt64]? {
    guard let text = try CgroupIO.readTrimmedIfPresent(path) else { return nil }
    return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { UInt64($0) }
  }

  private func cpuStats(_ stats: inout CgroupStats) throws {
    switch statsTarget("cpuacct") {
    case .v1(let dir):
      stats.cpu.usage.total = try number(dir + "/cpuacct.usage")
      stats.cpu.usage.percpu = try numbers(dir + "/cpuacct.usage_percpu")
      if let user = try CgroupIO.readUInt64IfPresent(dir + "/cpuacct.usage_user"),
         let system = try CgroupIO.readUInt64IfPresent(dir + "/cpuacct.usage_sys") {
        stats.cpu.usage.user = user
        stats.cpu.usage.kernel = system
      } else {
        // cpuacct.stat counts USER_HZ ticks.
        let ticks = try flat(dir + "/cpuacct.stat")
        let hz = UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
        stats.cpu.usage.user = (ticks["user"] ?? 0) * (1_000_000_000 / hz)
        stats.cpu.usage.kernel = (ticks["system"] ?? 0) * (1_000_000_000 / hz)
      }
      // "cpu user system" then one line per CPU.
      if let all = try CgroupIO.readTrimmedIfPresent(dir + "/cpuacct.usage_all") {
        var user: [UInt64] = [], kernel: [UInt64] = []
        for line in all.split(separator: "\n").dropFirst() {
          let fields = line.split(separator: " ")
          guard fields.count == 3, let u = UInt64(fields[1]), let k = UInt64(fields[2]) else { continue }
          user.append(u); kernel.append(k)
        }
        if !user.isEmpty { stats.cpu.usage.percpuUser = user; stats.cpu.usage.percpuKernel = kernel }
      }
    case .v2(let dir):
      let values = try flat(dir + "/cpu.stat")
      stats.cpu.usage.total = (values["usage_usec"] ?? 0) * 1000
      stats.cpu.usage.user = (values["user_usec"] ?? 0) * 1000
      stats.cpu.usage.kernel = (values["system_usec"] ?? 0) * 1000
      stats.cpu.throttling.periods = values["nr_periods"] ?? 0
      stats.cpu.throttling.throttledPeriods = values["nr_throttled"] ?? 0
      stats.cpu.throttling.throttledTime = (values["throttled_usec"] ?? 0) * 1000
    case nil: break
    }
    if case .v1(let dir) = statsTarget("cpu") {
      let values = try flat(dir + "/cpu.stat")
      stats.cpu.throttling.periods = values["nr_periods"] ?? 0
      stats.cpu.throttling.throttledPeriods = values["nr_throttled"] ?? 0
      stats.cpu.throttling.throttledTime = values["throttled_time"] ?? 0
    }
  }

  private func memoryStats(_ stats: inout CgroupStats) throws {
    switch statsTarget("memory") {
    case .v1(let dir):
      func entry(_ prefix: String) throws -> CgroupStats.MemoryEntry {
        var entry = CgroupStats.MemoryEntry()
        entry.usage = try number(dir + "/\(prefix).usage_in_bytes")
        entry.max = try number(dir + "/\(prefix).max_usage_in_bytes")
        entry.failcnt = try number(dir + "/\(prefix).failcnt")
        entry.limit = try number(dir + "/\(prefix).limit_in_bytes")
        return entry
      }
      stats.memory.usage = try entry("memory")
      stats.memory.swap = try entry("memory.memsw")
      stats.memory.kernel = try entry("memory.kmem")
      stats.memory.kernelTCP = try entry("memory.kmem.tcp")
      let raw = try flat(dir + "/memory.stat")
      stats.memory.raw = raw
      stats.memory.cache = raw["cache"] ?? 0
    case .v2(let dir):
      let raw = try flat(dir + "/memory.stat")
      if raw.isEmpty && !FS.exists(dir + "/memory.current") { return }  // no memory controller here
      stats.memory.raw = raw
      stats.memory.cache = raw["file"] ?? 0
      let events = try flat(dir + "/memory.events")
      stats.memory.usage.usage = try number(dir + "/memory.current")
      stats.memory.usage.limit = try number(dir + "/memory.max")
      stats.memory.usage.max = try number(dir + "/memory.peak")
      stats.memory.usage.failcnt = events["max"] ?? 0
      // As runc: swap reported as swap + memory, like v1's memsw.
      let swapUsage = try number(dir + "/memory.swap.current")
      let swapLimit = try CgroupIO.readUInt64IfPresent(dir + "/memory.swap.max") ?? 0
      stats.memory.swap.usage = swapUsage + stats.memory.usage.usage
      stats.memory.swap.max = try number(dir + "/memory.swap.peak")
      stats.memory.swap.limit = swapLimit == UInt64.max || stats.memory.usage.limit == UInt64.max
        ? UInt64.max : swapLimit &+ stats.memory.usage.limit
    case nil: break
    }
  }

  private func pidsStats(_ stats: inout CgroupStats) throws {
    let dir: String
    switch statsTarget("pids") {
    case .v1(let path), .v2(let path): dir = path
    case nil: return
    }
    stats.pids.current = try number(dir + "/pids.current")
    stats.pids.limit = try CgroupIO.readUInt64IfPresent(dir + "/pids.max", max: 0) ?? 0
  }

  private func blkioStats(_ stats: inout CgroupStats) throws {
    switch statsTarget("blkio") {
    case .v1(let dir):
      func entries(_ file: String) throws -> [CgroupStats.BlkioEntry]? {
        guard let text = try CgroupIO.readTrimmedIfPresent(dir + "/" + file) else { return nil }
        var result: [CgroupStats.BlkioEntry] = []
        for line in text.split(separator: "\n") {
          // "8:0 Read 4096"; the closing "Total N" line has no device.
          let fields = line.split(separator: " ")
          guard fields.count == 3, let (major, minor) = deviceNumbers(fields[0]), let value = UInt64(fields[2]) else { continue }
          result.append(.init(major: major, minor: minor, op: String(fields[1]), value: value))
        }
        return result
      }
      stats.blkio.ioServiceBytesRecursive = try entries("blkio.throttle.io_service_bytes_recursive")
      stats.blkio.ioServicedRecursive = try entries("blkio.throttle.io_serviced_recursive")
    case .v2(let dir):
      guard let text = try CgroupIO.readTrimmedIfPresent(dir + "/io.stat") else { return }
      var bytes: [CgroupStats.BlkioEntry] = [], serviced: [CgroupStats.BlkioEntry] = []
      // "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0"
      for line in text.split(separator: "\n") {
        let fields = line.split(separator: " ")
        guard let first = fields.first, let (major, minor) = deviceNumbers(first) else { continue }
        for field in fields.dropFirst() {
          let pair = field.split(separator: "=")
          guard pair.count == 2, let value = UInt64(pair[1]) else { continue }
          switch pair[0] {
          case "rbytes": bytes.append(.init(major: major, minor: minor, op: "Read", value: value))
          case "wbytes": bytes.append(.init(major: major, minor: minor, op: "Write", value: value))
          case "dbytes": bytes.append(.init(major: major, minor: minor, op: "Discard", value: value))
          case "rios": serviced.append(.init(major: major, minor: minor, op: "Read", value: value))
          case "wios": serviced.append(.init(major: major, minor: minor, op: "Write", value: value))
          case "dios": serviced.append(.init(major: major, minor: minor, op: "Discard", value: value))
          default: break
          }
        }
      }
      stats.blkio.ioServiceBytesRecursive = bytes
      stats.blkio.ioServicedRecursive = serviced
    case nil: break
    }
  }

  private func deviceNumbers(_ text: Substring) -> (UInt64, UInt64)? {
    let parts = text.split(separator: ":")
    guard parts.count == 2, let major = UInt64(parts[0]), let minor = UInt64(parts[1]) else { return nil }
    return (major, minor)
  }

  private func hugetlbStats(_ stats: inout CgroupStats) throws {
    guard let target = statsTarget("hugetlb") else { return }
    let sizes = CgroupIO.subdirectories("/sys/kernel/mm/hugepages").compactMap(Conversions.hugepageSize(directoryName:))
    for size in sizes.sorted() {
      var entry = CgroupStats.Hugetlb()
      switch target {
      case .v1(let dir):
        guard let usage = try CgroupIO.readUInt64IfPresent(dir + "/hugetlb.\(size).usage_in_bytes") else { continue }
        entry.usage = usage
        entry.max = try number(dir + "/hugetlb.\(size).max_usage_in_bytes")
        entry.failcnt = try number(dir + "/hugetlb.\(size).failcnt")
      case .v2(let dir):
        guard let usage = try CgroupIO.readUInt64IfPresent(dir + "/hugetlb.\(size).current") else { continue }
        entry.usage = usage
        entry.failcnt = try flat(dir + "/hugetlb.\(size).events")["max"] ?? 0
      }
      stats.hugetlb[size] = entry
    }
  }
}
