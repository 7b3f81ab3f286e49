import CLinux
import CMonitor

/// The per-container supervisor: holds the container's stdio, writes its log, serves attach
/// clients, reaps it, records its exit, restarts it by policy and runs its healthcheck.
///
/// One thread, one poll(2) loop, every signal read from a signalfd. The runtime's short
/// commands (create, start, delete) are waited for in a small loop of their own; everything
/// long (the container, healthchecks, restart back-off) goes through the main loop.
/// See docs/monitor.md for the protocol.
final class Monitor {
  enum Phase {
    /// Created, waiting for `start` on the socket (start=wait).
    case created
    case running
    /// Exited; a restart is scheduled at `restartAt`.
    case backoff
  }

  static let initialBackoff: Int64 = 100_000_000
  static let maxBackoff: Int64 = 60_000_000_000
  static let backoffResetAfter: Int64 = 10_000_000_000
  static let readBufferSize = 32 * 1024
  /// Client input is not read while this much stdin waits for the container.
  static let maxPendingStdin = 256 * 1024
  static let maxClients = 128

  let config: MonitorConfig
  private var syncFD: Int32 = 3
  private var signalFD: Int32 = -1
  private var listenFD: Int32 = -1
  private var devNull: Int32 = -1

  // The container's stdio. Without a terminal the pipes live as long as the monitor (a
  // restarted container gets the same ones); with a terminal each run gets a new pty.
  private var stdoutRead: Int32 = -1
  private var stdoutWrite: Int32 = -1
  private var stderrRead: Int32 = -1
  private var stderrWrite: Int32 = -1
  private var stdinRead: Int32 = -1
  private var stdinWrite: Int32 = -1
  private var ptyMaster: Int32 = -1
  private var ptyOpen = false
  private var stdinPending: [UInt8] = []
  private var stdinCloseRequested = false
  private var windowRows: UInt16 = 0
  private var windowColumns: UInt16 = 0

  private var log: JSONFileLog?
  private var clients: [Client] = []
  private let buffer: UnsafeMutableRawBufferPointer
  private var pollSet: [pollfd] = []

  private var phase = Phase.created
  private var containerPid: Int32 = -1
  private var containerExited = false
  private var containerStatus: Int32 = 0
  private var runStartedMono: Int64 = 0
  /// The last run's pid and start time, for STATE/state (kept through the back-off).
  private var runPid: Int32 = 0
  private var runStartedAt = WallTime(seconds: 0, nanoseconds: 0)
  /// What STATE/state says now: `restarting` (true) or `running`.
  private var stateSaysRestarting = false
  /// Restarts made so far (failed attempts included), as Docker counts them.
  private var restartCount = 0
  private var backoff = Monitor.initialBackoff
  private var restartAt: Int64 = -1
  private var oomCounterPath = ""
  private var oomBaseline: Int64 = 0

  /// The runtime command waited for by `runRuntime`.
  private var commandPid: Int32 = -1
  private var commandStatus: Int32 = 0
  private var commandDone = false

  private var health: HealthChecker?

  init(config: MonitorConfig) {
    self.config = config
    buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Monitor.readBufferSize, alignment: 16)
    if !config.healthArgs.isEmpty { health = HealthChecker(config: config) }
  }

  private var runtimeBase: [String] {
    var argv = [config.runtime]
    argv.append(contentsOf: config.runtimeArgs)
    return argv
  }

  // MARK: - Setup

  /// Steps 1-5 of the lifecycle; then the loop. Never returns.
  func run() -> Never {
    if berth_fcntl_int(3, F_GETFD, 0) < 0 {
      syncFD = -1
    } else {
      _ = cmonitor_set_cloexec(3)
    }
    _ = berth_sigmask_block_all(nil)
    signalFD = berth_signalfd_all()
    if signalFD < 0 { fail("signalfd: \(errnoText())") }
    _ = cmonitor_set_nonblocking(signalFD, 1)
    _ = berth_prctl(BERTH_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    devNull = "/dev/null".withCString { cmonitor_open($0, O_RDWR, 0) }
    if devNull < 0 { fail("/dev/null: \(errnoText())") }

    if !config.terminal {
      guard let out = makePipe(), let err = makePipe() else { fail("pipe: \(errnoText())") }
      (stdoutRead, stdoutWrite) = out
      (stderrRead, stderrWrite) = err
      _ = cmonitor_set_nonblocking(stdoutRead, 1)
      _ = cmonitor_set_nonblocking(stderrRead, 1)
    }

    listenFD = config.socket.withCString { cmonitor_unix_listen($0, 16, 0o600) }
    if listenFD < 0 { fail("attach socket \(config.socket): \(errnoText())") }

    if let message = createContainer() { fail(message) }
    syncWrite("created \(containerPid)\n")
    if config.logJSONFile {
      log = JSONFileLog(path: config.logPath, maxSize: config.logMaxSize, maxFiles: config.logMaxFiles)
    }
    if config.startAuto, let message = startContainer() {
      failAfterCreate(message)
    }
    loop()
  }

  /// A failure before the container exists: `error` on the sync pipe, clean up, exit 1.
  private func fail(_ message: String) -> Never {
    syncWrite("error " + oneLine(message) + "\n")
    closeFD(&syncFD)
    if listenFD >= 0 {
      closeFD(&listenFD)
      removeFile(config.socket)
    }
    exit(1)
  }

  /// A failed first start: the container is deleted, then as `fail`.
  private func failAfterCreate(_ message: String) -> Never {
    _ = runRuntime(["delete", "--force", config.id], containerStdio: false)
    flushClients(deadlineMilliseconds: 2000)
    fail(message)
  }

  private func syncWrite(_ text: String) {
    guard syncFD >= 0 else { return }
    if !writeAll(syncFD, text) { closeFD(&syncFD) }
  }

  // MARK: - Runtime commands

  /// Runs `RUNTIME [runtime-args] args...` and waits for it, serving nothing else meanwhile
  /// except the reaping of children. Its stderr (or, with `containerStdio`, the container's
  /// stderr pipe, which the runtime hands to the container) is captured for error messages.
  private func runRuntime(_ args: [String], containerStdio: Bool) -> (code: Int, output: [UInt8]) {
    var argv = runtimeBase
    argv.append(contentsOf: args)
    var capture: Int32 = -1
    var ownCapture: Int32 = -1
    var writeEnd: Int32 = -1
    var fdMap: [(Int32, Int32)]
    if containerStdio && !config.terminal {
      if config.stdin && stdinRead < 0, let pipe = makePipe() {
        (stdinRead, stdinWrite) = pipe
        _ = cmonitor_set_nonblocking(stdinWrite, 1)
        stdinCloseRequested = false
      }
      fdMap = [(config.stdin && stdinRead >= 0 ? stdinRead : devNull, 0), (stdoutWrite, 1), (stderrWrite, 2)]
      capture = stderrRead
    } else {
      guard let pipe = makePipe() else { return (-1, Array("pipe: \(errnoText())".utf8)) }
      _ = cmonitor_set_nonblocking(pipe.read, 1)
      fdMap = [(devNull, 0), (pipe.write, 1), (pipe.write, 2)]
      capture = pipe.read
      ownCapture = pipe.read
      writeEnd = pipe.write
    }
    commandPid = spawnProcess(argv, fdMap: fdMap, newSession: false)
    let spawnError = lastErrno()
    if writeEnd >= 0 { _ = close(writeEnd) }
    if commandPid <= 0 {
      let message = "cannot run \(config.runtime): \(errnoText(spawnError))"
      if ownCapture >= 0 { _ = close(ownCapture) }
      commandPid = -1
      return (-1, Array(message.utf8))
    }
    commandDone = false
    var output: [UInt8] = []
    var open = true
    while !commandDone {
      var fds = [pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0),
                 pollfd(fd: open ? capture : -1, events: Int16(POLLIN), revents: 0)]
      let ready = poll(&fds, 2, -1)
      if ready < 0 && lastErrno() != EINTR { break }
      if fds[0].revents != 0 { handleSignals() }
      if open && fds[1].revents != 0 { open = drainCapture(capture, into: &output) }
    }
    if open { _ = drainCapture(capture, into: &output) }
    if ownCapture >= 0 { _ = close(ownCapture) }
    commandPid = -1
    return (commandDone ? shellCode(ofWaitStatus: commandStatus) : -1, output)
  }

  /// Reads what is available; returns false at end of file.
  private func drainCapture(_ fd: Int32, into output: inout [UInt8]) -> Bool {
    while true {
      let n = read(fd, buffer.baseAddress, buffer.count)
      if n > 0 {
        if output.count < 64 * 1024 {
          output.append(contentsOf: UnsafeBufferPointer(rebasing: buffer.bindMemory(to: UInt8.self)[0..<n]))
        }
        continue
      }
      if n < 0 && lastErrno() == EINTR { continue }
      return n < 0 && lastErrno() == EAGAIN
    }
  }

  /// The message of a failed runtime command: its last non-empty output line.
  private func failureMessage(_ what: String, _ result: (code: Int, output: [UInt8])) -> String {
    var end = result.output.count
    while end > 0 {
      while end > 0 && isSpace(result.output[end - 1]) { end -= 1 }
      var start = end
      while start > 0 && result.output[start - 1] != UInt8(ascii: "\n") { start -= 1 }
      if end > start {
        return oneLine(String(decoding: result.output[start..<end], as: UTF8.self))
      }
      end = start
    }
    return "\(config.runtime) \(what) failed (exit status \(result.code))"
  }

  private func isSpace(_ byte: UInt8) -> Bool {
    byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\t")
  }

  /// Control characters (newlines included) become spaces: messages travel as one line.
  private func oneLine(_ text: String) -> String {
    var bytes = Array(text.utf8)
    for i in bytes.indices where bytes[i] < 0x20 || bytes[i] == 0x7f { bytes[i] = UInt8(ascii: " ") }
    return String(decoding: bytes, as: UTF8.self)
  }

  // MARK: - Create and start

  /// `RUNTIME create`; on success `containerPid` is the init's pid and, with a terminal,
  /// `ptyMaster` the pty. Returns an error message on failure.
  private func createContainer() -> String? {
    let pidFile = config.statePath("runtime.pid")
    removeFile(pidFile)
    var args = ["create", "--bundle", config.bundle, "--pid-file", pidFile]
    var consolePath = ""
    var consoleFD: Int32 = -1
    if config.terminal {
      consolePath = config.statePath("console.sock")
      if consolePath.utf8.count >= 100 { consolePath = "/tmp/berth-monitor-\(getpid()).sock" }
      consoleFD = consolePath.withCString { cmonitor_unix_listen($0, 1, 0o600) }
      if consoleFD < 0 { return "console socket \(consolePath): \(errnoText())" }
      args.append(contentsOf: ["--console-socket", consolePath])
    }
    args.append(config.id)
    let result = runRuntime(args, containerStdio: true)
    defer {
      if consoleFD >= 0 {
        _ = close(consoleFD)
        removeFile(consolePath)
      }
    }
    if result.code != 0 { return failureMessage("create", result) }
    if config.terminal {
      guard let master = receivePty(consoleFD) else {
        return "the runtime sent no terminal on the console socket"
      }
      ptyMaster = master
      ptyOpen = true
      _ = cmonitor_set_nonblocking(ptyMaster, 1)
      if windowRows > 0 || windowColumns > 0 { _ = berth_set_winsize(ptyMaster, windowRows, windowColumns) }
    }
    guard let bytes = readFile(pidFile, limit: 64), let pid = parseDecimal(bytes), pid > 0 else {
      if ptyMaster >= 0 { closeFD(&ptyMaster) }
      return "the runtime wrote no pid to \(pidFile)"
    }
    containerPid = Int32(truncatingIfNeeded: pid)
    containerExited = false
    return nil
  }

  /// Accepts the runtime's connection on the console socket and receives the pty master.
  private func receivePty(_ listener: Int32) -> Int32? {
    var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
    guard poll(&pfd, 1, 5000) == 1 else { return nil }
    let connection = cmonitor_accept(listener)
    guard connection >= 0 else { return nil }
    defer { _ = close(connection) }
    _ = cmonitor_set_nonblocking(connection, 0)
    var fds: [Int32] = [-1, -1, -1, -1]
    var count: Int32 = 0
    let n = fds.withUnsafeMutableBufferPointer { fdBuffer in
      berth_recv_fds(connection, fdBuffer.baseAddress, 4, &count, buffer.baseAddress, 4096)
    }
    guard n >= 0, count >= 1 else { return nil }
    for index in 1..<Int(count) { _ = close(fds[index]) }
    return fds[0]
  }

  /// `RUNTIME start`; on success the container runs: fd 3 and STATE/state say so.
  private func startContainer() -> String? {
    let result = runRuntime(["start", config.id], containerStdio: false)
    if result.code != 0 { return failureMessage("start", result) }
    phase = .running
    runStartedMono = monotonicNow()
    runStartedAt = WallTime.now()
    runPid = containerPid
    // `exit` goes first: `state` without `exit` reads as running, `state` with an `exit`
    // as the end of that run (see ContainerState.swift). A successful run clears `error`.
    removeFile(config.statePath("exit"))
    removeFile(config.statePath("error"))
    writeState(restarting: false)
    if syncFD >= 0 {
      syncWrite("started \(containerPid)\n")
      closeFD(&syncFD)
    }
    locateOOMCounter()
    health?.containerStarted()
    return nil
  }

  /// STATE/state: `running|restarting PID STARTED RESTARTS` of the last run.
  private func writeState(restarting: Bool) {
    stateSaysRestarting = restarting
    var state: [UInt8] = []
    state.append(restarting ? "restarting " : "running ")
    state.append(decimal: Int(runPid))
    state.append(UInt8(ascii: " "))
    appendRFC3339Nano(&state, runStartedAt)
    state.append(UInt8(ascii: " "))
    state.append(decimal: restartCount)
    state.append(UInt8(ascii: "\n"))
    writeFileAtomically(config.statePath("state"), state)
  }

  /// Best effort: the memory cgroup's OOM-kill counter of the container, to tell later
  /// whether the kernel's OOM killer ended it.
  private func locateOOMCounter() {
    oomCounterPath = ""
    oomBaseline = 0
    guard let text = readFile("/proc/\(containerPid)/cgroup", limit: 16 * 1024) else { return }
    var unifiedPath = ""
    var lineStart = 0
    while lineStart < text.count {
      var lineEnd = lineStart
      while lineEnd < text.count && text[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
      let line = text[lineStart..<lineEnd]
      lineStart = lineEnd + 1
      guard let firstColon = line.firstIndex(of: UInt8(ascii: ":")),
        let secondColon = line[(firstColon + 1)...].firstIndex(of: UInt8(ascii: ":"))
      else { continue }
      let controllers = line[(firstColon + 1)..<secondColon]
      let path = String(decoding: line[(secondColon + 1)...], as: UTF8.self)
      if controllers.isEmpty {
        unifiedPath = path
        continue
      }
      var start = controllers.startIndex
      var i = controllers.startIndex
      while i <= controllers.endIndex {
        if i == controllers.endIndex || controllers[i] == UInt8(ascii: ",") {
          if bytesEqual(controllers[start..<i], "memory") {
            oomCounterPath = "/sys/fs/cgroup/memory" + path + "/memory.oom_control"
          }
          start = i + 1
        }
        i += 1
      }
    }
    if oomCounterPath.isEmpty && !unifiedPath.isEmpty {
      oomCounterPath = "/sys/fs/cgroup" + unifiedPath + "/memory.events"
    }
    oomBaseline = oomKills()
  }

  /// The `oom_kill` count of the container's memory cgroup (0 when unknown).
  private func oomKills() -> Int64 {
    guard !oomCounterPath.isEmpty, let text = readFile(oomCounterPath, limit: 4096) else { return 0 }
    let key: [UInt8] = Array("oom_kill ".utf8)
    var lineStart = 0
    while lineStart < text.count {
      var lineEnd = lineStart
      while lineEnd < text.count && text[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
      if lineEnd - lineStart > key.count && Array(text[lineStart..<(lineStart + key.count)]) == key {
        return parseDecimal(text[(lineStart + key.count)..<lineEnd]) ?? 0
      }
      lineStart = lineEnd + 1
    }
    return 0
  }

  // MARK: - Signals and children

  private func handleSignals() {
    while true {
      let signal = berth_signalfd_read(signalFD)
      if signal < 0 { break }
      // SIGTERM, SIGINT, SIGHUP: the engine stops containers through the runtime; the monitor
      // goes on (a restart back-off looks at STATE/stopped at once, see `loop`).
    }
    // Reaped whatever the signals were: SIGCHLDs coalesce, so one may stand for several.
    reapChildren()
  }

  private func reapChildren() {
    while true {
      var status: Int32 = 0
      let pid = waitpid(-1, &status, WNOHANG)
      if pid <= 0 { break }
      if pid == containerPid && containerPid > 0 {
        containerStatus = status
        containerExited = true
      } else if pid == commandPid {
        commandStatus = status
        commandDone = true
      } else if let health, pid == health.pid {
        health.reaped(status: status, buffer: buffer)
      }
      // Anything else is an orphan handed to us as subreaper: reaped, nothing more.
    }
  }

  // MARK: - The loop

  private func loop() -> Never {
    while true {
      if containerExited { containerDidExit() }
      let now = monotonicNow()
      if phase == .backoff {
        if fileExists(config.statePath("stopped")) { finish() }
        if now >= restartAt {
          restart()
          continue
        }
      }
      if phase == .running, let health {
        health.enforceTimeout(now: now)
        health.startIfDue(now: now, devNull: devNull)
      }
      waitForEvents(now: now)
    }
  }

  /// One poll(2) round and the handling of whatever became ready.
  private func waitForEvents(now: Int64) {
    pollSet.removeAll(keepingCapacity: true)
    func add(_ fd: Int32, _ events: Int32) -> Int {
      pollSet.append(pollfd(fd: fd, events: Int16(events), revents: 0))
      return pollSet.count - 1
    }
    let signalIndex = add(signalFD, POLLIN)
    let listenIndex = add(clients.count < Monitor.maxClients ? listenFD : -1, POLLIN)
    let stdoutIndex = add(config.terminal ? (ptyOpen ? ptyMaster : -1) : stdoutRead, POLLIN)
    let stderrIndex = add(config.terminal ? -1 : stderrRead, POLLIN)
    let stdinTarget = config.terminal ? ptyMaster : stdinWrite
    let stdinIndex = add(stdinPending.isEmpty ? -1 : stdinTarget, POLLOUT)
    let healthIndex = add(health?.outputFD ?? -1, POLLIN)
    let clientBase = pollSet.count
    let acceptInput = stdinPending.count < Monitor.maxPendingStdin
    for client in clients {
      var events: Int32 = 0
      if acceptInput && client.phase != .closing && !client.inputClosed { events |= POLLIN }
      if client.hasPendingOutput { events |= POLLOUT }
      _ = add(client.fd, events)
    }

    var timeout: Int64 = -1
    func until(_ deadline: Int64) {
      guard deadline >= 0 else { return }
      let wait = max(0, deadline - now)
      if timeout < 0 || wait < timeout { timeout = wait }
    }
    if phase == .backoff {
      until(restartAt)
      until(now + 200_000_000)  // STATE/stopped is looked at five times a second
    }
    if phase == .running, let health {
      until(health.isRunning ? health.deadline : health.nextDue)
    }
    let milliseconds: Int32 =
      timeout < 0 ? -1 : Int32(min(Int64(Int32.max), (timeout + 999_999) / 1_000_000))
    let ready = poll(&pollSet, nfds_t(pollSet.count), milliseconds)
    if ready < 0 {
      if lastErrno() != EINTR { sleepMilliseconds(10) }
      return
    }
    if ready == 0 { return }

    if pollSet[signalIndex].revents != 0 { handleSignals() }
    if pollSet[stdoutIndex].revents != 0 {
      if config.terminal {
        if readOutput(ptyMaster, stream: Stream.stdout) { ptyOpen = false }
      } else {
        _ = readOutput(stdoutRead, stream: Stream.stdout)
      }
    }
    if pollSet[stderrIndex].revents != 0 { _ = readOutput(stderrRead, stream: Stream.stderr) }
    if pollSet[stdinIndex].revents != 0 { writeStdin() }
    if pollSet[healthIndex].revents != 0 { health?.readOutput(buffer: buffer) }
    // Clients: the array may grow (accept) or shrink below; handle the polled ones by index.
    let polledClients = clients
    for (offset, client) in polledClients.enumerated() {
      let revents = Int32(pollSet[clientBase + offset].revents)
      if revents == 0 { continue }
      if revents & POLLOUT != 0 { client.flushOutput() }
      if revents & (POLLERR | POLLNVAL) != 0 {
        client.dead = true
      } else if revents & (POLLIN | POLLHUP) != 0 {
        if client.phase != .closing && !client.inputClosed {
          readClient(client)
        } else if revents & POLLHUP != 0 {
          client.dead = true  // gone both ways: nobody reads what is left
        }
      }
    }
    if pollSet[listenIndex].revents != 0 { acceptClients() }
    removeFinishedClients()
  }

  // MARK: - Container output and input

  /// Reads what the container wrote; returns true when the descriptor is at its end (a pty
  /// whose slave side is closed).
  private func readOutput(_ fd: Int32, stream: UInt8) -> Bool {
    for _ in 0..<8 {
      let n = read(fd, buffer.baseAddress, buffer.count)
      if n > 0 {
        deliver(stream: stream, UnsafeBufferPointer(rebasing: buffer.bindMemory(to: UInt8.self)[0..<n]))
        if n < buffer.count { return false }
        continue
      }
      if n < 0 && lastErrno() == EINTR { continue }
      if n < 0 && lastErrno() == EAGAIN { return false }
      return true  // 0 or EIO: the other side is gone
    }
    return false
  }

  /// Output goes to the log and to every attached client that asked for its stream.
  private func deliver(stream: UInt8, _ data: UnsafeBufferPointer<UInt8>) {
    log?.append(stream: stream, data, now: WallTime.now())
    for client in clients where client.phase == .attached {
      if stream == Stream.stdout ? client.wantsStdout : client.wantsStderr {
        client.sendFrame(stream, data)
      }
    }
  }

  /// Reads everything the container left in its pipes or pty (it has exited).
  private func drainOutput() {
    if config.terminal {
      if ptyMaster >= 0 {
        while ptyOpen {
          let n = read(ptyMaster, buffer.baseAddress, buffer.count)
          if n > 0 {
            deliver(stream: Stream.stdout, UnsafeBufferPointer(rebasing: buffer.bindMemory(to: UInt8.self)[0..<n]))
          } else if n < 0 && lastErrno() == EINTR {
            continue
          } else {
            break
          }
        }
      }
    } else {
      for (fd, stream) in [(stdoutRead, Stream.stdout), (stderrRead, Stream.stderr)] {
        while true {
          let n = read(fd, buffer.baseAddress, buffer.count)
          if n > 0 {
            deliver(stream: stream, UnsafeBufferPointer(rebasing: buffer.bindMemory(to: UInt8.self)[0..<n]))
          } else if n < 0 && lastErrno() == EINTR {
            continue
          } else {
            break
          }
        }
      }
    }
    log?.flushPartials(now: WallTime.now())
  }

  private func writeStdin() {
    let target = config.terminal ? ptyMaster : stdinWrite
    guard target >= 0 else {
      stdinPending = []
      return
    }
    while !stdinPending.isEmpty {
      let n = stdinPending.withUnsafeBytes { write(target, $0.baseAddress, $0.count) }
      if n > 0 {
        stdinPending.removeFirst(n)
        continue
      }
      if n < 0 && lastErrno() == EINTR { continue }
      if n < 0 && lastErrno() == EAGAIN { return }
      // The reader is gone (EPIPE, EIO): drop what was meant for it.
      stdinPending = []
    }
    if stdinPending.capacity > 64 * 1024 { stdinPending = [] }
    if stdinCloseRequested && !config.terminal { closeStdin() }
  }

  /// Gives the container end-of-file on stdin. The pipe's read end is dropped too, so a
  /// restarted container gets a fresh stdin pipe.
  private func closeStdin() {
    closeFD(&stdinWrite)
    closeFD(&stdinRead)
    stdinCloseRequested = false
  }

  private func resize(rows: UInt16, columns: UInt16) {
    windowRows = rows
    windowColumns = columns
    if ptyMaster >= 0 { _ = berth_set_winsize(ptyMaster, rows, columns) }
  }

  // MARK: - Clients

  private func acceptClients() {
    while clients.count < Monitor.maxClients {
      let fd = cmonitor_accept(listenFD)
      if fd < 0 { return }
      clients.append(Client(fd: fd))
    }
  }

  private func removeFinishedClients() {
    var index = 0
    while index < clients.count {
      let client = clients[index]
      if client.dead || (client.phase == .closing && !client.hasPendingOutput) {
        clients.remove(at: index)
      } else {
        index += 1
      }
    }
  }

  private func readClient(_ client: Client) {
    let n = read(client.fd, buffer.baseAddress, buffer.count)
    if n == 0 {
      // The client shut down its side: it may still want output (attached), nothing else.
      client.inputClosed = true
      if client.phase != .attached { client.dead = true }
      return
    }
    if n < 0 {
      if lastErrno() != EAGAIN && lastErrno() != EINTR { client.dead = true }
      return
    }
    client.input.append(contentsOf: UnsafeBufferPointer(rebasing: buffer.bindMemory(to: UInt8.self)[0..<n]))
    if client.phase == .request {
      guard let newline = client.input.firstIndex(of: UInt8(ascii: "\n")) else {
        if client.input.count > Client.maxRequestLine { client.dead = true }
        return
      }
      let line = Array(client.input[0..<newline])
      client.input.removeFirst(newline + 1)
      handleRequest(client, line[...])
    }
    if client.phase == .attached { handleFrames(client) }
    if client.phase == .closing { client.input = [] }
  }

  private func handleRequest(_ client: Client, _ line: ArraySlice<UInt8>) {
    let fields = splitFields(line)
    guard let command = fields.first else {
      reply(client, "error empty request\n")
      return
    }
    if bytesEqual(command, "attach") {
      for field in fields.dropFirst() {
        guard let equals = field.firstIndex(of: UInt8(ascii: "=")) else { continue }
        let key = field[field.startIndex..<equals]
        let on = bytesEqual(field[(equals + 1)...], "1")
        if bytesEqual(key, "stdin") {
          client.wantsStdin = on
        } else if bytesEqual(key, "stdout") {
          client.wantsStdout = on
        } else if bytesEqual(key, "stderr") {
          client.wantsStderr = on
        }
      }
      client.phase = .attached
    } else if bytesEqual(command, "start") {
      switch phase {
      case .running, .backoff:
        reply(client, "ok\n")
      case .created:
        if let message = startContainer() {
          reply(client, "error " + message + "\n")
          failAfterCreate(message)
        }
        reply(client, "ok\n")
      }
    } else if bytesEqual(command, "resize") {
      guard fields.count == 3, let rows = parseDecimal(fields[1]), let columns = parseDecimal(fields[2]),
        rows <= 65535, columns <= 65535
      else {
        reply(client, "error usage: resize ROWS COLS\n")
        return
      }
      resize(rows: UInt16(rows), columns: UInt16(columns))
      reply(client, "ok\n")
    } else {
      reply(client, "error unknown request: " + oneLine(String(decoding: command, as: UTF8.self)) + "\n")
    }
  }

  private func reply(_ client: Client, _ text: String) {
    client.sendRaw(Array(text.utf8))
    client.phase = .closing
  }

  /// Frames from an attached client: stream 0 is stdin (empty: close it), 4 is a resize.
  private func handleFrames(_ client: Client) {
    var offset = 0
    let input = client.input
    while input.count - offset >= 5 {
      let length = Int(input[offset + 1]) << 24 | Int(input[offset + 2]) << 16 | Int(input[offset + 3]) << 8
        | Int(input[offset + 4])
      if length > Client.maxFrame {
        client.dead = true
        return
      }
      guard input.count - offset - 5 >= length else { break }
      let stream = input[offset]
      let payload = input[(offset + 5)..<(offset + 5 + length)]
      offset += 5 + length
      switch stream {
      case Stream.stdin:
        guard config.stdin && client.wantsStdin else { break }
        if length == 0 {
          if !config.terminal {
            if stdinPending.isEmpty { closeStdin() } else { stdinCloseRequested = true }
          }
        } else if config.terminal ? ptyMaster >= 0 : stdinWrite >= 0 {
          stdinPending.append(contentsOf: payload)
        }
      case Stream.resize:
        let fields = splitFields(payload)
        if fields.count == 2, let rows = parseDecimal(fields[0]), let columns = parseDecimal(fields[1]),
          rows <= 65535, columns <= 65535
        {
          resize(rows: UInt16(rows), columns: UInt16(columns))
        }
      default:
        break
      }
    }
    if offset > 0 { client.input.removeFirst(offset) }
    if !stdinPending.isEmpty { writeStdin() }
  }

  /// Sends what clients still have queued, for at most `deadlineMilliseconds`.
  private func flushClients(deadlineMilliseconds: Int64) {
    let deadline = monotonicNow() + deadlineMilliseconds * 1_000_000
    while true {
      removeFinishedClients()
      let waiting = clients.filter { $0.hasPendingOutput && !$0.dead }
      let now = monotonicNow()
      if waiting.isEmpty || now >= deadline { return }
      var fds = waiting.map { pollfd(fd: $0.fd, events: Int16(POLLOUT), revents: 0) }
      _ = poll(&fds, nfds_t(fds.count), Int32(min(100, (deadline - now) / 1_000_000 + 1)))
      for (index, client) in waiting.enumerated() where fds[index].revents != 0 {
        if Int32(fds[index].revents) & POLLOUT != 0 { client.flushOutput() } else { client.dead = true }
      }
    }
  }

  // MARK: - Exit, restart, the end

  private func containerDidExit() {
    // FinishedAt is when it ended, not when the runtime's delete (slow on a busy host) is done.
    let finished = WallTime.now()
    containerExited = false
    let code = shellCode(ofWaitStatus: containerStatus)
    drainOutput()
    if config.terminal {
      closeFD(&ptyMaster)
      ptyOpen = false
    }
    health?.containerStopped()
    let oomKilled = oomKills() > oomBaseline
    _ = runRuntime(["delete", "--force", config.id], containerStdio: false)
    containerPid = -1
    runEnded(code: code, oomKilled: oomKilled, finished: finished)
  }

  /// Records a run's end (STATE/exit, exit frames), then restarts or finishes by policy.
  private func runEnded(code: Int, oomKilled: Bool, finished: WallTime = WallTime.now()) {
    let again = shouldRestart(code: code)
    // The state line goes in before `exit`: the engine never sees an exited container that is
    // about to be restarted, nor a restarting one that is done.
    if again != stateSaysRestarting { writeState(restarting: again) }
    var record: [UInt8] = []
    record.append(decimal: code)
    record.append(UInt8(ascii: " "))
    appendRFC3339Nano(&record, finished)
    record.append(oomKilled ? " 1\n" : " 0\n")
    writeFileAtomically(config.statePath("exit"), record)

    var payload: [UInt8] = []
    payload.append(decimal: code)
    for client in clients where client.phase == .attached {
      payload.withUnsafeBufferPointer { client.sendFrame(Stream.exit, $0) }
      client.phase = .closing
    }

    guard again else { finish() }
    let now = monotonicNow()
    if phase == .running && now - runStartedMono >= Monitor.backoffResetAfter { backoff = Monitor.initialBackoff }
    restartAt = now + backoff
    backoff = min(backoff * 2, Monitor.maxBackoff)
    phase = .backoff
  }

  /// Docker's restart policies; `STATE/stopped` (a stop asked for) overrides them all.
  private func shouldRestart(code: Int) -> Bool {
    if fileExists(config.statePath("stopped")) { return false }
    switch config.restart {
    case .no: return false
    case .always, .unlessStopped: return true
    case .onFailure: return code != 0 && (config.restartMax <= 0 || restartCount < config.restartMax)
    }
  }

  private func restart() {
    restartCount += 1
    if let message = createContainer() {
      recordRunError(message)
      phase = .backoff  // counts as a failed run
      runEnded(code: 127, oomKilled: false)
      return
    }
    if let message = startContainer() {
      recordRunError(message)
      _ = runRuntime(["delete", "--force", config.id], containerStdio: false)
      if config.terminal { closeFD(&ptyMaster) }
      containerPid = -1
      phase = .backoff
      runEnded(code: 127, oomKilled: false)
      return
    }
    // A `berth stop` that came during create or start read "restarting" and signalled
    // nothing. It writes `stopped` before it reads the state and this check follows the
    // write of "running", so one of the two sees the other: this one ends the run.
    if fileExists(config.statePath("stopped")) {
      _ = runRuntime(["kill", config.id, "KILL"], containerStdio: false)
    }
  }

  /// A restart that could not create or start the container: STATE/error holds why.
  private func recordRunError(_ message: String) {
    writeFileAtomically(config.statePath("error"), Array((oneLine(message) + "\n").utf8))
  }

  /// The container is done for good: clients get their last bytes, the socket goes, the
  /// exit command runs (detached), the monitor exits 0.
  private func finish() -> Never {
    // A back-off cut short: `state` describes the last run again, beside its `exit`.
    if stateSaysRestarting { writeState(restarting: false) }
    // Those that read the exit frame; kept (and their sockets open) past the flush below,
    // which drops clients that have nothing left to receive.
    let told = clients.filter { $0.phase == .closing && !$0.dead }
    flushClients(deadlineMilliseconds: 5000)
    if !config.exitArgs.isEmpty { waitForHangUp(of: told, deadlineMilliseconds: 3000) }
    clients = []
    closeFD(&listenFD)
    removeFile(config.socket)
    if !config.exitArgs.isEmpty && claimAutoRemoval() {
      _ = spawnProcess(config.exitArgs, fdMap: [(devNull, 0), (devNull, 1), (devNull, 2)], newSession: true)
    }
    exit(0)
  }

  /// A foreground `run --rm` claims the removal as soon as it reads the exit frame, then
  /// hangs up and removes the container itself, which is quicker than an exit command
  /// starting another `berth`. So attached clients get a moment to hang up before the
  /// monitor claims; a killed CLI hangs up at once, a stuck one is not waited for long.
  private func waitForHangUp(of told: [Client], deadlineMilliseconds: Int64) {
    let deadline = monotonicNow() + deadlineMilliseconds * 1_000_000
    var buffer = [UInt8](repeating: 0, count: 512)
    while true {
      let attached = told.filter { !$0.dead }
      let now = monotonicNow()
      if attached.isEmpty || now >= deadline { return }
      var fds = attached.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
      _ = poll(&fds, nfds_t(fds.count), Int32(min(100, (deadline - now) / 1_000_000 + 1)))
      for (index, client) in attached.enumerated() where fds[index].revents != 0 {
        // Whatever a client still sends is of no use now; end of file (or an error) is the hang-up.
        let count = buffer.withUnsafeMutableBytes { read(client.fd, $0.baseAddress, $0.count) }
        if count <= 0 { client.dead = true }
      }
    }
  }

  /// The exit command (`berth rm` of a `--rm` container) runs only for the process that
  /// unlinks STATE/autoremove first: a foreground `berth run` races the monitor for it, and
  /// exactly one of them removes the container.
  private func claimAutoRemoval() -> Bool {
    config.statePath("autoremove").withCString { unlink($0) } == 0
  }
}
