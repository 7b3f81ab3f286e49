import CMonitor

/// The healthcheck: `RUNTIME exec ID health-arg...` every interval while the container runs,
/// killed after the timeout, with Docker's state machine (starting → healthy / unhealthy) kept
/// in STATE/health as Docker's JSON.
///
/// Timing follows Docker: the first check runs one interval after the container started, the
/// next one an interval after the previous one finished. A failure within the start period
/// (while no check has passed yet) does not count toward `retries`.
final class HealthChecker {
  struct Result {
    var start: [UInt8]
    var end: [UInt8]
    var exitCode: Int
    var output: [UInt8]
  }

  enum Status {
    case starting
    case healthy
    case unhealthy
  }

  static let maxOutput = 4096
  static let keptResults = 5

  let config: MonitorConfig
  let statePath: String
  let pidFilePath: String
  /// Written by the engine while the container is frozen (`berth pause`).
  let pausedPath: String

  private(set) var status = Status.starting
  private(set) var failingStreak = 0
  private var results: [Result] = []

  /// Monotonic time of the next check; -1 when none is scheduled.
  private(set) var nextDue: Int64 = -1
  /// Monotonic time the container started (for the start period).
  private var containerStart: Int64 = 0

  /// The running check.
  private(set) var pid: Int32 = -1
  /// Its output pipe (non-blocking); -1 once closed.
  private(set) var outputFD: Int32 = -1
  /// When it must be killed.
  private(set) var deadline: Int64 = -1
  private var output: [UInt8] = []
  private var startedAt = WallTime(seconds: 0, nanoseconds: 0)
  private var startedMono: Int64 = 0
  private var timedOut = false

  init(config: MonitorConfig) {
    self.config = config
    statePath = config.statePath("health")
    pidFilePath = config.statePath("health.pid")
    pausedPath = config.statePath("paused")
  }

  /// The container (re)started: status `starting`, first check one interval from now.
  func containerStarted() {
    abandonCheck()
    status = .starting
    failingStreak = 0
    containerStart = monotonicNow()
    nextDue = containerStart + config.healthInterval
    save()
  }

  /// The container exited: no more checks; a running one is killed and its result dropped.
  func containerStopped() {
    abandonCheck()
    nextDue = -1
  }

  var isRunning: Bool { pid > 0 }

  /// Starts a check if one is due.
  func startIfDue(now: Int64, devNull: Int32) {
    guard pid <= 0, nextDue >= 0, now >= nextDue else { return }
    nextDue = -1
    startedMono = now
    if fileExists(pausedPath) {
      // As Docker: a paused container's check fails without running (an exec into a frozen
      // cgroup would only hang until the timeout).
      let time = rfc3339Nano(WallTime.now())
      finish(Result(start: time, end: time, exitCode: -1,
                    output: Array("Container \(config.id) is paused, unpause the container before exec".utf8)))
      return
    }
    removeFile(pidFilePath)
    guard let pipe = makePipe() else {
      finish(Result(start: rfc3339Nano(WallTime.now()), end: rfc3339Nano(WallTime.now()), exitCode: -1,
                    output: Array("cannot create a pipe: \(errnoText())".utf8)))
      return
    }
    _ = cmonitor_set_nonblocking(pipe.read, 1)
    var argv = [config.runtime]
    argv.append(contentsOf: config.runtimeArgs)
    argv.append(contentsOf: ["exec", "--pid-file", pidFilePath, config.id])
    argv.append(contentsOf: config.healthArgs)
    startedAt = WallTime.now()
    startedMono = monotonicNow()
    // Its own session, so that a timeout can kill the runtime and what it started as a group.
    let child = spawnProcess(argv, fdMap: [(devNull, 0), (pipe.write, 1), (pipe.write, 2)], newSession: true)
    let spawnError = lastErrno()
    _ = close(pipe.write)
    guard child > 0 else {
      _ = close(pipe.read)
      finish(Result(start: rfc3339Nano(startedAt), end: rfc3339Nano(WallTime.now()), exitCode: -1,
                    output: Array("cannot run \(config.runtime): \(errnoText(spawnError))".utf8)))
      return
    }
    pid = child
    outputFD = pipe.read
    output = []
    timedOut = false
    deadline = startedMono + config.healthTimeout
  }

  /// Reads the check's output (keeping the first 4 KiB).
  func readOutput(buffer: UnsafeMutableRawBufferPointer) {
    while outputFD >= 0 {
      let n = read(outputFD, buffer.baseAddress, buffer.count)
      if n > 0 {
        let room = Self.maxOutput - output.count
        if room > 0 {
          let bytes = buffer.bindMemory(to: UInt8.self)
          output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[0..<min(room, n)]))
        }
        continue
      }
      if n < 0 && lastErrno() == EINTR { continue }
      if n < 0 && lastErrno() == EAGAIN { return }
      closeFD(&outputFD)
    }
  }

  /// Kills a check that ran past its timeout.
  func enforceTimeout(now: Int64) {
    guard pid > 0, deadline >= 0, now >= deadline, !timedOut else { return }
    timedOut = true
    killCheck()
  }

  /// The check's runtime process was reaped.
  func reaped(status waitStatus: Int32, buffer: UnsafeMutableRawBufferPointer) {
    readOutput(buffer: buffer)
    closeFD(&outputFD)
    pid = -1
    deadline = -1
    // What the runtime started in the container may outlive a killed runtime.
    if timedOut { killCheck() }
    let code = timedOut ? -1 : shellCode(ofWaitStatus: waitStatus)
    var text = output
    if timedOut {
      text = Array("Health check exceeded timeout (".utf8)
      appendDuration(&text, config.healthTimeout)
      text.append(UInt8(ascii: ")"))
    }
    output = []
    finish(Result(start: rfc3339Nano(startedAt), end: rfc3339Nano(WallTime.now()), exitCode: code, output: text))
  }

  private func finish(_ result: Result) {
    if result.exitCode == 0 {
      failingStreak = 0
      status = .healthy
    } else {
      // Docker: while starting, failures within the start period do not count.
      let inStartPeriod = status == .starting && startedMono - containerStart < config.healthStartPeriod
      if !inStartPeriod {
        failingStreak += 1
        if failingStreak >= config.healthRetries { status = .unhealthy }
      }
    }
    results.append(result)
    if results.count > Self.keptResults { results.removeFirst(results.count - Self.keptResults) }
    save()
    nextDue = monotonicNow() + config.healthInterval
  }

  private func abandonCheck() {
    if pid > 0 {
      killCheck()
      // The reaper finds it later; its result is not recorded.
      pid = -1
    }
    closeFD(&outputFD)
    deadline = -1
    output = []
  }

  private func killCheck() {
    if let bytes = readFile(pidFilePath, limit: 64), let target = parseDecimal(bytes), target > 1 {
      _ = kill(Int32(truncatingIfNeeded: target), SIGKILL)
    }
    if pid > 0 {
      _ = kill(-pid, SIGKILL)
      _ = kill(pid, SIGKILL)
    }
  }

  private func appendDuration(_ out: inout [UInt8], _ ns: Int64) {
    if ns % 1_000_000_000 == 0 {
      out.append(decimal: Int(ns / 1_000_000_000))
      out.append(UInt8(ascii: "s"))
    } else if ns % 1_000_000 == 0 {
      out.append(decimal: Int(ns / 1_000_000))
      out.append("ms")
    } else {
      out.append(decimal: Int(ns))
      out.append("ns")
    }
  }

  /// Writes STATE/health: {"Status":…,"FailingStreak":N,"Log":[{"Start","End","ExitCode","Output"}…]}.
  private func save() {
    var json: [UInt8] = []
    json.append("{\"Status\":\"")
    switch status {
    case .starting: json.append("starting")
    case .healthy: json.append("healthy")
    case .unhealthy: json.append("unhealthy")
    }
    json.append("\",\"FailingStreak\":")
    json.append(decimal: failingStreak)
    json.append(",\"Log\":[")
    for (index, result) in results.enumerated() {
      if index > 0 { json.append(UInt8(ascii: ",")) }
      json.append("{\"Start\":\"")
      json.append(contentsOf: result.start)
      json.append("\",\"End\":\"")
      json.append(contentsOf: result.end)
      json.append("\",\"ExitCode\":")
      json.append(decimal: result.exitCode)
      json.append(",\"Output\":")
      appendJSONString(&json, result.output)
      json.append(UInt8(ascii: "}"))
    }
    json.append("]}\n")
    writeFileAtomically(statePath, json)
  }
}
