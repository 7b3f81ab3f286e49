#if canImport(Glibc)
import Glibc
#endif
import BerthCgroups
import BerthJSON
import BerthOCI
import BerthOS
import BerthSeccomp
import CLinux

/// `create` and `run`'s options (runc's flags).
struct LaunchOptions {
  var id: String
  var bundle: String
  var pidFile: String?
  var consoleSocket: String?
  var noPivot = false
  var noNewKeyring = false
  var preserveFDs = 0
  /// run: start right away (no exec fifo).
  var startImmediately = false
}

/// The runtime side of creating a container: validate, prepare, clone the init, answer its
/// messages, record the state. Anything made is undone if a later step fails.
struct Launcher {
  let store: ContainerStore
  let log: RuntimeLog

  /// What a successful launch hands back.
  struct Launched {
    var pid: pid_t
    var channel: SyncChannel
    var cgroups: any CgroupManager
    var state: SavedState
    /// The pty master, when the runtime itself serves the terminal (run without --console-socket).
    var ptyMaster: Int32?
  }

  func launch(_ options: LaunchOptions) throws -> Launched {
    StartTrace.mark("launch")
    let bundle = Path.absolute(options.bundle)
    let spec = try loadSpec(bundle: bundle)
    try ContainerStore.validate(id: options.id)
    if FS.exists(store.directory(options.id)) {
      throw BerthError(.alreadyExists, "container with id \(quoted(options.id)) already exists")
    }
    if spec.process?.terminal == true && options.consoleSocket == nil && !options.startImmediately {
      throw BerthError(.invalidArgument, "process.terminal is true: pass --console-socket to receive the terminal")
    }
    if options.consoleSocket != nil && spec.process?.terminal != true {
      throw BerthError(.invalidArgument, "--console-socket given, but process.terminal is not true in config.json")
    }
    StartTrace.mark("spec loaded")
    let consoleSocket: Int32 = try options.consoleSocket.map { try Console.connect($0).release() } ?? -1
    defer { if consoleSocket >= 0 { close(consoleSocket) } }
    let stubFD = try ExecStub.makeFD()
    defer { if stubFD >= 0 { close(stubFD) } }
    let stateDir = store.directory(options.id)
    let listenFDs = Launcher.inheritedListenFDs()
    var builder = PlanBuilder(spec: spec, bundle: bundle, containerID: options.id)
    builder.noPivot = options.noPivot
    builder.newKeyring = !options.noNewKeyring
    builder.seccompCache = SeccompCache(directory: SeccompCache.defaultDirectory)
    builder.preserveFDs = options.preserveFDs + listenFDs
    var plan = try builder.build(
      execFifoPath: options.startImmediately ? nil : Path.join(stateDir, ContainerStore.execFifo),
      consoleSocketFD: consoleSocket >= 0 ? consoleSocket : nil, execStubFD: stubFD)
    if listenFDs > 0 { plan.process.env += ["LISTEN_FDS=\(listenFDs)", "LISTEN_PID=1"] }
    var resources = spec.linux?.resources
    resources?.devices = DefaultDeviceRules.effective(spec)

    StartTrace.mark("plan built")
    // From here on, undo what is made if a later step fails.
    var undo = UndoStack()
    defer { undo.run() }
    _ = try store.makeDirectory(for: options.id)
    undo.push { try? FS.removeTree(stateDir) }
    if let fifo = plan.execFifoPath {
      try check("create the exec fifo") { mkfifo(fifo, 0o600) }
    }
    if let seccomp = plan.seccomp {
      try FS.write(Path.join(stateDir, ContainerStore.seccompFile), seccomp.program.serialized, mode: 0o600)
    }
    let host = try CgroupHost.detect()
    let manager = try host.manager(cgroupsPath: spec.linux?.cgroupsPath, containerID: options.id)
    try manager.createAndApply(resources)
    undo.push { try? manager.destroy() }
    let entry = try CgroupEntry(manager: manager, host: host)
    defer { entry.close() }
    plan.cgroupTaskFDs = entry.taskFDs
    if !entry.taskFDs.isEmpty {
      // A new cgroup namespace is rooted where its creator is: with v1 hierarchies it is made
      // after the init has moved itself into its cgroups.
      for flags in [\NamespacePlan.cloneFlags, \NamespacePlan.unshareAfterUserJoin]
      where plan.namespaces[keyPath: flags] & BERTH_CLONE_NEWCGROUP != 0 {
        plan.namespaces[keyPath: flags] &= ~BERTH_CLONE_NEWCGROUP
        plan.namespaces.unshareCgroupAfterEntering = true
      }
    }
    StartTrace.mark("state dir and cgroups made")

    try joinNamespacesForChildren(plan.namespaces)
    let (runtimeEnd, initEnd) = try SyncChannel.makePair()
    var channelOpen = true
    defer { if channelOpen { runtimeEnd.close() } }
    var pid = berth_clone3(plan.namespaces.cloneFlags, entry.cloneFD ?? -1, nil)
    var clonedIntoCgroup = entry.cloneFD != nil
    if pid < 0 && clonedIntoCgroup && (errno == EINVAL || errno == E2BIG || errno == EOPNOTSUPP) {
      // A kernel before 5.7 has no CLONE_INTO_CGROUP: clone, then move the init.
      pid = berth_clone3(plan.namespaces.cloneFlags, -1, nil)
      clonedIntoCgroup = false
    }
    if pid < 0 {
      let failure = errno
      initEnd.close()
      throw BerthError.system("create the container's namespaces (clone3)", errno: failure).withHint(Launcher.cloneHint(failure))
    }
    if pid == 0 {
      runtimeEnd.close()
      ContainerInit(plan: plan, channel: initEnd).run()
    }
    StartTrace.mark("cloned")
    initEnd.close()
    undo.push {
      kill(pid, SIGKILL)
      var status: Int32 = 0
      _ = retryOnInterrupt { waitpid(pid, &status, 0) }
    }
    if entry.cloneFD != nil && !clonedIntoCgroup, let unified = manager.paths[""] {
      try CgroupEntry.move(pid, into: unified)
    }
    if plan.namespaces.isNew(.user) { try writeIDMappings(pid: pid, plan.namespaces) }
    if let adjust = plan.process.oomScoreAdj { try ProcessSetup.setOOMScoreAdjust(adjust, pid: pid) }
    let go = GoMessage(hostPID: Int(pid), cgroupMounts: try Launcher.cgroupMountSources(manager))
    do {
      try runtimeEnd.send(.go, go.encoded)
    } catch {
      // The init may have failed already (it mounts without waiting for `go`): its own
      // message says why.
      if let message = try? runtimeEnd.receive(), message.tag == .error {
        throw BerthError(.commandFailed, String(decoding: message.payload, as: UTF8.self))
      }
      throw error
    }
    StartTrace.mark("maps written, go sent")
    // The state is written while the init goes on with its setup.
    var state = SavedState(
      id: options.id, bundle: bundle, rootfs: plan.rootfs, created: Clock.rfc3339Now(), pid: Int(pid),
      pidStartTime: ProcessInfo.stat(pid: Int(pid))?.startTime ?? 0, annotations: spec.annotations,
      cgroupPaths: manager.paths, resources: spec.linux?.resources, hooks: spec.hooks,
      namespaces: Launcher.namespaceTypes(spec), hasSeccomp: plan.seccomp != nil, owner: "")
    try store.save(state)
    StartTrace.mark("state saved")
    let ptyMaster = try answerInit(runtimeEnd, plan: plan, state: state)
    StartTrace.mark("init created")
    if let pidFile = options.pidFile { try Launcher.writePIDFile(pidFile, pid: pid) }
    undo.clear()
    channelOpen = false
    state.pid = Int(pid)
    return Launched(pid: pid, channel: runtimeEnd, cgroups: manager, state: state, ptyMaster: ptyMaster)
  }

  /// Serves the init's requests until it reports `created`.
  private func answerInit(_ channel: SyncChannel, plan: LaunchPlan, state: SavedState) throws -> Int32? {
    var ptyMaster: Int32?
    let creating = store.containerState(state, status: .creating)
    while true {
      guard let message = try channel.receive() else {
        throw BerthError(.commandFailed, "the container's init exited during setup")
      }
      switch message.tag {
      case .runHooks:
        try HookRunner.run(.prestart, hooks: plan.hooks, state: creating)
        try HookRunner.run(.createRuntime, hooks: plan.hooks, state: creating)
        try channel.send(.resume)
      case .seccompListener:
        guard let listener = message.fds.first, let seccomp = plan.seccomp else {
          throw BerthError(.internalError, "seccomp listener message without a descriptor")
        }
        defer { close(listener) }
        if let path = seccomp.listenerPath {
          let payload = try JSON.encode(ContainerProcessState(
            fds: [ContainerProcessState.seccompFdName], pid: state.pid, metadata: seccomp.listenerMetadata,
            state: creating))
          try Seccomp.sendListener(fd: listener, to: path, payload: payload)
        }
        try channel.send(.resume)
      case .ptyMaster:
        ptyMaster = message.fds.first
      case .created:
        return ptyMaster
      case .error:
        throw BerthError(.commandFailed, String(decoding: message.payload, as: UTF8.self))
      default:
        throw BerthError(.internalError, "unexpected message \(message.tag) from the container's init")
      }
    }
  }

  // MARK: steps

  func loadSpec(bundle: String) throws -> Spec {
    let path = Path.join(bundle, "config.json")
    let bytes: [UInt8]
    do {
      bytes = try FS.read(path)
    } catch let error as BerthError where error.errno == ENOENT {
      throw BerthError(.notFound, "\(path) does not exist: is --bundle the directory holding config.json?")
    }
    do {
      return try JSON.decode(Spec.self, from: bytes)
    } catch let error as JSONError {
      throw BerthError(.invalidArgument, "config.json: \(error)")
    }
  }

  /// Namespaces the runtime process joins itself before cloning: those that only affect its
  /// children (pid, time) and those a child in a new user namespace could no longer join
  /// (net, ipc, uts, cgroup, owned by a more privileged user namespace). The runtime needs
  /// none of them for itself. A new time namespace is made here too: its clock offsets can be
  /// written only before its first process enters.
  func joinNamespacesForChildren(_ namespaces: NamespacePlan) throws {
    for (type, path) in namespaces.join where type != .user && type != .mount {
      try Namespaces.join(type, path: path)
    }
    if namespaces.newTime {
      try check("linux.namespaces: create a time namespace") { berth_unshare(Int32(truncatingIfNeeded: BERTH_CLONE_NEWTIME)) }
      var offsets = ""
      for (clock, offset) in namespaces.timeOffsets.sorted(by: { $0.key < $1.key }) {
        offsets += "\(clock) \(offset.secs ?? 0) \(offset.nanosecs ?? 0)\n"
      }
      if !offsets.isEmpty {
        do { try FS.writeExisting("/proc/self/timens_offsets", offsets) } catch let error as BerthError {
          throw error.prefixed("linux.timeOffsets")
        }
      }
    }
  }

  func writeIDMappings(pid: pid_t, _ namespaces: NamespacePlan) throws {
    func text(_ mappings: [IDMapping]) -> String {
      mappings.map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined()
    }
    do {
      try FS.writeExisting("/proc/\(pid)/uid_map", text(namespaces.uidMappings))
    } catch let error as BerthError { throw error.prefixed("linux.uidMappings") }
    do {
      try FS.writeExisting("/proc/\(pid)/gid_map", text(namespaces.gidMappings))
    } catch let error as BerthError { throw error.prefixed("linux.gidMappings") }
  }

  static func writePIDFile(_ path: String, pid: pid_t) throws {
    do { try FS.writeAtomically(Path.absolute(path), Array(String(pid).utf8), mode: 0o644) } catch let error as BerthError {
      throw error.prefixed("--pid-file")
    }
  }

  /// Socket activation: descriptors the runtime itself was given (LISTEN_FDS, LISTEN_PID) go
  /// on to the container, as runc does.
  static func inheritedListenFDs() -> Int {
    guard let pidText = getenv("LISTEN_PID").map({ String(cString: $0) }), Int32(pidText) == getpid(),
          let countText = getenv("LISTEN_FDS").map({ String(cString: $0) }), let count = Int(countText) else {
      return 0
    }
    return count
  }

  static func namespaceTypes(_ spec: Spec) -> [NamespaceType] {
    (spec.linux?.namespaces ?? []).map(\.type)
  }

  /// Where each hierarchy's container directory appears under the container's /sys/fs/cgroup.
  static func cgroupMountSources(_ manager: any CgroupManager) throws -> [(name: String, hostPath: String)] {
    let host = try CgroupHost.detect()
    let paths = manager.paths
    if host.mode == .v2 {
      return paths[""].map { [("", $0)] } ?? []
    }
    var sources: [(name: String, hostPath: String)] = []
    for hierarchy in host.hierarchies {
      guard let controller = hierarchy.controllers.first, let dir = paths[controller] else { continue }
      sources.append((Path.basename(hierarchy.mountPoint), dir))
    }
    if let unified = host.unified, let dir = paths[""] {
      sources.append((Path.basename(unified.mountPoint), dir))
    }
    return sources
  }

  static func cloneHint(_ failure: Int32) -> String? {
    switch failure {
    case ENOSPC: return "a namespace limit (/proc/sys/user/max_*_namespaces) is reached"
    case EPERM: return "creating namespaces needs root (or a user namespace for rootless use)"
    case EINVAL: return "this kernel lacks one of the namespaces asked for"
    default: return nil
    }
  }
}

/// Cleanup steps run in reverse order unless cleared: what a failed create leaves behind.
struct UndoStack {
  private var steps: [() -> Void] = []
  mutating func push(_ step: @escaping () -> Void) { steps.append(step) }
  mutating func clear() { steps.removeAll() }
  mutating func run() {
    for step in steps.reversed() { step() }
    steps.removeAll()
  }
}

extension BerthError {
  /// The error with a hint appended: "...: Operation not permitted (creating namespaces needs root)".
  func withHint(_ hint: String?) -> BerthError {
    guard let hint else { return self }
    return BerthError(code, "\(message) (\(hint))", errno: errno)
  }
}
