import BerthOCI

/// The device cgroup rules a container gets beyond config.json's, as runc adds them: every
/// container may mknod any node (the runtime makes /dev with mknod inside the cgroup) and use
/// the default devices, ptys and tun.
enum DefaultDeviceRules {
  static let always: [LinuxDeviceCgroup] = [
    LinuxDeviceCgroup(allow: true, type: "c", major: nil, minor: nil, access: "m"),
    LinuxDeviceCgroup(allow: true, type: "b", major: nil, minor: nil, access: "m"),
    LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 3, access: "rwm"),  // null
    LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 8, access: "rwm"),  // random
    LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 7, access: "rwm"),  // full
    LinuxDeviceCgroup(allow: true, type: "c", major: 5, minor: 0, access: "rwm"),  // tty
    LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 5, access: "rwm"),  // zero
    LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 9, access: "rwm"),  // urandom
    LinuxDeviceCgroup(allow: true, type: "c", major: 136, minor: nil, access: "rwm"),  // pts/*
    LinuxDeviceCgroup(allow: true, type: "c", major: 5, minor: 2, access: "rwm"),  // ptmx
    LinuxDeviceCgroup(allow: true, type: "c", major: 10, minor: 200, access: "rwm"),  // net/tun
  ]

  /// The rules to apply for a spec: nil when it gives none (the cgroup keeps its parent's
  /// access, allow-all by default); else, starting from allow-all unless the spec starts by
  /// denying everything (runc evaluates rules over the cgroup's current, allow-all state),
  /// the spec's rules, then the defaults.
  static func effective(_ spec: Spec) -> [LinuxDeviceCgroup]? {
    guard let rules = spec.linux?.resources?.devices, !rules.isEmpty else { return nil }
    var result: [LinuxDeviceCgroup] = []
    if let first = rules.first, !(isDenyAll(first)) {
      result.append(LinuxDeviceCgroup(allow: true, type: "a", access: "rwm"))
    }
    result += rules
    // `linux.devices` only makes nodes: access to them is what the rules say (runc agrees;
    // Docker's `--device X:Y:r` relies on it).
    result += always
    return result
  }

  static func isDenyAll(_ rule: LinuxDeviceCgroup) -> Bool {
    !rule.allow && (rule.type == nil || rule.type == "a") && (rule.major ?? -1) < 0 && (rule.minor ?? -1) < 0
  }
}
