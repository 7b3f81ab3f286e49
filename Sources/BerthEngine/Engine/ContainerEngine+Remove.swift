import BerthOS
import Foundation

extension ContainerEngine {
  /// `berth rm`: a running container is refused unless `force` (then killed). Everything the
  /// container had goes: the runtime's state, the monitor, the overlay mount and upper layer,
  /// its directories, its row; with `removeVolumes`, its anonymous volumes. Each step is safe
  /// to repeat, so a removal cut short (a killed CLI) is finished by the next `rm`.
  public func remove(_ record: ContainerRecord, force: Bool, removeVolumes: Bool) async throws {
    try await withLock(record.id) {
      let files = files(record.id)
      let state = files.read()
      if state.isRunning {
        guard force else {
          throw BerthError(
            .invalidState,
            "cannot remove container \"/\(record.name)\": container is \(state.status == .paused ? "paused" : "running"): stop the container before removing or force remove")
        }
        try FS.write(files.stopped, "")
        if state.status == .paused { try? resume(record, files: files) }
        if state.status != .restarting { try? signalContainer(record, SIGKILL, state: state) }
        if try !waitForEnd(record, files: files, seconds: 10) { try abandonMonitor(record, files: files) }
      }
      try await discard(record, files: files, removeVolumes: removeVolumes)
    }
  }

  /// Takes apart what a container has, in the order that lets a repeat finish the job: the
  /// database row goes last, so `ps -a` shows a container until nothing of it is left.
  func discard(_ record: ContainerRecord, files: MonitorFiles, removeVolumes: Bool) async throws {
    let mayStillRun = files.read().isRunning
    // Created and waiting for `start`, or finishing: it has nothing left to do.
    endMonitor(files, grace: 0.5, killWait: 5)
    if runtimeHasState(record) {
      let result = try runtime(record, ["delete", "--force", record.id])
      if !result.ok && runtimeHasState(record) {
        throw BerthError(.commandFailed, "remove container \(record.shortID) from \(record.runtimeName): \(result.message)")
      }
    }
    if mayStillRun { removeLeftoverCgroup(record) }
    tearDownNetwork(record)
    try OverlayMount.unmount(layout.rootfs(record.id))
    if OverlayMount.isMounted(layout.rootfs(record.id)) {
      throw BerthError(.invalidState, "the root filesystem of \(record.shortID) is still mounted at \(layout.rootfs(record.id))")
    }
    let released = try await volumes.release(container: record.id)
    try? FS.removeTree(layout.containerRun(record.id))
    try FS.removeTree(layout.container(record.id))
    if removeVolumes {
      // The record's list, and any anonymous volume it used that the list missed (a create
      // killed between making the volume and saving the record). Before the row goes: an rm
      // killed after it would leave the next `rm -f` nothing to find, and the volumes behind.
      let anonymous = released.filter { (try? volumes.get($0).anonymous) == true }
      for name in Set(record.anonymousVolumes + anonymous) {
        // A volume another container took up (--volumes-from) stays.
        try? await volumes.remove(name, force: false)
      }
    }
    try containers.delete(record.id)
    unlink(layout.containerLock(record.id))
  }

  /// Processes the runtime no longer knows of (its state was lost: another run root, a
  /// crash) would outlive the container: whatever is still in its cgroup is killed and the
  /// cgroup removed. Nothing to do in the usual case, where `delete --force` did it.
  func removeLeftoverCgroup(_ record: ContainerRecord) {
    guard let cgroup = try? cgroup(of: record), let pids = try? cgroup.processes() else { return }
    if !pids.isEmpty {
      try? cgroup.killAll(signal: SIGKILL)
      for _ in 0..<100 {
        if ((try? cgroup.processes()) ?? []).isEmpty { break }
        usleep(10_000)
      }
    }
    try? cgroup.destroy()
  }
}
