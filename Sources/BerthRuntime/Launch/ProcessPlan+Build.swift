#if canImport(Glibc)
import Glibc
#endif
import BerthOCI
import BerthOS

/// Checks a `process` object (config.json's, or `exec --process`'s) and turns it into a plan.
struct ProcessPlanBuilder {
  /// The JSON path of the object, for messages: "process".
  var field: String
  var process: Process

  static let rlimitNumbers: [String: Int32] = [
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
  ]

  func invalid(_ subfield: String, _ message: String) -> BerthError {
    BerthError(.invalidArgument, "\(field)\(subfield.isEmpty ? "" : "." + subfield): \(message)")
  }

  func build(personality: LinuxPersonality?, preserveFDs: Int) throws -> ProcessPlan {
    guard let args = process.args, let program = args.first, !program.isEmpty else {
      throw invalid("args", "must name the program to run (an array of strings, not empty)")
    }
    guard process.cwd.hasPrefix("/") else {
      throw invalid("cwd", "must be an absolute path in the container, got \(quoted(process.cwd))")
    }
    let umask = process.user.umask ?? 0o022
    guard umask <= 0o777 else { throw invalid("user.umask", "\(umask) is not a file mode mask (0 to 0777)") }
    if let adjust = process.oomScoreAdj, adjust < -1000 || adjust > 1000 {
      throw invalid("oomScoreAdj", "\(adjust) is out of range (-1000 to 1000)")
    }
    if process.consoleSize != nil && process.terminal != true {
      throw invalid("consoleSize", "set, but process.terminal is not true")
    }
    let env = process.env ?? []
    for (index, entry) in env.enumerated() where !entry.contains("=") {
      throw invalid("env[\(index)]", "\(quoted(entry)) is not of the form NAME=value")
    }
    return ProcessPlan(
      args: args, env: env, cwd: Path.clean(process.cwd), uid: process.user.uid, gid: process.user.gid,
      additionalGids: process.user.additionalGids ?? [], umask: umask,
      capabilities: try capabilitySets(), rlimits: try rlimits(),
      noNewPrivileges: process.noNewPrivileges ?? false, oomScoreAdj: process.oomScoreAdj,
      terminal: process.terminal ?? false, consoleSize: process.consoleSize,
      apparmorProfile: process.apparmorProfile.flatMap { $0.isEmpty ? nil : $0 },
      personality: try personalityValue(personality), scheduler: try checkedScheduler(),
      ioPriority: try checkedIOPriority(), preserveFDs: preserveFDs)
  }

  func capabilitySets() throws -> CapabilitySets? {
    guard let caps = process.capabilities else { return nil }
    let prefix = "\(field).capabilities"
    return CapabilitySets(
      bounding: try Capabilities.mask(caps.bounding, field: "\(prefix).bounding"),
      effective: try Capabilities.mask(caps.effective, field: "\(prefix).effective"),
      permitted: try Capabilities.mask(caps.permitted, field: "\(prefix).permitted"),
      inheritable: try Capabilities.mask(caps.inheritable, field: "\(prefix).inheritable"),
      ambient: try Capabilities.mask(caps.ambient, field: "\(prefix).ambient"))
  }

  func rlimits() throws -> [(resource: Int32, soft: UInt64, hard: UInt64)] {
    var result: [(resource: Int32, soft: UInt64, hard: UInt64)] = []
    for (index, limit) in (process.rlimits ?? []).enumerated() {
      guard let number = ProcessPlanBuilder.rlimitNumbers[limit.type] else {
        throw invalid("rlimits[\(index)].type", "unknown resource limit \(quoted(limit.type)) (such as RLIMIT_NOFILE)")
      }
      guard limit.soft <= limit.hard else {
        throw invalid("rlimits[\(index)]", "soft limit \(limit.soft) is above hard limit \(limit.hard)")
      }
      guard !result.contains(where: { $0.resource == number }) else {
        throw invalid("rlimits[\(index)].type", "\(limit.type) is listed twice")
      }
      result.append((number, limit.soft, limit.hard))
    }
    return result
  }

  func personalityValue(_ personality: LinuxPersonality?) throws -> UInt? {
    guard let personality else { return nil }
    switch personality.domain {
    case "LINUX": return 0x0000
    case "LINUX32": return 0x0008
    default:
      throw BerthError(.invalidArgument, "linux.personality.domain: unknown domain \(quoted(personality.domain)): use LINUX or LINUX32")
    }
  }

  static let schedulerPolicies: [String: Int32] = [
    "SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3, "SCHED_ISO": 4, "SCHED_IDLE": 5,
    "SCHED_DEADLINE": 6,
  ]
  static let schedulerFlags: [String: UInt64] = [
    "SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02, "SCHED_FLAG_DL_OVERRUN": 0x04,
    "SCHED_FLAG_KEEP_POLICY": 0x08, "SCHED_FLAG_KEEP_PARAMS": 0x10, "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
    "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40,
  ]

  func checkedScheduler() throws -> Scheduler? {
    guard let scheduler = process.scheduler else { return nil }
    guard ProcessPlanBuilder.schedulerPolicies[scheduler.policy] != nil else {
      throw invalid("scheduler.policy", "unknown policy \(quoted(scheduler.policy)) (such as SCHED_OTHER or SCHED_FIFO)")
    }
    for (index, flag) in (scheduler.flags ?? []).enumerated() where ProcessPlanBuilder.schedulerFlags[flag] == nil {
      throw invalid("scheduler.flags[\(index)]", "unknown flag \(quoted(flag))")
    }
    if let nice = scheduler.nice, nice < -20 || nice > 19 {
      throw invalid("scheduler.nice", "\(nice) is out of range (-20 to 19)")
    }
    return scheduler
  }

  static let ioPriorityClasses: [String: Int32] = ["IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3]

  func checkedIOPriority() throws -> IOPriority? {
    guard let priority = process.ioPriority else { return nil }
    guard ProcessPlanBuilder.ioPriorityClasses[priority.class] != nil else {
      throw invalid("ioPriority.class", "unknown class \(quoted(priority.class)): use IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE")
    }
    guard (0...7).contains(priority.priority) else {
      throw invalid("ioPriority.priority", "\(priority.priority) is out of range (0 to 7)")
    }
    return priority
  }
}
