import BerthImages
import BerthOCI
import BerthOS
import Foundation

/// A container whose monitor has started.
public struct StartedContainer: Sendable {
  public var record: ContainerRecord
  /// The container's init.
  public var pid: Int32
  public var monitorPid: Int32
  /// True when the monitor created the container and waits for `start` on the attach socket
  /// (a foreground `run`, `start -a`): the caller attaches first, then starts it.
  public var waitingForStart: Bool
}

extension ContainerEngine {
  /// Starts a container: mounts its root filesystem and starts its monitor, which creates
  /// it through the OCI runtime and, unless `waitForAttach`, starts it. A running container
  /// is left as it is (`start` of a running container is not an error in Docker).
  public func start(_ record: ContainerRecord, waitForAttach: Bool = false) async throws -> StartedContainer {
    try await withLock(record.id) {
      let files = files(record.id)
      let current = files.read()
      if current.isRunning {
        return StartedContainer(record: record, pid: current.pid, monitorPid: current.monitorPid ?? 0, waitingForStart: false)
      }
      try await settlePreviousRun(record, files: files)
      try prepareRootfs(record)
      try setUpNetwork(record)
      for name in record.mounts.compactMap({ $0.request.type == .volume ? $0.request.source : nil }) {
        try await volumes.mountIfNeeded(name)
      }
      for stale in [files.state, files.exit, files.error, files.stopped, files.paused, files.health, files.autoRemove] {
        unlink(stale)
      }
      var exitCommand: [String] = []
      if record.options.autoRemove, let berth = Executables.ownPath {
        try FS.write(files.autoRemove, "")
        exitCommand = [berth, "--root", layout.root, "--runroot", layout.runRoot, "rm", "--force", "--volumes", record.id]
      }
      let launcher = MonitorLauncher(layout: layout, record: record)
      let (monitorPid, firstReport, sync) = try launcher.launch(startNow: !waitForAttach, exitCommand: exitCommand)
      var report = firstReport
      // Starting at once, the monitor reports `created`, then `started` or `error`: the
      // container runs (and its state file says so) only after the second line.
      if !waitForAttach, case .created = report { report = MonitorLauncher.readReport(sync) }
      close(sync)
      switch report {
      case .created(let pid):
        return StartedContainer(record: record, pid: pid, monitorPid: monitorPid, waitingForStart: true)
      case .started(let pid):
        return StartedContainer(record: record, pid: pid, monitorPid: monitorPid, waitingForStart: false)
      case .failed(let message):
        _ = ProcessWatch.waitForExit(monitorPid, seconds: 5)
        unlink(files.autoRemove)
        try? FS.write(files.error, message + "\n")
        throw StartFailure(message: message)
      }
    }
  }

  /// What a previous run left: a monitor still finishing (give it a moment, then end it),
  /// the runtime's state after a crash or reboot.
  func settlePreviousRun(_ record: ContainerRecord, files: MonitorFiles) async throws {
    endMonitor(files, grace: 2, killWait: 2)
    if runtimeHasState(record) { try runtime(record, ["delete", "--force", record.id]) }
  }

  /// Mounts the overlay (image layers under the container's upper directory) unless it is
  /// mounted already (a container that ran before, since the last reboot).
  func prepareRootfs(_ record: ContainerRecord) throws {
    let target = layout.rootfs(record.id)
    if OverlayMount.isMounted(target) { return }
    let image = try images.image(id: try Digest(parsing: record.imageID))
    guard let image else {
      throw BerthError(.notFound, "the image \(record.imageID) of container \(record.shortID) is no longer in the store")
    }
    var lowers = try images.layerDirectories(of: image).reversed().map { $0 }
    for lower in lowers where !FS.isDirectory(lower) {
      throw BerthError(.notFound, "a layer of image \(image.id.shortID) is missing from the store (\(lower)); pull the image again")
    }
    if lowers.isEmpty {
      // An image without layers (an empty import): overlay needs one lower directory.
      let empty = layout.container(record.id) + "/empty"
      try FS.makeDirectories(empty, mode: 0o755)
      lowers = [empty]
    }
    try OverlayMount.mount(lowers: lowers, upper: layout.upper(record.id), work: layout.work(record.id), target: target)
  }
}

/// The runtime or the monitor could not start the container; `exitCode` is Docker's: 127
/// for a command not found, 126 for one that cannot be run, 125 otherwise.
public struct StartFailure: Error, CustomStringConvertible, Sendable {
  public var message: String

  public init(message: String) { self.message = message }

  public var exitCode: Int32 {
    let text = message.lowercased()
    if text.contains("executable file not found") || text.contains("no such file or directory") { return 127 }
    if text.contains("permission denied") || text.contains("is a directory") || text.contains("exec format error") {
      return 126
    }
    return 125
  }

  public var description: String { message }
}
