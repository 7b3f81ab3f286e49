import BerthOS
import CLinux
import Foundation

/// A container's root filesystem: the image's layers (read-only, shared) under the
/// container's own upper directory, merged by overlayfs.
///
/// Mounted with the new mount API and one `lowerdir+` per layer (Linux 6.8+): no limit on
/// the number of layers or the length of their paths. Older kernels get the classic
/// `mount(2)` with a "lowerdir=a:b:c" string, which must fit in a page; Docker works around
/// that limit with short symlinks, which cost a lookup per layer on every path walk.
public enum OverlayMount {
  /// Mounts `lowers` (top layer first) with `upper` and `work` at `target`.
  public static func mount(lowers: [String], upper: String, work: String, target: String) throws {
    guard !lowers.isEmpty else { throw BerthError(.internalError, "overlay mount at \(target) without a lower layer") }
    do {
      try mountWithFilesystemContext(lowers: lowers, upper: upper, work: work, target: target)
    } catch let error as BerthError where error.errno == ENOSYS || error.errno == EINVAL && error.message.contains("lowerdir+") {
      try mountClassic(lowers: lowers, upper: upper, work: work, target: target)
    }
  }

  /// Detaches the mount at `target` if there is one. Lazy (MNT_DETACH): a process still
  /// inside (a `cp`, a shell with its cwd there) keeps its view until it leaves.
  public static func unmount(_ target: String) throws {
    while berth_umount2(target, Int32(MNT_DETACH)) == 0 {}  // stacked mounts from a crash
    let error = errno
    if error != EINVAL && error != ENOENT {
      throw BerthError.system("unmount \(target)", errno: error)
    }
  }

  /// Whether something is mounted at `path`.
  public static func isMounted(_ path: String) -> Bool {
    (try? MountTable.isMountPoint(path)) ?? false
  }

  // MARK: -

  private static let fsopenCloexec: UInt32 = 1
  private static let setString: UInt32 = 1
  private static let commandCreate: UInt32 = 6
  private static let fsmountCloexec: UInt32 = 1
  private static let moveMountEmptyPath: UInt32 = 0x4

  private static func mountWithFilesystemContext(lowers: [String], upper: String, work: String, target: String) throws {
    let context = berth_fsopen("overlay", fsopenCloexec)
    if context < 0 { throw BerthError.system("open an overlay filesystem context") }
    defer { close(context) }
    func set(_ key: String, _ value: String) throws {
      if berth_fsconfig(context, setString, key, value, 0) != 0 {
        let error = errno
        throw BerthError(
          .system, "overlay option \(key)=\(value): \(kernelMessages(context) ?? errnoDescription(error))", errno: error)
      }
    }
    for lower in lowers { try set("lowerdir+", lower) }
    try set("upperdir", upper)
    try set("workdir", work)
    if berth_fsconfig(context, commandCreate, nil, nil, 0) != 0 {
      let error = errno
      throw BerthError(.system, "mount overlay at \(target): \(kernelMessages(context) ?? errnoDescription(error))", errno: error)
    }
    let mount = berth_fsmount(context, fsmountCloexec, 0)
    if mount < 0 { throw BerthError.system("mount overlay at \(target)") }
    defer { close(mount) }
    if berth_move_mount(mount, "", AT_FDCWD, target, moveMountEmptyPath) != 0 {
      throw BerthError.system("attach the overlay at \(target)")
    }
  }

  private static func mountClassic(lowers: [String], upper: String, work: String, target: String) throws {
    let data = "lowerdir=\(lowers.joined(separator: ":")),upperdir=\(upper),workdir=\(work)"
    if data.utf8.count >= 4096 {
      throw BerthError(
        .unsupported,
        "the image has too many layers (\(lowers.count)) for this kernel's overlay mount options; Linux 6.8 or later has no such limit")
    }
    try check("mount overlay at \(target)") { berth_mount("overlay", target, "overlay", 0, data) }
  }

  /// What the kernel logged on a filesystem context ("e overlay: …" lines), when it did.
  private static func kernelMessages(_ context: Int32) -> String? {
    var messages: [String] = []
    var buffer = [UInt8](repeating: 0, count: 1024)
    while true {
      let count = buffer.withUnsafeMutableBytes { read(context, $0.baseAddress, $0.count) }
      if count <= 0 { break }
      var text = String(decoding: buffer[0..<count], as: UTF8.self)
      if text.hasPrefix("e ") || text.hasPrefix("w ") || text.hasPrefix("i ") { text.removeFirst(2) }
      messages.append(text)
    }
    return messages.isEmpty ? nil : messages.joined(separator: "; ")
  }
}
