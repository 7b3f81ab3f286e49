import BerthOS
import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// The local driver's options, as Docker's: none (a plain directory), or `type`, `device` and
/// `o` for what to mount at `_data` (`type=tmpfs device=tmpfs o=size=100m`, `type=none o=bind
/// device=/host/path`, `type=ext4 device=/dev/sdb1`).
public struct VolumeOptions: Sendable, Equatable {
  /// The keys Docker's local driver knows.
  public static let knownKeys: Set<String> = ["type", "device", "o", "size"]
  /// Each key and the keys it needs beside it (Docker's mandatoryOpts).
  static let requiredWith: [(String, [String])] = [("device", ["type"]), ("type", ["device"]), ("o", ["device", "type"])]

  public var type: String
  public var device: String
  /// Mount flags from `o` (ro, nosuid, bind, …), without propagation flags.
  public var flags: UInt
  /// Propagation from `o` (private, rshared, …), applied by a second mount call.
  public var propagation: UInt
  /// What is left of `o` for the file system (`size=100m,uid=1000`).
  public var data: String

  /// Checks `options` as Docker does when a volume is created; nil when nothing is mounted.
  public static func parse(_ options: [String: String]) throws -> VolumeOptions? {
    if options.isEmpty { return nil }
    let unknown = options.keys.filter { !knownKeys.contains($0) }.sorted()
    if !unknown.isEmpty {
      throw BerthError(.invalidArgument, "invalid option\(unknown.count > 1 ? "s" : ""): " + unknown.map { quoted($0) }.joined(separator: ", "))
    }
    if options["size"] != nil {
      throw BerthError(.unsupported, "quota size requested but no quota support")
    }
    for (key, needed) in requiredWith where options[key] != nil {
      for other in needed where options[other] == nil {
        throw BerthError(.invalidArgument, "missing required option: \(quoted(other))")
      }
    }
    guard let type = options["type"], let device = options["device"] else { return nil }
    if type.isEmpty { throw BerthError(.invalidArgument, "invalid option: \"type\" must not be empty") }
    var result = VolumeOptions(type: type, device: device, flags: 0, propagation: 0, data: "")
    var data: [String] = []
    for word in (options["o"] ?? "").split(separator: ",").map(String.init) {
      if let (clear, flag) = flagTable[word] {
        if clear { result.flags &= ~flag } else { result.flags |= flag }
      } else if let flag = propagationTable[word] {
        result.propagation |= flag
      } else {
        data.append(word)
      }
    }
    result.data = data.joined(separator: ",")
    if result.isBind && !device.hasPrefix("/") {
      throw BerthError(.invalidArgument, "invalid device \(quoted(device)) for a bind mount: use an absolute path")
    }
    return result
  }

  public var isBind: Bool { flags & BERTH_MS_BIND != 0 }

  /// Mounts this at `target`, as Docker's local driver (moby/sys/mount) does: the mount with
  /// its flags and data, then the propagation, then a remount for flags a bind mount ignores
  /// on its first call (ro, nosuid, nodev, noexec).
  func mount(at target: String) throws {
    let fsType = isBind ? "none" : type
    let what = "mount \(device) (\(type)) at \(target)"
    try check(what) { berth_mount(device, target, fsType, flags, data.isEmpty ? nil : data) }
    do {
      if propagation != 0 {
        try check("set the propagation of \(target)") { berth_mount(nil, target, nil, propagation, nil) }
      }
      let extra = flags & ~(BERTH_MS_BIND | BERTH_MS_REC)
      if isBind && extra != 0 {
        try check("remount \(target)") { berth_mount(nil, target, nil, extra | BERTH_MS_BIND | BERTH_MS_REMOUNT, nil) }
      }
    } catch {
      _ = berth_umount2(target, BERTH_MNT_DETACH)
      throw error
    }
  }

  /// Option words and the flag each sets (false) or clears (true): moby/sys/mount's table.
  static let flagTable: [String: (clear: Bool, flag: UInt)] = [
    "defaults": (false, 0),
    "ro": (false, BERTH_MS_RDONLY), "rw": (true, BERTH_MS_RDONLY),
    "suid": (true, BERTH_MS_NOSUID), "nosuid": (false, BERTH_MS_NOSUID),
    "dev": (true, BERTH_MS_NODEV), "nodev": (false, BERTH_MS_NODEV),
    "exec": (true, BERTH_MS_NOEXEC), "noexec": (false, BERTH_MS_NOEXEC),
    "sync": (false, BERTH_MS_SYNCHRONOUS), "async": (true, BERTH_MS_SYNCHRONOUS),
    "dirsync": (false, BERTH_MS_DIRSYNC),
    "mand": (false, BERTH_MS_MANDLOCK), "nomand": (true, BERTH_MS_MANDLOCK),
    "atime": (true, BERTH_MS_NOATIME), "noatime": (false, BERTH_MS_NOATIME),
    "diratime": (true, BERTH_MS_NODIRATIME), "nodiratime": (false, BERTH_MS_NODIRATIME),
    "bind": (false, BERTH_MS_BIND), "rbind": (false, BERTH_MS_BIND | BERTH_MS_REC),
    "relatime": (false, BERTH_MS_RELATIME), "norelatime": (true, BERTH_MS_RELATIME),
    "strictatime": (false, BERTH_MS_STRICTATIME), "nostrictatime": (true, BERTH_MS_STRICTATIME),
  ]

  static let propagationTable: [String: UInt] = [
    "private": BERTH_MS_PRIVATE, "rprivate": BERTH_MS_PRIVATE | BERTH_MS_REC,
    "shared": BERTH_MS_SHARED, "rshared": BERTH_MS_SHARED | BERTH_MS_REC,
    "slave": BERTH_MS_SLAVE, "rslave": BERTH_MS_SLAVE | BERTH_MS_REC,
    "unbindable": BERTH_MS_UNBINDABLE, "runbindable": BERTH_MS_UNBINDABLE | BERTH_MS_REC,
  ]
}
