import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// One line of /proc/<pid>/mountinfo.
struct MountEntry: Sendable {
  var root: String
  var mountPoint: String
  var mountOptions: [String]
  var fsType: String
  var source: String
  var superOptions: [String]

  /// Per-mount and superblock options together.
  var allOptions: Set<String> { Set(mountOptions + superOptions) }

  /// Parses mountinfo text (as read on the host, or `cat /proc/self/mountinfo` in a container).
  static func parse(_ text: String) -> [MountEntry] {
    text.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: " ").map(String.init)
      guard let dash = fields.firstIndex(of: "-"), dash >= 6, fields.count >= dash + 3 else { return nil }
      return MountEntry(
        root: unescape(fields[3]), mountPoint: unescape(fields[4]),
        mountOptions: fields[5].split(separator: ",").map(String.init), fsType: fields[dash + 1],
        source: unescape(fields[dash + 2]),
        superOptions: fields.count > dash + 3 ? fields[dash + 3].split(separator: ",").map(String.init) : [])
    }
  }

  static func unescape(_ s: String) -> String {
    guard s.contains("\\") else { return s }
    var out = [UInt8]()
    let bytes = Array(s.utf8)
    var i = 0
    while i < bytes.count {
      if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count,
        let v = UInt8(String(decoding: bytes[(i + 1)...(i + 3)], as: UTF8.self), radix: 8)
      {
        out.append(v)
        i += 4
      } else {
        out.append(bytes[i])
        i += 1
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// The host's current mounts.
  static func host() -> [MountEntry] {
    parse((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "")
  }
}

/// The host's cgroup hierarchies.
struct CgroupLayout: Sendable {
  /// Every cgroup (v1) and cgroup2 mount point.
  var mountPoints: [String]
  /// v1 controller name ("memory", "cpu", "name=systemd") → mount point.
  var v1: [String: String]
  /// The cgroup2 mount point, if any.
  var unified: String?

  /// True when the memory controller is on a v1 hierarchy (v1 or hybrid host).
  var isV1: Bool { v1["memory"] != nil }

  static let host = CgroupLayout.detect()

  private static func detect() -> CgroupLayout {
    var layout = CgroupLayout(mountPoints: [], v1: [:], unified: nil)
    for m in MountEntry.host() {
      if m.fsType == "cgroup" {
        layout.mountPoints.append(m.mountPoint)
        for option in m.superOptions where !["rw", "ro", "relatime", "noatime"].contains(option) {
          layout.v1[option] = m.mountPoint
        }
      } else if m.fsType == "cgroup2" {
        layout.mountPoints.append(m.mountPoint)
        if layout.unified == nil { layout.unified = m.mountPoint }
      }
    }
    return layout
  }

  /// The directory of `cgroupsPath` in the hierarchy of `controller` (v1), or in cgroup2.
  func directory(controller: String, cgroupsPath: String) -> String? {
    if let mount = v1[controller] { return mount + cgroupsPath }
    if let unified { return unified + cgroupsPath }
    return nil
  }
}

/// Reads a small file, trimmed; nil when it cannot be read.
func readText(_ path: String) -> String? {
  (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// The target of a symlink such as /proc/<pid>/ns/net ("net:[4026531840]").
func readLink(_ path: String) -> String? {
  try? FileManager.default.destinationOfSymbolicLink(atPath: path)
}

/// A process is gone, or a zombie waiting for its (non-test) parent to reap it.
func processIsGone(_ pid: Int) -> Bool {
  guard let stat = readText("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return true }
  let state = stat[stat.index(close, offsetBy: 2)...].prefix(1)
  return state == "Z" || state == "X"
}

/// Polls `condition` until it holds or `timeout` seconds pass; returns whether it held.
func eventually(timeout: Double = 5, interval: Double = 0.02, _ condition: () async throws -> Bool) async rethrows
  -> Bool
{
  let deadline = Date().addingTimeInterval(timeout)
  while true {
    if try await condition() { return true }
    if Date() > deadline { return false }
    try? await Task.sleep(nanoseconds: UInt64(interval * 1e9))
  }
}

/// The capability numbers the tests use (linux/capability.h).
enum Capability {
  static let numbers: [String: Int] = [
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_FSETID": 4,
    "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
    "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18,
    "CAP_SYS_PTRACE": 19, "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_LEASE": 28,
    "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31, "CAP_MAC_OVERRIDE": 32,
    "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37,
    "CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40,
  ]

  /// The bit mask of a set of capability names, as /proc/<pid>/status prints it.
  static func mask(_ names: [String]?) -> UInt64 {
    (names ?? []).reduce(0) { mask, name in mask | (1 << UInt64(numbers[name] ?? 63)) }
  }
}

/// Parses "Key:\tvalue" lines of /proc/<pid>/status output.
func parseStatus(_ text: String) -> [String: String] {
  var fields: [String: String] = [:]
  for line in text.split(separator: "\n") {
    guard let colon = line.firstIndex(of: ":") else { continue }
    fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
  }
  return fields
}
