#if canImport(Glibc)
import Glibc
#endif
import BerthOCI
import BerthOS
import CLinux
import CSeccomp

/// Seccomp for the runtime: compiling `linux.seccomp` into BPF with libseccomp, probing what the
/// kernel supports, and handing a user-notification listener to its agent.
public enum Seccomp {
  /// Identifies what produced a compiled program: the compiler's own version and libseccomp's.
  /// Caches of ``SeccompProgram/serialized`` key on this as well as on the config.
  public static var compilerIdentity: String {
    "berth-seccomp/\(SeccompProgram.serializationVersion) libseccomp/\(libseccompVersion)"
  }

  /// "2.5.4"
  public static var libseccompVersion: String {
    guard let version = seccomp_version() else { return "unknown" }
    return "\(version.pointee.major).\(version.pointee.minor).\(version.pointee.micro)"
  }

  /// The native syscall number libseccomp knows for `name`, nil when it knows none.
  public static func syscallNumber(_ name: String) -> Int32? {
    let number = seccomp_syscall_resolve_name_arch(seccomp_arch_native(), name)
    return number < 0 ? nil : number
  }
}

// MARK: - compile

extension Seccomp {
  /// Compiles a `linux.seccomp` config into a BPF program, with runc's semantics:
  ///
  /// - The native architecture is always in the filter; `architectures` adds others.
  /// - `SCMP_ACT_ERRNO` and `SCMP_ACT_TRACE` use `errnoRet` (rules) or `defaultErrnoRet` (the
  ///   default action), EPERM when absent; `errnoRet` on another action is an error.
  /// - A rule whose action is the default action is skipped. A syscall name libseccomp does not
  ///   know on any architecture is skipped: profiles list syscalls of many kernels.
  /// - Arguments with distinct indices make one rule (all must match); when an index repeats,
  ///   each argument becomes a rule of its own (any may match). `SCMP_CMP_MASKED_EQ` takes the
  ///   mask from `value` and the datum from `valueTwo`.
  /// - SECCOMP_FILTER_FLAG_TSYNC is accepted and ignored: the init is single-threaded.
  ///   SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV only applies with SCMP_ACT_NOTIFY rules.
  /// - SCMP_ACT_NOTIFY needs `listenerPath` (and `listenerPath` needs a NOTIFY rule); it cannot
  ///   be the default action, nor apply to `write` (the init writes to its parent after loading).
  /// - Unless the default action lets syscalls through (ALLOW, LOG, TRACE) or already returns
  ///   ENOSYS, the program starts with runc's -ENOSYS stub: syscalls newer than every syscall the
  ///   profile names get ENOSYS, so that libc falls back to older ones instead of failing.
  ///
  /// Errors name the field: `linux.seccomp.syscalls[3].errnoRet: ...`.
  public static func compile(_ config: LinuxSeccomp) throws -> SeccompProgram {
    let plan = try Plan(config)
    var bytes = try plan.buildWithLibseccomp()
    if plan.wantsEnosysStub {
      let stub = try plan.enosysStub()
      if !stub.isEmpty {
        var prefix: [UInt8] = []
        prefix.reserveCapacity(stub.count * BPFInstruction.size + bytes.count)
        for instruction in stub { instruction.append(to: &prefix) }
        bytes = prefix + bytes
      }
    }
    if bytes.count / BPFInstruction.size > Kernel.maxInstructions {
      throw BerthError(
        .invalidArgument,
        "linux.seccomp: the filter compiles to \(bytes.count / BPFInstruction.size) BPF instructions, more than the kernel's limit of \(Kernel.maxInstructions)")
    }
    return try SeccompProgram(instructions: bytes, flags: plan.flags, usesNotify: plan.usesNotify)
  }
}

/// A validated config, translated to libseccomp's values.
private struct Plan {
  struct Rule {
    /// linux.seccomp.syscalls[i]
    var field: String
    var names: [String]
    var action: UInt32
    /// One seccomp_rule_add_array call per element; `[[]]` for an unconditional rule.
    var conditionSets: [[scmp_arg_cmp]]
  }

  var defaultAction: UInt32
  /// runc's rule: the stub is for defaults that refuse syscalls; ALLOW, LOG and TRACE let new
  /// syscalls through anyway, and an ENOSYS default already answers what the stub would.
  var wantsEnosysStub: Bool
  /// libseccomp tokens of the architectures to add (the native one is always there).
  var architectures: [UInt32] = []
  var flags: UInt32 = 0
  var usesNotify = false
  var rules: [Rule] = []
  /// Every syscall name of the config, skipped rules included: what the -ENOSYS stub counts as
  /// known to the profile.
  var profileNames: [String] = []

  init(_ config: LinuxSeccomp) throws {
    if config.defaultAction == .notify {
      throw invalid(
        "linux.seccomp.defaultAction",
        "SCMP_ACT_NOTIFY cannot be the default action: the init's own syscalls after loading the filter would wait for an agent that has not received the listener yet")
    }
    defaultAction = try actionValue(
      config.defaultAction, errnoRet: config.defaultErrnoRet, errnoField: "linux.seccomp.defaultErrnoRet")
    switch config.defaultAction {
    case .allow, .log, .trace: wantsEnosysStub = false
    case .errno: wantsEnosysStub = defaultAction != Kernel.actErrno(UInt32(ENOSYS))
    default: wantsEnosysStub = true
    }

    for (index, name) in (config.architectures ?? []).enumerated() {
      let field = "linux.seccomp.architectures[\(index)]"
      guard let arch = SeccompArchitecture.named(name) else {
        throw invalid(field, "unknown architecture \(quoted(name))")
      }
      guard let token = arch.token else {
        throw BerthError(
          .unsupported, "\(field): \(name) is not supported by libseccomp \(Seccomp.libseccompVersion)")
      }
      if !architectures.contains(token) { architectures.append(token) }
    }

    for (index, name) in (config.flags ?? []).enumerated() {
      guard let flag = SeccompFlagInfo.named(name) else {
        let known = SeccompFlagInfo.all.map(\.name).joined(separator: ", ")
        throw invalid("linux.seccomp.flags[\(index)]", "unknown flag \(quoted(name)) (known: \(known))")
      }
      // TSYNC: the init that loads the filter is single-threaded; runc ignores it as well.
      if flag.bit == Kernel.flagTSync { continue }
      if !Seccomp.kernelSupportsFlag(flag.bit) {
        throw BerthError(.unsupported, "linux.seccomp.flags[\(index)]: this kernel does not support \(name)")
      }
      flags |= flag.bit
    }

    for (index, syscall) in (config.syscalls ?? []).enumerated() {
      let field = "linux.seccomp.syscalls[\(index)]"
      let action = try actionValue(syscall.action, errnoRet: syscall.errnoRet, errnoField: "\(field).errnoRet")
      if syscall.action == .notify {
        usesNotify = true
        if let position = syscall.names.firstIndex(of: "write") {
          throw invalid(
            "\(field).names[\(position)]",
            "SCMP_ACT_NOTIFY cannot be used for \"write\": the init writes to the runtime after loading the filter, before the agent has the listener")
        }
      }
      for (position, name) in syscall.names.enumerated() where name.isEmpty {
        throw invalid("\(field).names[\(position)]", "empty syscall name")
      }
      profileNames += syscall.names
      let args = syscall.args ?? []
      var conditions: [scmp_arg_cmp] = []
      var seen = Set<UInt>()
      var repeated = false
      for (position, arg) in args.enumerated() {
        guard arg.index < 6 else {
          throw invalid("\(field).args[\(position)].index", "\(arg.index) is out of range: syscalls have arguments 0 to 5")
        }
        if !seen.insert(arg.index).inserted { repeated = true }
        conditions.append(
          scmp_arg_cmp(arg: UInt32(arg.index), op: compareOperator(arg.op), datum_a: arg.value, datum_b: arg.valueTwo ?? 0))
      }
      let sets: [[scmp_arg_cmp]]
      if conditions.isEmpty {
        sets = [[]]
      } else if repeated {
        sets = conditions.map { [$0] }  // runc: one rule per argument, any may match
      } else {
        sets = [conditions]
      }
      // libseccomp refuses rules with the default action; they change nothing.
      if action == defaultAction { continue }
      rules.append(Rule(field: field, names: syscall.names, action: action, conditionSets: sets))
    }

    let listenerPath = config.listenerPath ?? ""
    if usesNotify && listenerPath.isEmpty {
      throw invalid("linux.seccomp.listenerPath", "required when an action is SCMP_ACT_NOTIFY")
    }
    if !usesNotify && !listenerPath.isEmpty {
      throw invalid("linux.seccomp.listenerPath", "set, but no rule uses SCMP_ACT_NOTIFY")
    }
    if usesNotify {
      // API level 5: SCMP_ACT_NOTIFY and its listener (libseccomp >= 2.5, Linux >= 5.0).
      let level = seccomp_api_get()
      if level < 5 {
        throw BerthError(
          .unsupported,
          "linux.seccomp: SCMP_ACT_NOTIFY needs libseccomp API level 5 (libseccomp 2.5 and Linux 5.0 or later), this host has level \(level)")
      }
    } else {
      flags &= ~Kernel.flagWaitKillableRecv  // the kernel refuses it without a listener
    }
  }

  /// The number of syscall names in the rules libseccomp gets.
  var ruleNameCount: Int { rules.reduce(0) { $0 + $1.names.count } }

  /// Runs libseccomp: init, architectures, attributes, rules, export.
  func buildWithLibseccomp() throws -> [UInt8] {
    guard let context = seccomp_init(defaultAction) else {
      throw BerthError(
        .unsupported, "linux.seccomp.defaultAction: libseccomp or the kernel does not support action 0x\(String(defaultAction, radix: 16))")
    }
    defer { seccomp_release(context) }

    // The runtime sets no_new_privs itself (or not): libseccomp must not.
    try attribute(context, SCMP_FLTATR_CTL_NNP, 0, "turn off its no_new_privs attribute")
    try attribute(context, SCMP_FLTATR_CTL_TSYNC, 0, "turn off thread sync")

    for token in architectures {
      let result = seccomp_arch_add(context, token)
      if result < 0 && result != -EEXIST {
        throw BerthError.system("libseccomp: add architecture 0x\(String(token, radix: 16))", errno: -result)
      }
    }

    // A binary tree of syscalls makes long profiles cheaper per syscall (runc does the same).
    // libseccomp <= 2.5.4 misbehaves with a tree and no rules, hence the threshold.
    if ruleNameCount > 32 {
      _ = seccomp_attr_set(context, SCMP_FLTATR_CTL_OPTIMIZE, 2)
    }

    for rule in rules {
      for name in rule.names {
        let number = seccomp_syscall_resolve_name(name)
        if number == __NR_SCMP_ERROR { continue }  // unknown to libseccomp: skip, like runc
        for conditions in rule.conditionSets {
          let result = conditions.withUnsafeBufferPointer { buffer in
            seccomp_rule_add_array(context, rule.action, number, UInt32(buffer.count), buffer.baseAddress)
          }
          if result < 0 {
            throw BerthError(
              .invalidArgument,
              "\(rule.field): libseccomp refused the rule for \(quoted(name)): \(errnoDescription(-result))",
              errno: -result)
          }
        }
      }
    }
    return try export(context)
  }

  /// seccomp_export_bpf writes to a descriptor (libseccomp 2.5 cannot export to memory):
  /// a memfd, read back.
  private func export(_ context: scmp_filter_ctx) throws -> [UInt8] {
    let fd = OwnedFD(try check("memfd_create for the seccomp program") {
      berth_memfd_create("berth-seccomp", BERTH_MFD_CLOEXEC)
    })
    let result = seccomp_export_bpf(context, fd.raw)
    if result < 0 { throw BerthError.system("libseccomp: export the BPF program", errno: -result) }
    try check("rewind the seccomp program memfd") { lseek(fd.raw, 0, SEEK_SET) }
    return try fd.readAll()
  }

  private func attribute(_ context: scmp_filter_ctx, _ attribute: scmp_filter_attr, _ value: UInt32, _ what: String) throws {
    let result = seccomp_attr_set(context, attribute, value)
    if result < 0 { throw BerthError.system("libseccomp: \(what)", errno: -result) }
  }

  /// The -ENOSYS stub for this filter's architectures: the native one and those listed.
  func enosysStub() throws -> [BPFInstruction] {
    var seen = Set<String>()
    let names = profileNames.filter { seen.insert($0).inserted }
    func largest(_ token: UInt32) -> UInt32? {
      var best: Int32 = -1
      for name in names {
        let number = seccomp_syscall_resolve_name_arch(token, name)
        if number > best { best = number }
      }
      return best < 0 ? nil : UInt32(best)
    }
    var tokens = [seccomp_arch_native()]
    for token in architectures where !tokens.contains(token) { tokens.append(token) }

    var stubArches: [StubArchitecture] = []
    for token in tokens {
      let isX32 = token == Kernel.scmpArchX32
      let audit = isX32 ? Kernel.auditArchX86_64 : token
      var entry: StubArchitecture
      if let existing = stubArches.firstIndex(where: { $0.auditArch == audit }) {
        entry = stubArches.remove(at: existing)
      } else {
        entry = StubArchitecture(auditArch: audit)
      }
      if isX32 { entry.maxX32Syscall = largest(token) } else { entry.maxSyscall = largest(token) }
      stubArches.append(entry)
    }
    do {
      return try EnosysStub.generate(stubArches)
    } catch {
      throw BerthError(.internalError, "linux.seccomp: generating the -ENOSYS stub failed: \(error)")
    }
  }
}

/// The libseccomp action value of an OCI action, with errnoRet applied or refused.
private func actionValue(_ action: SeccompAction, errnoRet: UInt?, errnoField: String) throws -> UInt32 {
  if let errnoRet {
    guard action == .errno || action == .trace else {
      throw invalid(errnoField, "only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not \(action.rawValue)")
    }
    guard errnoRet <= UInt(Kernel.retDataMask) else {
      throw invalid(errnoField, "\(errnoRet) does not fit in the 16 bits of a seccomp return value")
    }
  }
  let data = errnoRet.map { UInt32($0) } ?? UInt32(EPERM)
  switch action {
  case .kill, .killThread: return Kernel.retKillThread
  case .killProcess: return Kernel.retKillProcess
  case .trap: return Kernel.retTrap
  case .errno: return Kernel.actErrno(data)
  case .trace: return Kernel.actTrace(data)
  case .allow: return Kernel.retAllow
  case .log: return Kernel.retLog
  case .notify: return Kernel.retUserNotif
  }
}

private func compareOperator(_ op: SeccompOperator) -> scmp_compare {
  switch op {
  case .notEqual: return SCMP_CMP_NE
  case .lessThan: return SCMP_CMP_LT
  case .lessEqual: return SCMP_CMP_LE
  case .equalTo: return SCMP_CMP_EQ
  case .greaterEqual: return SCMP_CMP_GE
  case .greaterThan: return SCMP_CMP_GT
  case .maskedEqual: return SCMP_CMP_MASKED_EQ
  }
}

private func invalid(_ field: String, _ message: String) -> BerthError {
  BerthError(.invalidArgument, "\(field): \(message)")
}
