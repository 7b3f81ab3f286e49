#if canImport(Glibc)
import Glibc
#endif
import BerthCgroups
import BerthJSON
import BerthOCI
import BerthOS
import CLinux

let launchFlags: [FlagSpec] = [
  .value("bundle", "b"), .value("pid-file"), .value("console-socket"), .bool("no-pivot"),
  .bool("no-new-keyring"), .value("preserve-fds"), .bool("detach", "d"), .bool("keep"),
  .bool("no-subreaper"),
]

func launchOptions(_ flags: ParsedFlags, id: String, startImmediately: Bool) throws -> LaunchOptions {
  var options = LaunchOptions(id: id, bundle: flags.value("bundle") ?? ".")
  options.pidFile = flags.value("pid-file")
  options.consoleSocket = flags.value("console-socket")
  options.noPivot = try flags.bool("no-pivot")
  options.noNewKeyring = try flags.bool("no-new-keyring")
  if let text = flags.value("preserve-fds") {
    guard let count = Int(text), count >= 0 else { throw UsageError("--preserve-fds: \(quoted(text)) is not a count") }
    options.preserveFDs = count
  }
  options.startImmediately = startImmediately
  return options
}

enum CreateCommand {
  static func run(_ arguments: [String], _ context: CommandContext) throws -> Int32 {
    let flags = try FlagParser.parse(arguments, specs: launchFlags)
    let id = try flags.requirePositional("CONTAINER_ID", command: "create")[0]
    let launched = try Launcher(store: context.store, log: context.log)
      .launch(launchOptions(flags, id: id, startImmediately: false))
    launched.channel.close()
    if let master = launched.ptyMaster { close(master) }
    return 0
  }
}

enum StartCommand {
  static func run(_ arguments: [String], _ context: CommandContext) throws -> Int32 {
    let flags = try FlagParser.parse(arguments, specs: [])
    let id = try flags.requirePositional("CONTAINER_ID", command: "start")[0]
    let state = try context.store.load(id)
    let status = context.store.status(of: state, cgroups: nil)
    switch status {
    case .created: break
    case .stopped: throw BerthError(.invalidState, "cannot start a container that has stopped")
    default: throw BerthError(.invalidState, "cannot start an already running container")
    }
    let fifoPath = Path.join(context.store.directory(id), ContainerStore.execFifo)
    let fd = open(fifoPath, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
    if fd < 0 {
      if errno == ENXIO { throw BerthError(.invalidState, "cannot start container \(quoted(id)): its init is gone") }
      throw BerthError.system("open the exec fifo \(fifoPath)")
    }
    var byte: UInt8 = 0
    let written = write(fd, &byte, 1)
    if written != 1 {
      close(fd)
      throw BerthError.system("signal the container's init to start")
    }
    unlink(fifoPath)
    // poststart hooks run after the process is executed: the init's end of the fifo closes
    // exactly then (the stub closes it before its execve; otherwise it is close-on-exec), and
    // the write end then reports POLLERR.
    var poller = pollfd(fd: fd, events: 0, revents: 0)
    while poller.revents & Int16(POLLERR | POLLHUP) == 0 {
      if poll(&poller, 1, -1) < 0 && errno != EINTR { break }
    }
    close(fd)
    let warnings = try HookRunner.run(
      .poststart, hooks: state.hooks ?? Hooks(), state: context.store.containerState(state, status: .running))
    for warning in warnings { context.log.write(.warning, warning) }
    return 0
  }
}

enum RunCommand {
  static func run(_ arguments: [String], _ context: CommandContext) throws -> Int32 {
    StartTrace.mark("run command")
    let flags = try FlagParser.parse(arguments, specs: launchFlags)
    let id = try flags.requirePositional("CONTAINER_ID", command: "run")[0]
    StartTrace.mark("run flags parsed")
    let detach = try flags.bool("detach")
    var options = try launchOptions(flags, id: id, startImmediately: true)
    if detach && options.consoleSocket == nil {
      // A detached terminal needs someone to hand the pty to.
      let spec = try? Launcher(store: context.store, log: context.log).loadSpec(bundle: Path.absolute(options.bundle))
      if spec?.process?.terminal == true {
        throw BerthError(.invalidArgument, "process.terminal is true: run --detach needs --console-socket to hand the terminal to")
      }
    }
    // Signals are handled by the supervisor; block them before the init is cloned so that
    // none is lost in between (the init unblocks them before exec).
    var previousMask = sigset_t()
    if !detach {
      berth_sigmask_block_all(&previousMask)
      if try !flags.bool("no-subreaper") { _ = berth_prctl(BERTH_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }
    }
    let pidFile = options.pidFile
    options.pidFile = nil
    let launched: Launcher.Launched
    do {
      launched = try Launcher(store: context.store, log: context.log).launch(options)
    } catch {
      berth_sigmask_set(&previousMask)
      throw error
    }
    let supervisor = Supervisor(pid: launched.pid, channel: launched.channel, ptyMaster: launched.ptyMaster)
    let teardown = Teardown(store: context.store, log: context.log)
    do {
      try supervisor.start()
      let state = context.store.containerState(launched.state, status: .running)
      let warnings = try HookRunner.run(.poststart, hooks: launched.state.hooks ?? Hooks(), state: state)
      for warning in warnings { context.log.write(.warning, warning) }
      if let pidFile { try Launcher.writePIDFile(pidFile, pid: launched.pid) }
    } catch {
      teardown.removeAfterExit(launched.state, cgroups: launched.cgroups) { _ = supervisor.reap() }
      throw error
    }
    if detach {
      launched.channel.close()
      return 0
    }
    StartTrace.mark("started")
    let status = supervisor.waitForExit()
    StartTrace.mark("exited")
    if try !flags.bool("keep") {
      teardown.removeAfterExit(launched.state, cgroups: launched.cgroups) { _ = supervisor.reap() }
    }
    StartTrace.mark("removed")
    return status.shellCode
  }
}

enum StateCommand {
  static func run(_ arguments: [String], _ context: CommandContext) throws -> Int32 {
    let flags = try FlagParser.parse(arguments, specs: [])
    let id = try flags.requirePositional("CONTAINER_ID", command: "state")[0]
    let state = try context.store.load(id)
    let cgroups = try? CgroupHost.detect().manager(savedPaths: state.cgroupPaths)
    let status = context.store.status(of: state, cgroups: cgroups)
    print(try JSON.encodeString(context.store.containerState(state, status: status), options: .prettyPrinted))
    return 0
  }
}

enum KillCommand {
  static func run(_ arguments: [String], _ context: CommandContext) throws -> Int32 {
    let flags = try FlagParser.parse(arguments, specs: [.bool("all", "a")])
    let id = try flags.requirePositional("CONTAINER_ID", command: "kill")[0]
    let signal = try flags.positional.count > 1 ? Signals.parse(flags.positional[1]) : SIGTERM
    let state = try context.store.load(id)
    let cgroups = try CgroupHost.detect().manager(savedPaths: state.cgroupPaths)
    let status = context.store.status(of: state, cgroups: cgroups)
    if try flags.bool("all") {
      guard try status != .stopped || !cgroups.processes().isEmpty else {
        throw BerthError(.invalidState, "container \(quoted(id)) is not running")
      }
      try cgroups.killAll(signal: signal)
      return 0
    }
    guard status != .stopped else { throw BerthError(.invalidState, "container \(quoted(id)) is not running") }
    try signalInit(state, signal: signal)
    return 0
  }

  /// Signals the init through a pidfd, after checking it is still the same process, so that a
  /// reused pid never gets the signal.
  static func signalInit(_ state: SavedState, signal: Int32) throws {
    let pidfd = berth_pidfd_open(pid_t(state.pid), 0)
    guard pidfd >= 0 else {
      if errno == ESRCH { throw BerthError(.invalidState, "container \(quoted(state.id)) is not running") }
      throw BerthError.system("open the init process \(state.pid)")
    }
    defer { close(pidfd) }
    guard ProcessInfo.isAlive(pid: state.pid, startTime: state.pidStartTime) else {
      throw BerthError(.invalidState, "container \(quoted(state.id)) is not running")
    }
    if berth_pidfd_send_signal(pidfd, signal, 0) != 0 {
      throw BerthError.system("send \(Signals.name(of: signal)) to the container's init")
    }
  }
}

enum DeleteCommand {
  static func run(_ arguments: [String], _ context: CommandContext) throws -> Int32 {
    let flags = try FlagParser.parse(arguments, specs: [.bool("force", "f")])
    let id = try flags.requirePositional("CONTAINER_ID", command: "delete")[0]
    let force = try flags.bool("force")
    let state: SavedState
    do {
      state = try context.store.load(id)
    } catch let error as BerthError where error.code != .notFound {
      // A damaged or half-written state: with --force, remove what is there.
      guard force else { throw error }
      try FS.removeTree(context.store.directory(id))
      return 0
    } catch let error as BerthError {
      // runc's delete --force of an unknown container succeeds; leftover directories go too.
      if force {
        try? FS.removeTree(context.store.directory(id))
        return 0
      }
      throw error
    }
    let cgroups = try CgroupHost.detect().manager(savedPaths: state.cgroupPaths)
    let status = context.store.status(of: state, cgroups: cgroups)
    switch status {
    case .running, .paused:
      guard force else {
        throw BerthError(.invalidState, "cannot delete container \(quoted(id)) that is not stopped: \(status.rawValue)")
      }
      try stopEverything(state, cgroups: cgroups)
    case .created, .creating:
      try stopEverything(state, cgroups: cgroups)
    case .stopped:
      // Processes the init left behind (without a pid namespace of its own) go too.
      if !(try cgroups.processes()).isEmpty { try stopEverything(state, cgroups: cgroups) }
    }
    try Teardown(store: context.store, log: context.log).remove(state, cgroups: cgroups)
    return 0
  }

  static func stopEverything(_ state: SavedState, cgroups: any CgroupManager) throws {
    try? cgroups.thaw()
    try? KillCommand.signalInit(state, signal: SIGKILL)
    try cgroups.killAll(signal: SIGKILL)
    Teardown.waitForExit(pid: state.pid, startTime: state.pidStartTime)
  }
}

/// Removing a stopped container: its cgroups, poststop hooks, its state directory.
struct Teardown {
  let store: ContainerStore
  let log: RuntimeLog

  func remove(_ state: SavedState, cgroups: any CgroupManager) throws {
    try cgroups.destroy()
    let warnings = (try? HookRunner.run(
      .poststop, hooks: state.hooks ?? Hooks(), state: store.containerState(state, status: .stopped))) ?? []
    for warning in warnings { log.write(.warning, warning) }
    try FS.removeTree(store.directory(state.id))
  }

  /// Removes a container whose init this process started (run): kills what is left, reaps,
  /// and removes; failures are logged, since the container's own exit status matters more.
  func removeAfterExit(_ state: SavedState, cgroups: any CgroupManager, reap: () -> Void) {
    if let processes = try? cgroups.processes(), !processes.isEmpty {
      try? cgroups.killAll(signal: SIGKILL)
    }
    if ProcessInfo.isAlive(pid: state.pid, startTime: state.pidStartTime) { kill(pid_t(state.pid), SIGKILL) }
    reap()
    do { try remove(state, cgroups: cgroups) } catch {
      log.write(.warning, "remove container \(state.id): \(error)")
    }
  }

  /// Waits (up to 10 s) until the process has exited, through its pidfd.
  static func waitForExit(pid: Int, startTime: UInt64) {
    let pidfd = berth_pidfd_open(pid_t(pid), 0)
    guard pidfd >= 0 else { return }
    defer { close(pidfd) }
    guard ProcessInfo.isAlive(pid: pid, startTime: startTime) else { return }
    var poller = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
    _ = poll(&poller, 1, 10_000)
  }
}

enum ListCommand {
  static func run(_ arguments: [String], _ context: CommandContext) throws -> Int32 {
    let flags = try FlagParser.parse(arguments, specs: [.value("format", "f"), .bool("quiet", "q")])
    let format = flags.value("format") ?? "table"
    guard format == "table" || format == "json" else {
      throw UsageError("invalid --format \(quoted(format)): use table or json")
    }
    let host = try? CgroupHost.detect()
    var states: [ContainerState] = []
    for id in try context.store.list() {
      guard let saved = try? context.store.load(id) else { continue }
      let cgroups = try? host?.manager(savedPaths: saved.cgroupPaths)
      states.append(context.store.containerState(saved, status: context.store.status(of: saved, cgroups: cgroups)))
    }
    if try flags.bool("quiet") {
      for state in states { print(state.id) }
    } else if format == "json" {
      print(try JSON.encodeString(states))
    } else {
      var rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
      for state in states {
        rows.append([state.id, String(state.pid ?? 0), state.status.rawValue, state.bundle, state.created ?? "", state.owner ?? ""])
      }
      print(Table.render(rows), terminator: "")
    }
    return 0
  }
}

/// Columns padded like Go's tabwriter with runc's settings (minimum width 12, padding 3).
enum Table {
  static func render(_ rows: [[String]]) -> String {
    guard let columns = rows.first?.count else { return "" }
    var widths = [Int](repeating: 12, count: columns)
    for row in rows {
      for (index, cell) in row.enumerated() where index < columns - 1 {
        widths[index] = max(widths[index], cell.count + 3)
      }
    }
    var output = ""
    for row in rows {
      for (index, cell) in row.enumerated() {
        output += cell
        if index < columns - 1 { output += String(repeating: " ", count: widths[index] - cell.count) }
      }
      output += "\n"
    }
    return output
  }
}
