import BerthOCI
import BerthOS
import Foundation

extension ContainerEngine {
  /// `berth stop`: the stop signal, then SIGKILL after `timeout` seconds (nil: the
  /// container's own, Docker's 10 by default; negative: wait forever). No restart follows.
  public func stop(_ record: ContainerRecord, timeout: Int? = nil, signal: String? = nil) async throws {
    try await withLock(record.id) {
      let files = files(record.id)
      try FS.write(files.stopped, "")
      let state = files.read()
      guard state.isRunning else { return }
      let stopSignal = try Signals.parse(signal ?? record.stopSignal)
      let seconds = timeout ?? record.options.effectiveStopTimeout
      if state.status != .restarting {
        try signalContainer(record, stopSignal, state: state)
        if state.status == .paused { try resume(record, files: files) }
        if seconds >= 0, try waitForEnd(record, files: files, seconds: Double(seconds)) { return }
        if seconds < 0 {
          while try !waitForEnd(record, files: files, seconds: 3600) {}
          return
        }
        if files.read().isRunning { try signalContainer(record, SIGKILL, state: files.read()) }
      }
      if try !waitForEnd(record, files: files, seconds: 10) {
        try abandonMonitor(record, files: files)
      }
    }
  }

  /// `berth kill`: a signal to the container's init. Docker counts the stop signal and
  /// SIGKILL as a manual stop: no restart follows them.
  public func kill(_ record: ContainerRecord, signal: String = "KILL") async throws {
    let number = try Signals.parse(signal)
    try await withLock(record.id) {
      let files = files(record.id)
      let state = files.read()
      guard state.status == .running || state.status == .paused else {
        throw BerthError(.invalidState, "cannot kill container: \(record.shortID): container \(record.id) is not running")
      }
      if number == SIGKILL || number == (try? Signals.parse(record.stopSignal)) { try FS.write(files.stopped, "") }
      try signalContainer(record, number, state: state)
    }
  }

  /// `berth pause` / `unpause`.
  public func pause(_ record: ContainerRecord) async throws {
    try await withLock(record.id) {
      let files = files(record.id)
      let state = files.read()
      if state.status == .paused { throw BerthError(.invalidState, "container \(record.id) is already paused") }
      guard state.status == .running else { throw BerthError(.invalidState, "container \(record.id) is not running") }
      let result = try runtime(record, ["pause", record.id])
      guard result.ok else { throw BerthError(.commandFailed, "pause \(record.shortID): \(result.message)") }
      try FS.write(files.paused, "")
    }
  }

  public func unpause(_ record: ContainerRecord) async throws {
    try await withLock(record.id) {
      let files = files(record.id)
      guard files.read().status == .paused else {
        throw BerthError(.invalidState, "container \(record.id) is not paused")
      }
      try resume(record, files: files)
    }
  }

  func resume(_ record: ContainerRecord, files: MonitorFiles) throws {
    let result = try runtime(record, ["resume", record.id])
    guard result.ok else { throw BerthError(.commandFailed, "unpause \(record.shortID): \(result.message)") }
    unlink(files.paused)
  }

  /// `berth wait`: blocks until the container is not running; its exit code.
  public func wait(_ record: ContainerRecord) async throws -> Int {
    let files = files(record.id)
    while true {
      let state = files.read()
      guard FS.isDirectory(layout.container(record.id)) else {
        throw BerthError(.notFound, "No such container: \(record.id)")
      }
      if !state.isRunning && state.monitorPid == nil { return state.exitCode }
      if !state.isRunning, state.status == .exited { return state.exitCode }
      if let monitor = state.monitorPid, record.options.restartPolicy.isNone {
        _ = ProcessWatch.waitForExit(monitor, seconds: 1)
      } else if state.pid > 0 {
        _ = ProcessWatch.waitForExit(state.pid, seconds: 0.2)
      } else {
        try await Task.sleep(nanoseconds: 50_000_000)
      }
    }
  }

  // MARK: -

  func signalContainer(_ record: ContainerRecord, _ signal: Int32, state: ContainerState) throws {
    let result = try runtime(record, ["kill", record.id, String(signal)])
    if !result.ok {
      // The runtime may have lost it (a monitor killed, state cleared); the process itself
      // can still be told.
      if state.pid > 0, MonitorFiles.processIsContainer(state.pid, directory: layout.monitorState(record.id)) {
        Glibc.kill(state.pid, signal)
      } else if files(record.id).read().isRunning {
        throw BerthError(.commandFailed, "signal container \(record.shortID): \(result.message)")
      }
    }
  }

  /// Waits until the container's run is over: its monitor has finished (recording the exit
  /// and deleting the runtime's container) or, without a monitor, its process has ended.
  func waitForEnd(_ record: ContainerRecord, files: MonitorFiles, seconds: Double) throws -> Bool {
    let deadline = Clock.monotonicNanoseconds() + UInt64(max(0, seconds) * 1e9)
    while true {
      let state = files.read()
      if let monitor = state.monitorPid {
        // Running, or ended with the monitor finishing (`stopped` keeps it from restarting).
        let left = Double(deadline &- Clock.monotonicNanoseconds()) / 1e9
        if Clock.monotonicNanoseconds() >= deadline { return false }
        if ProcessWatch.waitForExit(monitor, seconds: min(left, 0.5)) { continue }
      } else if state.isRunning, state.pid > 0 {
        if Clock.monotonicNanoseconds() >= deadline { return false }
        _ = ProcessWatch.waitForExit(state.pid, seconds: 0.2)
        // An unsupervised container that ended: record it as the monitor would have. A
        // zombie (no start time) has ended too; its new parent may take seconds to reap it.
        if !MonitorFiles.processIsContainer(state.pid, directory: files.directory)
          || MonitorFiles.startTime(of: state.pid) == nil
        {
          try recordUnsupervisedExit(record, files: files)
        }
      } else {
        // Ended unsupervised and reaped before we looked: still recorded, not left to read
        // as an end nobody saw.
        if state.monitorPid == nil, FS.exists(files.state), !FS.exists(files.exit) {
          try recordUnsupervisedExit(record, files: files)
        }
        return true
      }
    }
  }

  /// A container whose monitor is gone ended: delete it from the runtime and record its exit
  /// (Docker's 255 for an end nobody saw, 137 after our SIGKILL).
  func recordUnsupervisedExit(_ record: ContainerRecord, files: MonitorFiles, code: Int = 137) throws {
    if runtimeHasState(record) { try runtime(record, ["delete", "--force", record.id]) }
    try FS.writeAtomically(files.exit, Array("\(code) \(Clock.rfc3339Now()) 0\n".utf8))
  }

  /// A monitor that does not finish in time: killed, and its work done here.
  func abandonMonitor(_ record: ContainerRecord, files: MonitorFiles) throws {
    endMonitor(files, grace: 0, killWait: 5)
    let state = files.read()
    if state.pid > 0 { Glibc.kill(state.pid, SIGKILL) }
    try recordUnsupervisedExit(record, files: files)
  }
}
