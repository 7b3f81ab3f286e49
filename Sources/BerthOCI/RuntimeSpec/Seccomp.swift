/// A seccomp filter: a default action and rules per syscall.
public struct LinuxSeccomp: Codable, Sendable, Equatable {
  public var defaultAction: SeccompAction
  public var defaultErrnoRet: UInt?
  /// "SCMP_ARCH_X86_64", ...: extra architectures the filter accepts.
  public var architectures: [String]?
  /// "SECCOMP_FILTER_FLAG_LOG", ...
  public var flags: [String]?
  public var listenerPath: String?
  public var listenerMetadata: String?
  public var syscalls: [SeccompSyscall]?

  public init(
    defaultAction: SeccompAction, defaultErrnoRet: UInt? = nil, architectures: [String]? = nil,
    flags: [String]? = nil, listenerPath: String? = nil, listenerMetadata: String? = nil,
    syscalls: [SeccompSyscall]? = nil
  ) {
    self.defaultAction = defaultAction
    self.defaultErrnoRet = defaultErrnoRet
    self.architectures = architectures
    self.flags = flags
    self.listenerPath = listenerPath
    self.listenerMetadata = listenerMetadata
    self.syscalls = syscalls
  }
}

public enum SeccompAction: String, SpecEnum, Sendable {
  case kill = "SCMP_ACT_KILL"
  case killProcess = "SCMP_ACT_KILL_PROCESS"
  case killThread = "SCMP_ACT_KILL_THREAD"
  case trap = "SCMP_ACT_TRAP"
  case errno = "SCMP_ACT_ERRNO"
  case trace = "SCMP_ACT_TRACE"
  case allow = "SCMP_ACT_ALLOW"
  case log = "SCMP_ACT_LOG"
  case notify = "SCMP_ACT_NOTIFY"
}

public enum SeccompOperator: String, SpecEnum, Sendable {
  case notEqual = "SCMP_CMP_NE"
  case lessThan = "SCMP_CMP_LT"
  case lessEqual = "SCMP_CMP_LE"
  case equalTo = "SCMP_CMP_EQ"
  case greaterEqual = "SCMP_CMP_GE"
  case greaterThan = "SCMP_CMP_GT"
  case maskedEqual = "SCMP_CMP_MASKED_EQ"
}

/// A condition on one syscall argument.
public struct SeccompArg: Codable, Sendable, Equatable {
  public var index: UInt
  public var value: UInt64
  public var valueTwo: UInt64?
  public var op: SeccompOperator

  public init(index: UInt, value: UInt64, valueTwo: UInt64? = nil, op: SeccompOperator) {
    self.index = index
    self.value = value
    self.valueTwo = valueTwo
    self.op = op
  }
}

/// A rule: these syscalls (with these argument conditions) get this action.
public struct SeccompSyscall: Codable, Sendable, Equatable {
  public var names: [String]
  public var action: SeccompAction
  public var errnoRet: UInt?
  public var args: [SeccompArg]?

  public init(names: [String], action: SeccompAction, errnoRet: UInt? = nil, args: [SeccompArg]? = nil) {
    self.names = names
    self.action = action
    self.errnoRet = errnoRet
    self.args = args
  }
}
