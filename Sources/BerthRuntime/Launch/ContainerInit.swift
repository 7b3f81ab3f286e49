#if canImport(Glibc)
import Glibc
#endif
import BerthOCI
import BerthOS
import CLinux

/// The container's init: the cloned child of the runtime, already in the new namespaces. It
/// carries out the plan, tells the runtime how it went over the sync channel, waits for start,
/// and execs the container's process. It never returns.
struct ContainerInit {
  let plan: LaunchPlan
  let channel: SyncChannel

  func run() -> Never {
    ProcessFinisher.resetSignals()
    // Not dumpable: while this copy of the runtime sets the container up, no process of the
    // container may open its /proc files or its exe link (the kernel checks ptrace access).
    _ = berth_prctl(BERTH_PR_SET_DUMPABLE, 0, 0, 0, 0)
    do {
      try CgroupEntry.enter(taskFDs: plan.cgroupTaskFDs)
      try setUpAndExec()
    } catch {
      try? channel.send(.error, text: "\(error)")
    }
    _exit(1)
  }

  /// The runtime's `go`, received once, when first needed: the init is in its cgroups and its
  /// ID maps are written.
  final class Go {
    let channel: SyncChannel
    private var message: GoMessage?
    init(channel: SyncChannel) { self.channel = channel }

    func get() throws -> GoMessage {
      if let message { return message }
      let go = try channel.expect(.go, eofError: BerthError(.internalError, "the runtime went away"))
      let decoded = try GoMessage(decoding: go.payload)
      message = decoded
      return decoded
    }
  }

  private func setUpAndExec() throws {
    // Without a new user namespace the mounts need nothing from the runtime: they go ahead
    // while the runtime makes the cgroups, moves the init into them and records the state;
    // `go` is awaited at the cgroup mount and before anything that must happen inside the
    // cgroups (hooks, the process). A new user namespace must have its ID maps first.
    let go = Go(channel: channel)
    if plan.namespaces.isNew(.user) { _ = try go.get() }
    // Everything the init creates gets exactly the mode it asks for.
    umask(0)
    // The runtime joined the others before cloning; a user namespace must be joined by the
    // init itself (it changes credentials), then the new namespaces are made inside it.
    for namespace in plan.namespaces.join where namespace.type == .user || namespace.type == .mount {
      try joinNamespace(namespace.type, path: namespace.path)
      if namespace.type == .user && plan.namespaces.unshareAfterUserJoin != 0 {
        try check("linux.namespaces: create namespaces in the joined user namespace") {
          berth_unshare(Int32(truncatingIfNeeded: plan.namespaces.unshareAfterUserJoin))
        }
      }
    }
    if plan.namespaces.unshareCgroupAfterEntering {
      try check("linux.namespaces: create the cgroup namespace") {
        berth_unshare(Int32(truncatingIfNeeded: BERTH_CLONE_NEWCGROUP))
      }
    }
    if plan.namespaces.inUserNamespace {
      // Become root of the user namespace (uid 0 maps to what the config says).
      try check("setresgid 0 in the user namespace") { berth_setresgid(0, 0, 0) }
      try check("setresuid 0 in the user namespace") { berth_setresuid(0, 0, 0) }
    }
    let setup = RootfsSetup(plan: plan)
    let rootFD = try setup.prepare { try go.get().cgroupMounts }
    StartTrace.mark("init: mounts done")
    let hostPID = try go.get().hostPID
    if plan.newKeyring && berth_join_session_keyring("_ses.\(plan.containerID)") < 0
      && errno != ENOSYS && errno != EACCES {
      // ENOSYS: kernel without keys; EACCES: a seccomp profile or LSM forbids keyctl.
      throw BerthError.system("join a new session keyring (pass --no-new-keyring to skip it)")
    }
    StartTrace.mark("init: go")
    // The exec fifo lives in the state directory: open it while the host's tree is visible.
    // (Left open: it is close-on-exec, and this process execs or exits.)
    let fifoFD = try plan.execFifoPath.map { try OwnedFD.open($0, O_RDWR).release() }

    if !HookPhase.prestart.hooks(in: plan.hooks).isEmpty || !HookPhase.createRuntime.hooks(in: plan.hooks).isEmpty {
      try channel.send(.runHooks)
      _ = try channel.expect(.resume, eofError: BerthError(.internalError, "the runtime went away"))
    }
    try HookRunner.run(.createContainer, hooks: plan.hooks, state: state(.creating, pid: hostPID))

    StartTrace.mark("init: hooks done")
    try setup.pivot(rootFD: rootFD)
    if let hostname = plan.hostname {
      try check("hostname: sethostname \(quoted(hostname))") { berth_sethostname(hostname, hostname.utf8.count) }
    }
    if let domainname = plan.domainname {
      try check("domainname: setdomainname \(quoted(domainname))") { berth_setdomainname(domainname, domainname.utf8.count) }
    }
    if plan.process.terminal {
      let master = try Console.setUp(size: plan.process.consoleSize, bindConsole: true)
      if let socket = plan.consoleSocketFD {
        try Console.send(master: master.raw, over: socket)
        close(socket)
      } else {
        try channel.send(.ptyMaster, fds: [master.raw])
      }
    }
    StartTrace.mark("init: pivoted")
    try setup.writeSysctls()
    try setup.protectPaths()
    StartTrace.mark("init: paths protected")
    let finisher = ProcessFinisher(
      process: plan.process, seccomp: plan.seccomp, channel: channel, execStubFD: plan.execStubFD)
    let startHooks = HookPhase.startContainer.hooks(in: plan.hooks)
    try finisher.finish(fifoFD: fifoFD, beforeExec: startHooks.isEmpty ? nil : {
      try HookRunner.run(.startContainer, hooks: plan.hooks, state: state(.created, pid: hostPID))
    })
  }

  private func joinNamespace(_ type: NamespaceType, path: String) throws {
    try Namespaces.join(type, path: path)
  }

  private func state(_ status: ContainerStatus, pid: Int) -> ContainerState {
    ContainerState(
      id: plan.containerID, status: status, pid: pid, bundle: plan.bundle, rootfs: plan.rootfs,
      annotations: plan.spec.annotations)
  }
}

/// The last steps of every container process (the init's and exec's): limits, seccomp,
/// credentials, working directory, the wait for start, and the exec.
struct ProcessFinisher {
  let process: ProcessPlan
  let seccomp: SeccompPlan?
  let channel: SyncChannel
  let execStubFD: Int32

  /// The runtime may block or ignore signals; the container's process starts with defaults.
  static func resetSignals() {
    berth_reset_signal_handlers()
    var none = sigset_t()
    sigemptyset(&none)
    berth_sigmask_set(&none)
  }

  /// Sets the process up, reports `created`, waits for start (the exec fifo when given, else
  /// the runtime's `start` message), runs `beforeExec`, and execs. Returns only by throwing.
  /// - Parameter beforeExec: work between start and exec (startContainer hooks). Without it
  ///   the wait for start happens in the exec stub, and nothing of this runtime remains in the
  ///   container while it is "created".
  func finish(fifoFD: Int32?, beforeExec: (() throws -> Void)?) throws {
    try ProcessSetup.applyLimits(process)
    // Without no_new_privs, loading a seccomp filter needs CAP_SYS_ADMIN: load it while the
    // process still has it. With no_new_privs, load it as late as possible (runc's order).
    if let seccomp, !process.noNewPrivileges {
      try loadSeccomp(seccomp)
    }
    try ProcessSetup.switchUser(process)
    umask(mode_t(process.umask))
    if chdir(process.cwd) != 0 {
      throw BerthError.system("process.cwd: chdir to \(process.cwd)")
    }
    let executable = try ProcessSetup.resolveExecutable(process)
    if let profile = process.apparmorProfile { try ProcessSetup.applyAppArmor(profile) }
    if process.noNewPrivileges {
      try check("process.noNewPrivileges: set no_new_privs") { berth_prctl(BERTH_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }
      if let seccomp { try loadSeccomp(seccomp) }
    }
    StartTrace.mark("init: process ready")
    try channel.send(.created)
    let stubWaits = fifoFD != nil && beforeExec == nil && execStubFD >= 0
    if let fifoFD, !stubWaits {
      var byte: UInt8 = 0
      let n = retryOnInterrupt { read(fifoFD, &byte, 1) }
      if n != 1 { throw BerthError.system("wait for start on the exec fifo") }
    } else if fifoFD == nil {
      _ = try channel.expect(.start, eofError: BerthError(.internalError, "the runtime went away before start"))
    }
    try beforeExec?()
    // Only stdio and the preserved descriptors reach the process; the others (the sync
    // channel and the stub included) are closed by the exec. The fifo stays open for the stub,
    // which closes it after start.
    _ = berth_close_range(UInt32(3 + process.preserveFDs), UInt32.max, BERTH_CLOSE_RANGE_CLOEXEC)
    if stubWaits, let fifoFD { _ = berth_fcntl_int(fifoFD, F_SETFD, 0) }
    StartTrace.mark("init: exec")
    _ = ExecStub.exec(
      stubFD: execStubFD, waitFD: stubWaits ? fifoFD : nil, path: executable, args: process.args, env: process.env)
    throw BerthError.system("exec \(executable)")
  }

  private func loadSeccomp(_ seccomp: SeccompPlan) throws {
    guard let listener = try seccomp.program.load() else { return }
    // The runtime passes the listener on to linux.seccomp.listenerPath, then says resume.
    try channel.send(.seccompListener, fds: [listener])
    close(listener)
    _ = try channel.expect(.resume, eofError: BerthError(.internalError, "the runtime went away"))
  }
}

/// setns(2) with the error naming the namespace.
enum Namespaces {
  static func join(_ type: NamespaceType, path: String) throws {
    let fd = try OwnedFD.open(path, O_RDONLY)
    if berth_setns(fd.raw, Int32(truncatingIfNeeded: NamespacePlan.flag(type))) != 0 {
      throw BerthError.system("linux.namespaces: join the \(type.rawValue) namespace \(path)")
    }
  }
}
