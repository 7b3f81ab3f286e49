#if canImport(Glibc)
import Glibc
#endif
import BerthOCI
import BerthOS
import CLinux

/// What the container's process inherits from the init: limits, scheduling, credentials and
/// capabilities. Runs in the init (or the exec'd process's setup) after pivot_root.
enum ProcessSetup {
  /// Resource limits, personality, scheduling and I/O priority: the parts that need privileges
  /// the process may later drop.
  static func applyLimits(_ process: ProcessPlan, field: String = "process") throws {
    for limit in process.rlimits {
      if berth_prlimit(0, limit.resource, limit.soft, limit.hard) != 0 {
        let failure = errno
        let name = ProcessPlanBuilder.rlimitNumbers.first { $0.value == limit.resource }?.key ?? "\(limit.resource)"
        var message = "\(field).rlimits: set \(name) to soft \(limit.soft), hard \(limit.hard): \(errnoDescription(failure))"
        if failure == EPERM {
          var current = rlimit()
          getrlimit(__rlimit_resource_t(UInt32(limit.resource)), &current)
          message += " (the hard limit here is \(current.rlim_max); raising it needs CAP_SYS_RESOURCE)"
        }
        throw BerthError(.system, message, errno: failure)
      }
    }
    if let persona = process.personality {
      if berth_personality(persona) < 0 { throw BerthError.system("linux.personality") }
    }
    if let scheduler = process.scheduler {
      var flags: UInt64 = 0
      for flag in scheduler.flags ?? [] { flags |= ProcessPlanBuilder.schedulerFlags[flag] ?? 0 }
      let policy = UInt32(ProcessPlanBuilder.schedulerPolicies[scheduler.policy] ?? 0)
      let rc = berth_sched_setattr(
        policy, flags, scheduler.nice ?? 0, UInt32(bitPattern: scheduler.priority ?? 0),
        scheduler.runtime ?? 0, scheduler.deadline ?? 0, scheduler.period ?? 0)
      if rc != 0 { throw BerthError.system("\(field).scheduler: sched_setattr \(scheduler.policy)") }
    }
    if let priority = process.ioPriority {
      let ioClass = ProcessPlanBuilder.ioPriorityClasses[priority.class] ?? 2
      if berth_ioprio_set_self(ioClass, Int32(priority.priority)) != 0 {
        throw BerthError.system("\(field).ioPriority: ioprio_set \(priority.class) \(priority.priority)")
      }
    }
  }

  /// Sets a process's OOM score adjustment. The runtime does it for the container's process
  /// right after cloning it: the process itself is not dumpable during setup, which in a user
  /// namespace would keep it from writing its own /proc files.
  static func setOOMScoreAdjust(_ adjust: Int, pid: pid_t, field: String = "process") throws {
    let path = "/proc/\(pid)/oom_score_adj"
    do {
      try FS.writeExisting(path, String(adjust))
    } catch let error as BerthError {
      var message = "\(field).oomScoreAdj: \(error.message)"
      if error.errno == EACCES || error.errno == EPERM,
         let current = try? FS.readText(path, trimmingNewline: true), let value = Int(current), adjust < value {
        message += " (lowering it below \(value) needs CAP_SYS_RESOURCE)"
      }
      throw BerthError(.system, message, errno: error.errno)
    }
  }

  /// Drops the bounding set, switches to the process's user and groups, and sets the other
  /// capability sets, in the order that keeps the capabilities across the uid change.
  static func switchUser(_ process: ProcessPlan, field: String = "process") throws {
    let lastCap = Capabilities.lastCapability()
    if let caps = process.capabilities {
      for cap in 0...lastCap where caps.bounding & (1 << UInt64(cap)) == 0 {
        if berth_prctl(BERTH_PR_CAPBSET_DROP, UInt(cap), 0, 0, 0) != 0 && errno != EINVAL {
          throw BerthError.system("\(field).capabilities.bounding: drop \(Capabilities.all[safe: cap] ?? "\(cap)")")
        }
      }
      try check("keep capabilities across the user change") { berth_prctl(BERTH_PR_SET_KEEPCAPS, 1, 0, 0, 0) }
    }
    try setGroups(process, field: field)
    if berth_setresgid(process.gid, process.gid, process.gid) != 0 {
      throw BerthError.system("\(field).user.gid: setresgid \(process.gid)")
    }
    if berth_setresuid(process.uid, process.uid, process.uid) != 0 {
      throw BerthError.system("\(field).user.uid: setresuid \(process.uid)")
    }
    guard let caps = process.capabilities else { return }
    try check("reset keep-capabilities") { berth_prctl(BERTH_PR_SET_KEEPCAPS, 0, 0, 0, 0) }
    let mask = lastCap >= 63 ? UInt64.max : (UInt64(1) << UInt64(lastCap + 1)) - 1
    func halves(_ value: UInt64) -> [UInt32] { [UInt32(truncatingIfNeeded: value & mask), UInt32(truncatingIfNeeded: (value & mask) >> 32)] }
    let effective = halves(caps.effective), permitted = halves(caps.permitted), inheritable = halves(caps.inheritable)
    if berth_capset_v3(effective, permitted, inheritable) != 0 {
      throw BerthError.system("\(field).capabilities: capset (effective and inheritable must be within permitted)")
    }
    // Ambient capabilities must be permitted and inheritable; the kernel refuses the others.
    // runc only warns about those (and its own `spec` lists ambient capabilities without
    // inheritable ones), so a refused raise is skipped here too.
    for cap in 0...lastCap where caps.ambient & caps.permitted & caps.inheritable & (1 << UInt64(cap)) != 0 {
      if berth_prctl(BERTH_PR_CAP_AMBIENT, UInt(BERTH_PR_CAP_AMBIENT_RAISE), UInt(cap), 0, 0) != 0 {
        throw BerthError.system("\(field).capabilities.ambient: raise \(Capabilities.all[safe: cap] ?? "\(cap)")")
      }
    }
  }

  /// Supplementary groups: exactly additionalGids, so that none of the runtime caller's
  /// groups leak into the container. Skipped where a user namespace denies setgroups.
  static func setGroups(_ process: ProcessPlan, field: String) throws {
    if let policy = try? FS.readText("/proc/self/setgroups", trimmingNewline: true), policy == "deny" {
      if !process.additionalGids.isEmpty {
        throw BerthError(.invalidArgument, "\(field).user.additionalGids: this user namespace denies setgroups")
      }
      return
    }
    let groups = process.additionalGids.map { gid_t($0) }
    let rc = groups.withUnsafeBufferPointer { berth_setgroups($0.count, $0.baseAddress) }
    if rc != 0 { throw BerthError.system("\(field).user.additionalGids: setgroups") }
  }

  /// Confines the process with an AppArmor profile from its next exec on.
  static func applyAppArmor(_ profile: String) throws {
    let path = FS.exists("/proc/self/attr/apparmor/exec") ? "/proc/self/attr/apparmor/exec" : "/proc/self/attr/exec"
    do { try FS.writeExisting(path, "exec \(profile)") } catch let error as BerthError {
      throw error.prefixed("process.apparmorProfile \(quoted(profile))")
    }
  }

  /// The executable for args[0], looked up in the process's PATH inside the container, with
  /// the errors runc gives ("executable file not found in $PATH").
  static func resolveExecutable(_ process: ProcessPlan) throws -> String {
    let program = process.args[0]
    func isExecutable(_ path: String) -> Int32 {
      var info = stat()
      if stat(path, &info) != 0 { return errno }
      if (info.st_mode & S_IFMT) == S_IFDIR { return EISDIR }
      return access(path, X_OK) == 0 ? 0 : errno
    }
    if program.contains("/") {
      let failure = isExecutable(program)
      if failure != 0 {
        throw BerthError(.notFound, "exec: \(quoted(program)): \(errnoDescription(failure).lowercased())", errno: failure)
      }
      return program
    }
    var searchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    for entry in process.env where entry.hasPrefix("PATH=") { searchPath = String(entry.dropFirst(5)) }
    var firstDenied: String?
    for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
      let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + program
      let failure = isExecutable(candidate)
      if failure == 0 { return candidate }
      if failure == EACCES && firstDenied == nil { firstDenied = candidate }
    }
    if let firstDenied {
      throw BerthError(.notFound, "exec: \(quoted(program)): \(firstDenied): permission denied", errno: EACCES)
    }
    throw BerthError(.notFound, "exec: \(quoted(program)): executable file not found in $PATH", errno: ENOENT)
  }
}

extension Array {
  subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
