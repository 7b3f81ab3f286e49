import CLinux

/// This process's mounts, from /proc/self/mountinfo: whether something is mounted at (or
/// below) a path. A bind mount of a directory on its own file system keeps the same st_dev,
/// so comparing devices cannot tell; mountinfo can.
public enum MountTable {
  /// The mount points, unescaped ("\040" is a space), in mount order.
  public static func mountPoints() throws -> [String] {
    // Split on bytes, not Characters: grapheme breaking a long table is slow.
    let table = try FS.read("/proc/self/mountinfo")
    return table.split(separator: UInt8(ascii: "\n")).compactMap { line in
      // id parent major:minor root mount-point options …
      let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: false)
      guard fields.count >= 5 else { return nil }
      return unescape(fields[4])
    }
  }

  /// Whether something is mounted at `path`. The kernel answers for the path itself (statx)
  /// without the whole table, which grows by a line per container; older kernels read it.
  public static func isMountPoint(_ path: String) throws -> Bool {
    let target = Path.clean(path)
    switch berth_is_mount_root(target) {
    case 1: return true
    case 0: return false
    default: return try mountPoints().contains(target)
    }
  }

  /// The mount points at `path` or below it.
  public static func mounts(atOrBelow path: String) throws -> [String] {
    let target = Path.clean(path)
    return try mountPoints().filter { $0 == target || $0.hasPrefix(target + "/") }
  }

  /// Undoes the kernel's octal escapes of space, tab, newline and backslash in a mountinfo
  /// field.
  public static func unescape(_ field: some Collection<UInt8>) -> String {
    let utf8 = Array(field)
    guard utf8.contains(UInt8(ascii: "\\")) else { return String(decoding: utf8, as: UTF8.self) }
    var bytes: [UInt8] = []
    var index = 0
    while index < utf8.count {
      if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count {
        let digits = utf8[(index + 1)...(index + 3)]
        if digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }) {
          let value = digits.reduce(0) { $0 * 8 + Int($1 - UInt8(ascii: "0")) }
          bytes.append(UInt8(truncatingIfNeeded: value))
          index += 4
          continue
        }
      }
      bytes.append(utf8[index])
      index += 1
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
