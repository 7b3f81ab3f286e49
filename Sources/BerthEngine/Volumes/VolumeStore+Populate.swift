import BerthOS
import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// Docker copies what an image holds at a volume's mount point into the volume the first
/// time a container mounts it, when the volume is empty.
extension VolumeStore {
  /// Copies the directory `path` of the container root `rootfs` into the volume, unless the
  /// volume was filled before or holds something already. Call after
  /// ``mountIfNeeded(_:)``. Returns whether it copied.
  ///
  /// `path` is resolved inside `rootfs` as the container would see it (openat2 with
  /// RESOLVE_IN_ROOT): a symlink in the image (`/data -> /etc`) leads to the container's /etc,
  /// never the host's. Nothing in the tree is followed while copying (``TreeCopy``).
  /// A missing path, or one that is not a directory, copies nothing.
  @discardableResult
  public func populate(_ name: String, rootfs: String, path: String) async throws -> Bool {
    try await VolumeLock.with(lockPath(name)) { _ in
      var record = try get(name)
      if record.populated { return false }
      let target = try OwnedFD.open(mountpoint(name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
      if !(try TreeCopy.names(in: target.raw, what: mountpoint(name)).isEmpty) {
        // Data from elsewhere (a bind volume's directory, an earlier container): keep it.
        record.populated = true
        try update(record)
        return false
      }
      let root = try OwnedFD.open(rootfs, BERTH_O_PATH | O_DIRECTORY)
      let sourceFD = berth_openat2(
        root.raw, path, UInt64(O_RDONLY | O_DIRECTORY | O_CLOEXEC), 0,
        UInt64(BERTH_RESOLVE_IN_ROOT | BERTH_RESOLVE_NO_MAGICLINKS))
      if sourceFD < 0 {
        if errno == ENOENT || errno == ENOTDIR { return false }
        throw BerthError.system("open \(path) in \(rootfs)")
      }
      let source = OwnedFD(sourceFD)
      do {
        try TreeCopy.copyContents(of: source.raw, into: target.raw)
        try TreeCopy.copyAttributes(from: source.raw, to: target.raw)
      } catch let error as BerthError {
        // Leave the volume empty, as it was, so the next container tries again.
        for entry in (try? FS.list(directoryFD: target.raw)) ?? [] { try? FS.removeTree(mountpoint(name) + "/" + entry) }
        throw error.prefixed("copy \(path) of the image into volume \(name)")
      }
      record.populated = true
      try update(record)
      return true
    }
  }
}
