import BerthOCI
import BerthOS

/// Docker's capability rules.
public enum CapabilitySet {
  /// What a Docker container gets by default, in Docker's order.
  public static let dockerDefaults = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
  ]

  /// Every capability the running kernel knows that this process may hand on: a root without
  /// some capability in its bounding set (CAP_SYS_RESOURCE on some hosts) cannot give it to a
  /// container, so `--privileged` and `--cap-add ALL` leave it out rather than fail at start.
  public static func all(lastCapability: Int) -> [String] {
    let known = Capabilities.all.prefix(max(0, min(lastCapability + 1, Capabilities.all.count)))
    guard let bounding = ownBoundingSet else { return Array(known) }
    return known.enumerated().filter { bounding & (1 << UInt64($0.offset)) != 0 }.map(\.element)
  }

  /// This process's bounding set (CapBnd in /proc/self/status), nil when unreadable.
  static let ownBoundingSet: UInt64? = {
    guard let status = try? FS.readText("/proc/self/status") else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("CapBnd:") {
      return UInt64(String(line.dropFirst("CapBnd:".count)).trimmingWhitespace(), radix: 16)
    }
    return nil
  }()

  /// The container's capabilities: every one when privileged; else the defaults without
  /// `drop` plus `add`, where `add` ALL means every capability but those dropped, and `drop`
  /// ALL means only those added. Names are normalized ("CAP_X" or "ALL").
  public static func effective(add: [String], drop: [String], privileged: Bool, lastCapability: Int) -> [String] {
    let everything = all(lastCapability: lastCapability)
    if privileged { return everything }
    if add.isEmpty && drop.isEmpty { return dockerDefaults }
    var result: [String]
    if add.contains("ALL") {
      result = everything.filter { !drop.contains($0) }
    } else if drop.contains("ALL") {
      result = add
    } else {
      result = dockerDefaults.filter { !drop.contains($0) } + add
    }
    var seen = Set<String>()
    return result.filter { seen.insert($0).inserted }
  }

  /// The spec's sets for a process of `uid`: root gets the list as bounding, effective and
  /// permitted; other users only the bounding set (what execve would give them), as Docker ≥
  /// 20.10 does. Inheritable and ambient stay empty.
  public static func spec(_ capabilities: [String], uid: UInt32) -> LinuxCapabilities {
    if uid == 0 {
      return LinuxCapabilities(bounding: capabilities, effective: capabilities, permitted: capabilities)
    }
    return LinuxCapabilities(bounding: capabilities)
  }
}
