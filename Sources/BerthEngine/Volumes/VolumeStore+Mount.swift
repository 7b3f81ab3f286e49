import BerthOS
import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// Volumes with driver options (tmpfs, a bind, a device) are mounted at `_data` when the first
/// user starts and unmounted when the last user is released, as Docker's local driver does.
/// Whether one is mounted is read from the mount table, so a reboot (which unmounts all)
/// needs no repair.
extension VolumeStore {
  /// Mounts the volume's file system at its mountpoint unless it is mounted already (or the
  /// volume is a plain directory). Call after ``use(_:container:)``.
  public func mountIfNeeded(_ name: String) async throws {
    guard try get(name).needsMount else { return }
    try await VolumeLock.with(lockPath(name)) { _ in
      // Removed (and perhaps made again with other options) while we waited.
      guard let options = try VolumeOptions.parse(try get(name).options) else { return }
      let target = mountpoint(name)
      if try MountTable.isMountPoint(target) { return }
      do {
        try FS.makeDirectories(target, mode: 0o755)
        try options.mount(at: target)
      } catch let error as BerthError {
        throw BerthError(error.code, "error while mounting volume '\(target)': failed to mount local volume: \(error.message)", errno: error.errno)
      }
    }
  }

  /// Unmounts the volume's file system if no container uses it. A tmpfs loses its content
  /// then, so the next container fills it from its image again (as with Docker).
  public func unmountIfUnused(_ name: String) async throws {
    guard let record = try record(name), record.needsMount else { return }
    try await VolumeLock.with(lockPath(name)) { _ in
      guard var record = try self.record(name), try users(of: name).isEmpty else { return }
      try unmountEverything(below: layout.volume(name))
      if record.options["type"] == "tmpfs" && record.populated {
        record.populated = false
        try update(record)
      }
    }
  }

  /// Unmounts whatever is mounted at or below `path`, deepest first; fails if anything is
  /// left (the caller must not delete through a mount).
  func unmountEverything(below path: String) throws {
    for mountPoint in try MountTable.mounts(atOrBelow: path).reversed() {
      if berth_umount2(mountPoint, 0) != 0 && errno != EINVAL && errno != ENOENT {
        // Busy (a process has a file open in it): detach it from the tree now; the kernel
        // frees it when the last user lets go.
        if berth_umount2(mountPoint, BERTH_MNT_DETACH) != 0 && errno != EINVAL {
          throw BerthError.system("unmount \(mountPoint)")
        }
      }
    }
    let left = try MountTable.mounts(atOrBelow: path)
    if !left.isEmpty {
      throw BerthError(.invalidState, "\(left.joined(separator: ", ")) is still mounted")
    }
  }
}
