import BerthOS
import CLinux
import Foundation

/// Docker's container states, as `ps` and `inspect` name them.
public enum ContainerStatus: String, Codable, Sendable {
  case created, running, paused, restarting, exited, dead
}

/// What a container is doing now, read from the files its monitor writes (docs/monitor.md)
/// and from whether that monitor still lives. Nothing here is cached in the database: the
/// monitor is the one witness of the container's life, and after a reboot (no monitor, no
/// process) the same files say how its last run ended.
public struct ContainerState: Sendable, Equatable {
  public var status: ContainerStatus = .created
  /// The container's init, when running.
  public var pid: Int32 = 0
  public var exitCode: Int = 0
  public var oomKilled = false
  /// RFC 3339; nil when never started / never exited.
  public var startedAt: String?
  public var finishedAt: String?
  public var restartCount = 0
  /// Why the last start or restart failed.
  public var error: String?
  /// The monitor's pid while it lives.
  public var monitorPid: Int32?
  /// The healthcheck's record (Docker's `State.Health` JSON), when the container has one.
  public var healthJSON: [UInt8]?

  public var isRunning: Bool { status == .running || status == .paused || status == .restarting }

  /// Docker's "Health.Status" ("starting", "healthy", "unhealthy"), when there is a record.
  public var healthStatus: String? {
    guard let healthJSON,
      let object = try? JSONSerialization.jsonObject(with: Data(healthJSON)) as? [String: Any]
    else { return nil }
    return object["Status"] as? String
  }
}

/// The monitor's files for one container, and the engine's notes beside them.
///
///     state/state        "running|restarting PID STARTED_AT RESTART_COUNT"   (monitor)
///     state/exit         "CODE FINISHED_AT OOM"                               (monitor)
///     state/error        why a start or restart failed                        (monitor)
///     state/health       Docker's State.Health JSON                           (monitor)
///     state/monitor      "PID STARTTIME" of the monitor                       (engine)
///     state/stopped      a stop was asked for: no restart                     (engine)
///     state/paused       the container is frozen                              (engine)
public struct MonitorFiles: Sendable {
  public let directory: String

  public init(directory: String) { self.directory = directory }

  public var state: String { directory + "/state" }
  public var exit: String { directory + "/exit" }
  public var error: String { directory + "/error" }
  public var health: String { directory + "/health" }
  public var monitor: String { directory + "/monitor" }
  public var stopped: String { directory + "/stopped" }
  public var paused: String { directory + "/paused" }
  /// Present while the exit command (`berth rm` of a `--rm` container) is still to run: the
  /// monitor and a foreground `run` race to unlink it, and the winner removes the container.
  public var autoRemove: String { directory + "/autoremove" }

  /// Reads the current state.
  public func read() -> ContainerState {
    var result = ContainerState()
    let monitorPid = liveMonitor()
    result.monitorPid = monitorPid
    result.error = text(error)
    result.healthJSON = try? FS.read(health)
    let run = text(state).map { $0.split(separator: " ").map(String.init) }
    let end = text(exit).map { $0.split(separator: " ").map(String.init) }
    if let run, run.count >= 4 {
      result.pid = Int32(run[1]) ?? 0
      result.startedAt = run[2]
      result.restartCount = Int(run[3]) ?? 0
    }
    if let end, end.count >= 2 {
      result.exitCode = Int(end[0]) ?? 0
      result.finishedAt = end[1]
      result.oomKilled = end.count > 2 && end[2] == "1"
    }
    switch (run, end, monitorPid) {
    case (nil, nil, _):
      result.status = .created
    case (let run?, nil, .some):
      result.status = run.first == "restarting" ? .restarting : (FS.exists(paused) ? .paused : .running)
    case (let run?, nil, nil):
      // The monitor is gone without recording an end: it was killed, or the host rebooted.
      // The container may still run unsupervised (a killed monitor); a reboot ended it.
      if result.pid > 0, Self.processIsContainer(result.pid, directory: directory) {
        result.status = FS.exists(paused) ? .paused : .running
      } else {
        result.status = .exited
        result.exitCode = 255
        result.finishedAt = result.startedAt
        _ = run
      }
    case (let run?, .some, .some):
      // Between runs: the monitor waits to restart it, or is about to finish.
      result.status = run.first == "restarting" ? .restarting : .exited
    case (_, .some, _):
      result.status = .exited
    }
    if result.status != .running && result.status != .paused { result.pid = 0 }
    return result
  }

  /// The monitor's pid when it still runs (the same process: pid and start time match).
  public func liveMonitor() -> Int32? {
    guard let fields = text(monitor)?.split(separator: " "), fields.count == 2,
      let pid = Int32(fields[0]), let started = UInt64(fields[1])
    else { return nil }
    return Self.startTime(of: pid) == started ? pid : nil
  }

  /// Notes the monitor's pid and start time.
  public func recordMonitor(pid: Int32) throws {
    guard let started = Self.startTime(of: pid) else {
      throw BerthError(.internalError, "the monitor (pid \(pid)) ended at once")
    }
    try FS.writeAtomically(monitor, Array("\(pid) \(started)\n".utf8))
  }

  /// Field 22 of /proc/PID/stat: the process's start time in clock ticks since boot.
  static func startTime(of pid: Int32) -> UInt64? {
    guard let bytes = try? FS.read("/proc/\(pid)/stat"), let close = bytes.lastIndex(of: UInt8(ascii: ")")) else {
      return nil
    }
    // After "pid (comm)" come fields 3...; the start time is field 22.
    let fields = bytes[(close + 2)...].split(separator: 0x20)
    // A zombie has ended: its parent just has not reaped it yet.
    guard fields.count > 19, !fields[0].elementsEqual("Z".utf8) else { return nil }
    return UInt64(String(decoding: fields[19], as: UTF8.self))
  }

  /// Whether `pid` is this container's process: its cgroup path names the container
  /// (cgroupsPath ends in the ID, whose directory is this one's parent).
  static func processIsContainer(_ pid: Int32, directory: String) -> Bool {
    // A zombie still names its cgroup, but it has ended (this host's PID 1 may take seconds
    // to reap it).
    guard startTime(of: pid) != nil, let cgroups = try? FS.readText("/proc/\(pid)/cgroup") else { return false }
    let id = Path.basename(Path.dirname(directory))
    return cgroups.contains(id)
  }

  private func text(_ path: String) -> String? {
    guard let bytes = try? FS.read(path) else { return nil }
    let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return text.isEmpty ? nil : text
  }
}
