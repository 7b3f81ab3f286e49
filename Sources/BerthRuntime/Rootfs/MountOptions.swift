import CLinux

/// A mount's options from config.json, split into what mount(2) takes.
///
/// The option names are fstab's, as runc reads them; what is not a flag is file-system data.
public struct MountOptions: Equatable, Sendable {
  /// MS_* flags to set.
  public var flags: UInt = 0
  /// MS_* flags the options clear explicitly ("rw", "suid", ...), for remounts.
  public var clearedFlags: UInt = 0
  /// Propagation flags to apply after the mount (MS_PRIVATE, MS_SLAVE|MS_REC, ...).
  public var propagation: [UInt] = []
  /// Recursive attributes for mount_setattr(2) ("rro", "rnosuid", ...).
  public var recursiveSet: UInt64 = 0
  public var recursiveClear: UInt64 = 0
  /// Options passed as data (size=64m, mode=755, ...), comma-joined.
  public var data: [String] = []
  /// "tmpcopyup": copy the covered directory's content into a new tmpfs.
  public var copyUp = false
  /// "idmap" / "ridmap": an ID-mapped mount.
  public var idmap = false
  public var recursiveIDMap = false

  public var isBind: Bool { flags & BERTH_MS_BIND != 0 }
  public var isRecursiveBind: Bool { flags & (BERTH_MS_BIND | BERTH_MS_REC) == (BERTH_MS_BIND | BERTH_MS_REC) }

  public init() {}

  /// Options that set (true) or clear (false) a flag.
  static let flagOptions: [String: (set: Bool, flag: UInt)] = [
    "async": (false, BERTH_MS_SYNCHRONOUS), "atime": (false, BERTH_MS_NOATIME),
    "bind": (true, BERTH_MS_BIND), "defaults": (true, 0), "dev": (false, BERTH_MS_NODEV),
    "diratime": (false, BERTH_MS_NODIRATIME), "dirsync": (true, BERTH_MS_DIRSYNC),
    "exec": (false, BERTH_MS_NOEXEC), "iversion": (true, 1 << 23), "noiversion": (false, 1 << 23),
    "lazytime": (true, BERTH_MS_LAZYTIME), "nolazytime": (false, BERTH_MS_LAZYTIME),
    "loud": (false, BERTH_MS_SILENT), "mand": (true, BERTH_MS_MANDLOCK),
    "nomand": (false, BERTH_MS_MANDLOCK), "noatime": (true, BERTH_MS_NOATIME),
    "nodev": (true, BERTH_MS_NODEV), "nodiratime": (true, BERTH_MS_NODIRATIME),
    "noexec": (true, BERTH_MS_NOEXEC), "norelatime": (false, BERTH_MS_RELATIME),
    "nostrictatime": (false, BERTH_MS_STRICTATIME), "nosuid": (true, BERTH_MS_NOSUID),
    "nosymfollow": (true, BERTH_MS_NOSYMFOLLOW), "symfollow": (false, BERTH_MS_NOSYMFOLLOW),
    "rbind": (true, BERTH_MS_BIND | BERTH_MS_REC), "relatime": (true, BERTH_MS_RELATIME),
    "remount": (true, BERTH_MS_REMOUNT), "ro": (true, BERTH_MS_RDONLY),
    "rw": (false, BERTH_MS_RDONLY), "silent": (true, BERTH_MS_SILENT),
    "strictatime": (true, BERTH_MS_STRICTATIME), "suid": (false, BERTH_MS_NOSUID),
    "sync": (true, BERTH_MS_SYNCHRONOUS),
  ]

  static let propagationOptions: [String: UInt] = [
    "private": BERTH_MS_PRIVATE, "rprivate": BERTH_MS_PRIVATE | BERTH_MS_REC,
    "shared": BERTH_MS_SHARED, "rshared": BERTH_MS_SHARED | BERTH_MS_REC,
    "slave": BERTH_MS_SLAVE, "rslave": BERTH_MS_SLAVE | BERTH_MS_REC,
    "unbindable": BERTH_MS_UNBINDABLE, "runbindable": BERTH_MS_UNBINDABLE | BERTH_MS_REC,
  ]

  static let recursiveOptions: [String: (set: Bool, attr: UInt64)] = [
    "rro": (true, BERTH_MOUNT_ATTR_RDONLY), "rrw": (false, BERTH_MOUNT_ATTR_RDONLY),
    "rnosuid": (true, BERTH_MOUNT_ATTR_NOSUID), "rsuid": (false, BERTH_MOUNT_ATTR_NOSUID),
    "rnodev": (true, BERTH_MOUNT_ATTR_NODEV), "rdev": (false, BERTH_MOUNT_ATTR_NODEV),
    "rnoexec": (true, BERTH_MOUNT_ATTR_NOEXEC), "rexec": (false, BERTH_MOUNT_ATTR_NOEXEC),
    "rnodiratime": (true, BERTH_MOUNT_ATTR_NODIRATIME), "rdiratime": (false, BERTH_MOUNT_ATTR_NODIRATIME),
    "rrelatime": (true, BERTH_MOUNT_ATTR_RELATIME), "rnorelatime": (false, BERTH_MOUNT_ATTR__ATIME),
    "rnoatime": (true, BERTH_MOUNT_ATTR_NOATIME), "ratime": (false, BERTH_MOUNT_ATTR__ATIME),
    "rstrictatime": (true, BERTH_MOUNT_ATTR_STRICTATIME), "rnostrictatime": (false, BERTH_MOUNT_ATTR__ATIME),
    "rnosymfollow": (true, BERTH_MOUNT_ATTR_NOSYMFOLLOW), "rsymfollow": (false, BERTH_MOUNT_ATTR_NOSYMFOLLOW),
  ]

  /// Every option name this runtime understands (for `features`).
  public static var recognized: [String] {
    (Array(flagOptions.keys) + Array(propagationOptions.keys) + Array(recursiveOptions.keys)
      + ["tmpcopyup", "idmap", "ridmap"]).sorted()
  }

  /// Parses a mount's option list.
  public static func parse(_ options: [String]) -> MountOptions {
    var result = MountOptions()
    for option in options {
      if let entry = flagOptions[option] {
        if entry.set {
          result.flags |= entry.flag
          result.clearedFlags &= ~entry.flag
        } else {
          result.flags &= ~entry.flag
          result.clearedFlags |= entry.flag
        }
      } else if let flag = propagationOptions[option] {
        result.propagation.append(flag)
      } else if let entry = recursiveOptions[option] {
        if entry.set {
          // The atime modes are one field: setting one clears the others.
          if entry.attr & BERTH_MOUNT_ATTR__ATIME != 0 || entry.attr == BERTH_MOUNT_ATTR_RELATIME {
            result.recursiveClear |= BERTH_MOUNT_ATTR__ATIME
          }
          result.recursiveSet |= entry.attr
        } else {
          result.recursiveClear |= entry.attr
        }
      } else if option == "tmpcopyup" {
        result.copyUp = true
      } else if option == "idmap" {
        result.idmap = true
      } else if option == "ridmap" {
        result.idmap = true
        result.recursiveIDMap = true
      } else {
        result.data.append(option)
      }
    }
    return result
  }
}
