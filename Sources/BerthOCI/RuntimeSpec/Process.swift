/// The process the container runs (and, for `exec`, an extra process in it).
public struct Process: Codable, Sendable, Equatable {
  public var terminal: Bool?
  public var consoleSize: ConsoleSize?
  public var user: User
  public var args: [String]?
  public var env: [String]?
  public var cwd: String
  public var capabilities: LinuxCapabilities?
  public var rlimits: [POSIXRlimit]?
  public var noNewPrivileges: Bool?
  public var apparmorProfile: String?
  public var oomScoreAdj: Int?
  public var scheduler: Scheduler?
  public var selinuxLabel: String?
  public var ioPriority: IOPriority?

  public init(
    terminal: Bool? = nil, consoleSize: ConsoleSize? = nil, user: User = User(), args: [String]? = nil,
    env: [String]? = nil, cwd: String = "/", capabilities: LinuxCapabilities? = nil,
    rlimits: [POSIXRlimit]? = nil, noNewPrivileges: Bool? = nil, apparmorProfile: String? = nil,
    oomScoreAdj: Int? = nil, scheduler: Scheduler? = nil, selinuxLabel: String? = nil,
    ioPriority: IOPriority? = nil
  ) {
    self.terminal = terminal
    self.consoleSize = consoleSize
    self.user = user
    self.args = args
    self.env = env
    self.cwd = cwd
    self.capabilities = capabilities
    self.rlimits = rlimits
    self.noNewPrivileges = noNewPrivileges
    self.apparmorProfile = apparmorProfile
    self.oomScoreAdj = oomScoreAdj
    self.scheduler = scheduler
    self.selinuxLabel = selinuxLabel
    self.ioPriority = ioPriority
  }
}

/// The size of the console (pty) in characters.
public struct ConsoleSize: Codable, Sendable, Equatable {
  public var height: UInt
  public var width: UInt

  public init(height: UInt, width: UInt) {
    self.height = height
    self.width = width
  }
}

/// Who the process runs as.
public struct User: Codable, Sendable, Equatable {
  public var uid: UInt32
  public var gid: UInt32
  public var umask: UInt32?
  public var additionalGids: [UInt32]?

  public init(uid: UInt32 = 0, gid: UInt32 = 0, umask: UInt32? = nil, additionalGids: [UInt32]? = nil) {
    self.uid = uid
    self.gid = gid
    self.umask = umask
    self.additionalGids = additionalGids
  }
}

/// Capability sets, by name (`CAP_SYS_ADMIN`).
public struct LinuxCapabilities: Codable, Sendable, Equatable {
  public var bounding: [String]?
  public var effective: [String]?
  public var inheritable: [String]?
  public var permitted: [String]?
  public var ambient: [String]?

  public init(
    bounding: [String]? = nil, effective: [String]? = nil, inheritable: [String]? = nil,
    permitted: [String]? = nil, ambient: [String]? = nil
  ) {
    self.bounding = bounding
    self.effective = effective
    self.inheritable = inheritable
    self.permitted = permitted
    self.ambient = ambient
  }
}

/// A resource limit (`RLIMIT_NOFILE`, ...).
public struct POSIXRlimit: Codable, Sendable, Equatable {
  public var type: String
  public var hard: UInt64
  public var soft: UInt64

  public init(type: String, hard: UInt64, soft: UInt64) {
    self.type = type
    self.hard = hard
    self.soft = soft
  }
}

/// Scheduling attributes, as sched_setattr(2) takes them.
public struct Scheduler: Codable, Sendable, Equatable {
  public var policy: String
  public var nice: Int32?
  public var priority: Int32?
  public var flags: [String]?
  public var runtime: UInt64?
  public var deadline: UInt64?
  public var period: UInt64?

  public init(
    policy: String, nice: Int32? = nil, priority: Int32? = nil, flags: [String]? = nil,
    runtime: UInt64? = nil, deadline: UInt64? = nil, period: UInt64? = nil
  ) {
    self.policy = policy
    self.nice = nice
    self.priority = priority
    self.flags = flags
    self.runtime = runtime
    self.deadline = deadline
    self.period = period
  }
}

/// I/O scheduling class and priority, as ioprio_set(2) takes them.
public struct IOPriority: Codable, Sendable, Equatable {
  public var `class`: String
  public var priority: Int

  public init(class ioClass: String, priority: Int) {
    self.class = ioClass
    self.priority = priority
  }
}
