/// A cgroup's usage, shaped like the `data` of runc's `events --stats` output (runc's
/// `types.Stats`), with the same JSON keys: `{"cpu":{"usage":{"total":..,"percpu":[..],
/// "kernel":..,"user":..},"throttling":{..}},"memory":{"usage":{..},..},"pids":{..},
/// "blkio":{..},"hugetlb":{..}}`.
///
/// Units: nanoseconds for CPU times, bytes for memory. Fields the host cannot tell stay 0
/// (or absent, for lists and maps).
public struct CgroupStats: Codable, Sendable, Equatable {
  public var cpu = CPU()
  public var memory = Memory()
  public var pids = Pids()
  public var blkio = Blkio()
  /// By page size ("2MB").
  public var hugetlb: [String: Hugetlb] = [:]

  public init() {}

  public struct CPU: Codable, Sendable, Equatable {
    public var usage = CPUUsage()
    public var throttling = Throttling()
    public init() {}
  }

  public struct CPUUsage: Codable, Sendable, Equatable {
    public var total: UInt64 = 0
    /// v1 only (cpuacct.usage_percpu).
    public var percpu: [UInt64]?
    public var percpuKernel: [UInt64]?
    public var percpuUser: [UInt64]?
    public var kernel: UInt64 = 0
    public var user: UInt64 = 0
    public init() {}

    enum CodingKeys: String, CodingKey {
      case total, percpu, kernel, user
      case percpuKernel = "percpu_kernel"
      case percpuUser = "percpu_user"
    }
  }

  public struct Throttling: Codable, Sendable, Equatable {
    public var periods: UInt64 = 0
    public var throttledPeriods: UInt64 = 0
    public var throttledTime: UInt64 = 0
    public init() {}
  }

  public struct Memory: Codable, Sendable, Equatable {
    /// Page cache (v1 "cache", v2 "file" of memory.stat).
    public var cache: UInt64 = 0
    public var usage = MemoryEntry()
    /// v1: memory+swap (memsw); v2: swap plus memory, for v1 compatibility as runc reports it.
    public var swap = MemoryEntry()
    public var kernel = MemoryEntry()
    public var kernelTCP = MemoryEntry()
    /// memory.stat as it is.
    public var raw: [String: UInt64]?
    public init() {}
  }

  public struct MemoryEntry: Codable, Sendable, Equatable {
    /// UInt64.max when unlimited.
    public var limit: UInt64 = 0
    public var usage: UInt64 = 0
    /// The peak usage.
    public var max: UInt64 = 0
    /// How often the limit was hit (v2: the "max" count of memory.events).
    public var failcnt: UInt64 = 0
    public init() {}
  }

  public struct Pids: Codable, Sendable, Equatable {
    public var current: UInt64 = 0
    /// 0 when unlimited.
    public var limit: UInt64 = 0
    public init() {}
  }

  public struct Blkio: Codable, Sendable, Equatable {
    public var ioServiceBytesRecursive: [BlkioEntry]?
    public var ioServicedRecursive: [BlkioEntry]?
    public init() {}
  }

  public struct BlkioEntry: Codable, Sendable, Equatable {
    public var major: UInt64
    public var minor: UInt64
    /// "Read", "Write", "Sync", "Async", "Discard", "Total".
    public var op: String
    public var value: UInt64

    public init(major: UInt64, minor: UInt64, op: String, value: UInt64) {
      self.major = major
      self.minor = minor
      self.op = op
      self.value = value
    }
  }

  public struct Hugetlb: Codable, Sendable, Equatable {
    public var usage: UInt64 = 0
    public var max: UInt64 = 0
    public var failcnt: UInt64 = 0
    public init() {}
  }
}
