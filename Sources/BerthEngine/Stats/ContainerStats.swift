import BerthCgroups
import BerthOS

/// One reading of a running container's usage: its cgroup's counters, the host's CPU time at
/// the same moment, and its network interfaces' byte counts.
public struct ContainerStatsSample: Sendable {
  public var cgroup: CgroupStats
  /// The host's total CPU time (ns) when the sample was taken.
  public var systemCPU: UInt64
  public var onlineCPUs: Int
  public var networkReceived: UInt64
  public var networkSent: UInt64
  /// The host's memory, which caps the limit shown for a container without one.
  public var hostMemory: UInt64?

  public init(
    cgroup: CgroupStats, systemCPU: UInt64, onlineCPUs: Int, networkReceived: UInt64 = 0, networkSent: UInt64 = 0,
    hostMemory: UInt64? = nil
  ) {
    self.cgroup = cgroup
    self.systemCPU = systemCPU
    self.onlineCPUs = onlineCPUs
    self.networkReceived = networkReceived
    self.networkSent = networkSent
    self.hostMemory = hostMemory
  }
}

/// The figures `stats` shows, computed from two samples as Docker's CLI computes them.
public struct ContainerStatsReading: Sendable, Equatable {
  /// Share of one CPU × 100 (200% is two CPUs busy).
  public var cpuPercent: Double = 0
  /// Usage without the inactive page cache.
  public var memoryUsage: UInt64 = 0
  public var memoryLimit: UInt64 = 0
  public var memoryPercent: Double = 0
  public var networkReceived: UInt64 = 0
  public var networkSent: UInt64 = 0
  public var blockRead: UInt64 = 0
  public var blockWritten: UInt64 = 0
  public var pids: UInt64 = 0

  /// All zeros: a container that is not running.
  public init() {}

  /// `previous` is the sample before (about a second earlier); without one the CPU share is 0.
  public init(_ sample: ContainerStatsSample, previous: ContainerStatsSample?) {
    if let previous {
      let cpuDelta = Double(sample.cgroup.cpu.usage.total) - Double(previous.cgroup.cpu.usage.total)
      let systemDelta = Double(sample.systemCPU) - Double(previous.systemCPU)
      if cpuDelta > 0 && systemDelta > 0 {
        cpuPercent = cpuDelta / systemDelta * Double(sample.onlineCPUs) * 100
      }
    }
    let memory = sample.cgroup.memory
    memoryUsage = Self.usageWithoutCache(memory)
    memoryLimit = memory.usage.limit
    if let host = sample.hostMemory, host > 0, memoryLimit == 0 || memoryLimit > host { memoryLimit = host }
    if memoryLimit > 0 { memoryPercent = Double(memoryUsage) / Double(memoryLimit) * 100 }
    networkReceived = sample.networkReceived
    networkSent = sample.networkSent
    for entry in sample.cgroup.blkio.ioServiceBytesRecursive ?? [] {
      switch entry.op.lowercased() {
      case "read": blockRead += entry.value
      case "write": blockWritten += entry.value
      default: break
      }
    }
    pids = sample.cgroup.pids.current
  }

  /// Docker's rule: the usage less the inactive file cache, `total_inactive_file` on cgroup v1
  /// and `inactive_file` on v2, when it is smaller than the usage.
  static func usageWithoutCache(_ memory: CgroupStats.Memory) -> UInt64 {
    let usage = memory.usage.usage
    let raw = memory.raw ?? [:]
    if let inactive = raw["total_inactive_file"] {
      return inactive < usage ? usage - inactive : usage
    }
    if let inactive = raw["inactive_file"], inactive < usage { return usage - inactive }
    return usage
  }
}

extension ContainerEngine {
  /// A sample of a running container's usage; nil when it is not running.
  public func statsSample(_ record: ContainerRecord) throws -> ContainerStatsSample? {
    let state = state(of: record.id)
    guard state.isRunning, state.pid > 0 else { return nil }
    let stats = try cgroup(of: record).stats()
    var sample = ContainerStatsSample(
      cgroup: stats, systemCPU: HostUsage.systemCPUNanoseconds() ?? 0, onlineCPUs: HostUsage.onlineCPUs,
      hostMemory: HostUsage.memoryTotal())
    // A container on the host's network has no interfaces of its own (Docker shows none).
    if record.options.networkMode != "host", let table = try? FS.readText("/proc/\(state.pid)/net/dev") {
      (sample.networkReceived, sample.networkSent) = HostUsage.networkBytes(netDev: table)
    }
    return sample
  }
}
