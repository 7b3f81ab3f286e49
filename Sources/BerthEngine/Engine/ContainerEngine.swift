import BerthImages
import BerthNetwork
import BerthOCI
import BerthOS
import CLinux
import Foundation

/// The daemonless engine: containers made from images in the store, each run by its own
/// berth-monitor. Every `berth` process opens its own engine on the same store; they agree
/// through the database (one transaction per change) and a lock file per container.
public final class ContainerEngine: Sendable {
  public let layout: EngineLayout
  public let images: ImageStore
  public let containers: ContainerStore
  public let volumes: VolumeStore
  /// Bridge networks (their definitions beside the store, their per-boot state in the run root).
  public let networks: NetworkStore

  public init(root: String = StoreLayout.defaultRoot, runRoot: String? = nil) throws {
    layout = EngineLayout(root: root, runRoot: runRoot)
    images = try ImageStore(root: root)
    try layout.prepare()
    containers = ContainerStore(layout: layout, db: images.db)
    volumes = try VolumeStore(layout: layout, db: images.db)
    networks = NetworkStore(root: layout.root, runRoot: layout.runRoot)
  }

  /// The monitor's files of a container.
  public func files(_ id: String) -> MonitorFiles { MonitorFiles(directory: layout.monitorState(id)) }

  /// What a container is doing now.
  public func state(of id: String) -> ContainerState { files(id).read() }

  /// Holds a container's lock (any process) while the body changes it. A container removed
  /// meanwhile is reported as gone. Locks live under the run root: nothing survives a reboot
  /// that needs one.
  func withLock<T>(_ id: String, _ body: () async throws -> T) async throws -> T {
    let path = layout.containerLock(id)
    let lock = try await FileLock.acquire(path)
    defer { lock.release() }
    guard try containers.get(id: id) != nil else {
      // Removed while we waited: the lock file goes too (whoever else holds it finds the
      // row gone as well).
      unlink(path)
      throw BerthError(.notFound, "No such container: \(id)")
    }
    return try await body()
  }

  /// Runs `RUNTIME --root R ARGS` for a container, to completion.
  @discardableResult
  func runtime(_ record: ContainerRecord, _ arguments: [String], timeoutSeconds: UInt64 = 30) throws -> (ok: Bool, message: String) {
    let result = try Subprocess.run(
      record.runtimePath, args: [record.runtimePath, "--root", layout.runtimeRoot(record.runtimeName)] + arguments,
      env: ["PATH=" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin")],
      timeoutNanoseconds: timeoutSeconds * 1_000_000_000)
    let message = String(decoding: result.error.isEmpty ? result.output : result.error, as: UTF8.self)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    return (result.status == .exited(0), message)
  }

  /// Ends the container's monitor if it still runs: `grace` seconds to finish on its own
  /// (none when 0), then SIGKILL and up to `killWait` seconds for it to go.
  func endMonitor(_ files: MonitorFiles, grace: Double, killWait: Double) {
    guard let monitor = files.liveMonitor() else { return }
    if grace > 0 && ProcessWatch.waitForExit(monitor, seconds: grace) { return }
    Glibc.kill(monitor, SIGKILL)
    _ = ProcessWatch.waitForExit(monitor, seconds: killWait)
  }

  /// Whether the runtime still holds state for this container (a crash or a reboot left it).
  func runtimeHasState(_ record: ContainerRecord) -> Bool {
    FS.exists(layout.runtimeRoot(record.runtimeName) + "/" + record.id)
  }
}

/// Waiting for processes that are not our children: a pidfd polls readable when the process
/// ends.
enum ProcessWatch {
  /// Waits up to `seconds` for `pid` to end; true when it did (or was gone already).
  static func waitForExit(_ pid: Int32, seconds: Double) -> Bool {
    let fd = berth_pidfd_open(pid, 0)
    if fd < 0 { return true }
    defer { close(fd) }
    var remaining = Int32(seconds * 1000)
    while true {
      var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      let start = Clock.monotonicNanoseconds()
      let ready = poll(&entry, 1, remaining)
      if ready > 0 {
        // Our own child (the monitor of a foreground run) must be reaped, or it stays a zombie.
        var status: Int32 = 0
        _ = waitpid(pid, &status, WNOHANG)
        return true
      }
      if ready == 0 { return false }
      if errno != EINTR { return false }
      remaining -= Int32((Clock.monotonicNanoseconds() - start) / 1_000_000)
      if remaining <= 0 { return false }
    }
  }
}
