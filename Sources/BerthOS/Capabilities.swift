/// Linux capabilities by name and number (capabilities(7)).
public enum Capabilities {
  /// Every capability the kernel headers of 2024 define, in number order.
  public static let all: [String] = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON",
    "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
  ]

  /// The number of a capability name ("CAP_SYS_ADMIN" or "SYS_ADMIN", any case).
  public static func number(_ name: String) -> Int? {
    var upper = name.uppercased()
    if !upper.hasPrefix("CAP_") { upper = "CAP_" + upper }
    return all.firstIndex(of: upper)
  }

  /// The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap).
  public static func lastCapability() -> Int {
    if let text = try? FS.readText("/proc/sys/kernel/cap_last_cap", trimmingNewline: true),
       let value = Int(text) {
      return value
    }
    return all.count - 1
  }

  /// A bit set of capabilities from names; unknown names throw, naming `field`.
  public static func mask(_ names: [String]?, field: String) throws -> UInt64 {
    var mask: UInt64 = 0
    for name in names ?? [] {
      guard let bit = number(name) else {
        throw BerthError(.invalidArgument, "\(field): unknown capability \(quoted(name))")
      }
      mask |= 1 << UInt64(bit)
    }
    return mask
  }
}
