#if canImport(Glibc)
import Glibc
#endif
import BerthCgroups
import BerthJSON
import BerthOCI
import BerthOS
import BerthSeccomp
import CLinux

/// `exec`: a new process in a running container, in its namespaces and cgroups, under its
/// seccomp filter.
enum ExecCommand {
  static let flags: [FlagSpec] = [
    .value("console-socket"), .value("cwd"), .multi("env", "e"), .bool("tty", "t"), .value("user", "u"),
    .multi("additional-gids", "g"), .value("process", "p"), .bool("detach", "d"), .value("pid-file"),
    .value("process-label"), .value("apparmor"), .bool("no-new-privs"), .multi("cap", "c"),
    .value("preserve-fds"), .multi("cgroup"), .bool("ignore-paused"),
  ]

  static func run(_ arguments: [String], _ context: CommandContext) throws -> Int32 {
    let flags = try FlagParser.parse(arguments, specs: ExecCommand.flags)
    let id = try flags.requirePositional("CONTAINER_ID", command: "exec")[0]
    let (state, cgroups, status) = try loadRunning(id, context)
    if try status == .paused && !flags.bool("ignore-paused") {
      throw BerthError(.invalidState, "container \(quoted(id)) is paused: resume it first (or pass --ignore-paused)")
    }
    let process = try processFromFlags(flags, state: state)
    let detach = try flags.bool("detach")
    if process.terminal == true && detach && flags.value("console-socket") == nil {
      throw BerthError(.invalidArgument, "exec --tty --detach needs --console-socket to hand the terminal to")
    }
    if !flags.values("cgroup").isEmpty {
      throw BerthError(.unsupported, "exec --cgroup: choosing a sub-cgroup is not supported yet")
    }
    var preserve = 0
    if let text = flags.value("preserve-fds") {
      guard let count = Int(text), count >= 0 else { throw UsageError("--preserve-fds: \(quoted(text)) is not a count") }
      preserve = count
    }
    let plan = try ProcessPlanBuilder(field: flags.value("process") == nil ? "process" : "--process", process: process)
      .build(personality: nil, preserveFDs: preserve)
    let seccomp: SeccompPlan? = state.hasSeccomp
      ? SeccompPlan(program: try SeccompProgram(serialized: FS.read(Path.join(context.store.directory(id), ContainerStore.seccompFile))),
                    listenerPath: nil, listenerMetadata: nil)
      : nil
    let consoleSocket: Int32 = try flags.value("console-socket").map { try Console.connect($0).release() } ?? -1
    defer { if consoleSocket >= 0 { close(consoleSocket) } }
    let stubFD = try ExecStub.makeFD()
    defer { if stubFD >= 0 { close(stubFD) } }

    var previousMask = sigset_t()
    if !detach { berth_sigmask_block_all(&previousMask) }
    defer { if detach { berth_sigmask_set(&previousMask) } }

    // Namespaces that apply to children only (pid, time) and those a process in the
    // container's user namespace could not join are joined here, before the clone.
    let initPID = state.pid
    let order: [NamespaceType] = [.pid, .time, .network, .ipc, .uts, .cgroup]
    for type in order where state.namespaces.contains(type) {
      try Namespaces.join(type, path: "/proc/\(initPID)/ns/\(NamespacePlan.procName(type))")
    }
    // The process enters the container's cgroups as the init does (see CgroupEntry).
    let entry = try CgroupEntry(manager: cgroups, host: CgroupHost.detect())
    defer { entry.close() }
    let (runtimeEnd, childEnd) = try SyncChannel.makePair()
    var pid = berth_clone3(0, entry.cloneFD ?? -1, nil)
    var clonedIntoCgroup = entry.cloneFD != nil
    if pid < 0 && clonedIntoCgroup && (errno == EINVAL || errno == E2BIG || errno == EOPNOTSUPP) {
      pid = berth_clone3(0, -1, nil)
      clonedIntoCgroup = false
    }
    if pid < 0 {
      childEnd.close()
      runtimeEnd.close()
      throw BerthError.system("start the process (clone3)")
    }
    if pid == 0 {
      runtimeEnd.close()
      ExecInit(process: plan, seccomp: seccomp, channel: childEnd, execStubFD: stubFD, initPID: initPID,
               namespaces: state.namespaces, consoleSocketFD: consoleSocket >= 0 ? consoleSocket : nil,
               cgroupTaskFDs: entry.taskFDs).run()
    }
    childEnd.close()
    var ptyMaster: Int32?
    do {
      if entry.cloneFD != nil && !clonedIntoCgroup, let unified = cgroups.paths[""] {
        try CgroupEntry.move(pid, into: unified)
      }
      if let adjust = plan.oomScoreAdj { try ProcessSetup.setOOMScoreAdjust(adjust, pid: pid) }
      try runtimeEnd.send(.go, text: String(pid))
      while true {
        guard let message = try runtimeEnd.receive() else {
          throw BerthError(.commandFailed, "the process exited during setup")
        }
        if message.tag == .created { break }
        switch message.tag {
        case .ptyMaster: ptyMaster = message.fds.first
        case .seccompListener:
          for fd in message.fds { close(fd) }
          try runtimeEnd.send(.resume)
        case .error: throw BerthError(.commandFailed, String(decoding: message.payload, as: UTF8.self))
        default: throw BerthError(.internalError, "unexpected message \(message.tag) from the process")
        }
      }
      let supervisor = Supervisor(pid: pid, channel: runtimeEnd, ptyMaster: ptyMaster)
      try supervisor.start()
      if let pidFile = flags.value("pid-file") { try Launcher.writePIDFile(pidFile, pid: pid) }
      if detach {
        runtimeEnd.close()
        return 0
      }
      return supervisor.waitForExit().shellCode
    } catch {
      kill(pid, SIGKILL)
      var status: Int32 = 0
      _ = retryOnInterrupt { waitpid(pid, &status, 0) }
      runtimeEnd.close()
      throw error
    }
  }

  /// The process to run: `--process FILE` as it is, or config.json's process with the
  /// command line's arguments and overrides (runc's rules).
  static func processFromFlags(_ flags: ParsedFlags, state: SavedState) throws -> Process {
    if let file = flags.value("process") {
      let bytes = try FS.read(file)
      do { return try JSON.decode(Process.self, from: bytes) } catch let error as JSONError {
        throw BerthError(.invalidArgument, "--process \(file): \(error)")
      }
    }
    let args = Array(flags.positional.dropFirst())
    guard !args.isEmpty else {
      throw UsageError("exec: missing the command to run (usage: berth-runtime exec [options] CONTAINER_ID COMMAND [ARG...])")
    }
    let spec = try Launcher(store: ContainerStore(root: "/"), log: RuntimeLog()).loadSpec(bundle: state.bundle)
    var process = spec.process ?? Process()
    process.args = args
    process.terminal = try flags.bool("tty")
    process.consoleSize = nil
    process.env = (process.env ?? []) + flags.values("env")
    if let cwd = flags.value("cwd") { process.cwd = cwd }
    if let user = flags.value("user") {
      let parts = user.split(separator: ":", maxSplits: 1)
      guard let uid = UInt32(parts[0]), parts.count == 1 || UInt32(parts[1]) != nil else {
        throw UsageError("--user: \(quoted(user)) is not UID[:GID] (numbers)")
      }
      process.user.uid = uid
      process.user.gid = parts.count > 1 ? UInt32(parts[1]) ?? 0 : 0
    }
    for gid in flags.values("additional-gids") {
      guard let value = UInt32(gid) else { throw UsageError("--additional-gids: \(quoted(gid)) is not a number") }
      process.user.additionalGids = (process.user.additionalGids ?? []) + [value]
    }
    if try flags.bool("no-new-privs") { process.noNewPrivileges = true }
    if let profile = flags.value("apparmor") { process.apparmorProfile = profile }
    if let label = flags.value("process-label") { process.selinuxLabel = label }
    let added = flags.values("cap")
    if !added.isEmpty {
      var caps = process.capabilities ?? LinuxCapabilities()
      caps.bounding = (caps.bounding ?? []) + added
      caps.effective = (caps.effective ?? []) + added
      caps.permitted = (caps.permitted ?? []) + added
      // Ambient needs inheritable, which --cap does not add: only when the config has some.
      if caps.inheritable != nil { caps.ambient = (caps.ambient ?? []) + added }
      process.capabilities = caps
    }
    return process
  }
}

/// The child side of `exec`: join the container's user and mount namespaces, then finish like
/// the init.
struct ExecInit {
  let process: ProcessPlan
  let seccomp: SeccompPlan?
  let channel: SyncChannel
  let execStubFD: Int32
  let initPID: Int
  let namespaces: [NamespaceType]
  let consoleSocketFD: Int32?
  let cgroupTaskFDs: [Int32]

  func run() -> Never {
    ProcessFinisher.resetSignals()
    do {
      try CgroupEntry.enter(taskFDs: cgroupTaskFDs)
      _ = try channel.expect(.go, eofError: BerthError(.internalError, "the runtime went away"))
      // Not dumpable: no process in the container may open this one's /proc files (and its
      // exe link) while it still runs the runtime's code.
      _ = berth_prctl(BERTH_PR_SET_DUMPABLE, 0, 0, 0, 0)
      for type in [NamespaceType.user, .mount] where namespaces.contains(type) {
        try Namespaces.join(type, path: "/proc/\(initPID)/ns/\(NamespacePlan.procName(type))")
        if type == .user {
          try check("setresgid 0 in the user namespace") { berth_setresgid(0, 0, 0) }
          try check("setresuid 0 in the user namespace") { berth_setresuid(0, 0, 0) }
        }
      }
      if !namespaces.contains(.mount) {
        // No mount namespace of its own: enter the init's root instead.
        try check("enter the container's root") { chroot("/proc/\(initPID)/root") }
      }
      try check("chdir /") { chdir("/") }
      if process.terminal {
        let master = try Console.setUp(size: process.consoleSize, bindConsole: false)
        if let consoleSocketFD {
          try Console.send(master: master.raw, over: consoleSocketFD)
          close(consoleSocketFD)
        } else {
          try channel.send(.ptyMaster, fds: [master.raw])
        }
      }
      let finisher = ProcessFinisher(process: process, seccomp: seccomp, channel: channel, execStubFD: execStubFD)
      try finisher.finish(fifoFD: nil, beforeExec: nil)
    } catch {
      try? channel.send(.error, text: "\(error)")
    }
    _exit(1)
  }
}
