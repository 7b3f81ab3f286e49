#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import CLinux

/// mount(2) calls with messages that say which mount failed and why.
enum Mounter {
  static func mount(
    _ source: String?, _ target: String, type: String?, flags: UInt, data: String?, what: @autoclosure () -> String
  ) throws {
    let rc = retryOnInterrupt { berth_mount(source, target, type, flags, data) }
    if rc != 0 { throw BerthError.system(what()) }
  }

  /// Remounts a bind mount with new flags, keeping the flags the kernel locks on mounts from a
  /// more privileged namespace (nosuid, nodev, noexec, atime): dropping those fails with EPERM.
  static func remountBind(_ target: String, flags: UInt, what: @autoclosure () -> String) throws {
    var requested = flags | BERTH_MS_BIND | BERTH_MS_REMOUNT
    let rc = retryOnInterrupt { berth_mount(nil, target, nil, requested, nil) }
    if rc == 0 { return }
    guard errno == EPERM else { throw BerthError.system(what()) }
    requested |= lockedFlags(target)
    if retryOnInterrupt({ berth_mount(nil, target, nil, requested, nil) }) != 0 {
      throw BerthError.system(what())
    }
  }

  /// The mount flags in effect at `path`, from statvfs(3), as MS_* flags.
  static func lockedFlags(_ path: String) -> UInt {
    var info = statvfs()
    guard statvfs(path, &info) == 0 else { return 0 }
    let stFlags = UInt(info.f_flag)
    var flags: UInt = 0
    let pairs: [(UInt, UInt)] = [
      (2, BERTH_MS_NOSUID), (4, BERTH_MS_NODEV), (8, BERTH_MS_NOEXEC), (1024, BERTH_MS_NOATIME),
      (2048, BERTH_MS_NODIRATIME), (4096, BERTH_MS_RELATIME), (1, BERTH_MS_RDONLY),
    ]
    for (statFlag, mountFlag) in pairs where stFlags & statFlag != 0 { flags |= mountFlag }
    return flags
  }

  /// Applies recursive mount attributes ("rro", "rnosuid", ...) with mount_setattr(2).
  static func setRecursiveAttributes(_ fd: Int32, set: UInt64, clear: UInt64, what: @autoclosure () -> String) throws {
    var attr = berth_mount_attr(attr_set: set, attr_clr: clear, propagation: 0, userns_fd: 0)
    let rc = berth_mount_setattr(fd, "", UInt32(BERTH_AT_EMPTY_PATH | BERTH_AT_RECURSIVE), &attr)
    if rc != 0 { throw BerthError.system(what()) }
  }
}
