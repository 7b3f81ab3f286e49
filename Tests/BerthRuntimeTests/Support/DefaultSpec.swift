import BerthOCI
import Foundation

/// BerthOCI's `Process`, not Foundation's.
typealias OCIProcess = BerthOCI.Process

/// The configuration every test starts from: what `runc spec` writes (decoded into BerthOCI's
/// `Spec`), with the changes a non-interactive test needs.
///
/// Differences from `runc spec` (see `FixtureTests.defaultSpecMatchesRuncSpec`):
/// - `process.terminal` is false (stdio are the test's files; console tests turn it on);
/// - `root.readonly` is false (most tests write /tmp; the readonly test turns it on);
/// - a cgroup namespace is added;
/// - `linux.cgroupsPath` is set to a unique "/berth-test/<id>" so leak checks can find it;
/// - `ociVersion` is the version this package implements.
enum DefaultSpec {
  static let capabilities = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

  static let maskedPaths = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
  ]

  static let readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

  static let mounts: [Mount] = [
    Mount(destination: "/proc", type: "proc", source: "proc"),
    Mount(
      destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
    Mount(
      destination: "/dev/pts", type: "devpts", source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
    Mount(
      destination: "/dev/shm", type: "tmpfs", source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
    Mount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
    Mount(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
    Mount(
      destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup",
      options: ["nosuid", "noexec", "nodev", "relatime", "ro"]),
  ]

  /// `runc spec`, exactly (ociVersion aside).
  static func runcSpec() -> Spec {
    Spec(
      ociVersion: OCIVersion.current,
      process: OCIProcess(
        terminal: true, user: User(uid: 0, gid: 0), args: ["sh"],
        env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"], cwd: "/",
        capabilities: LinuxCapabilities(
          bounding: capabilities, effective: capabilities, permitted: capabilities, ambient: capabilities),
        rlimits: [POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)], noNewPrivileges: true),
      root: Root(path: "rootfs", readonly: true),
      hostname: "runc",
      mounts: mounts,
      linux: Linux(
        resources: LinuxResources(devices: [LinuxDeviceCgroup(allow: false, access: "rwm")]),
        namespaces: [
          LinuxNamespace(type: .pid), LinuxNamespace(type: .network), LinuxNamespace(type: .ipc),
          LinuxNamespace(type: .uts), LinuxNamespace(type: .mount),
        ],
        maskedPaths: maskedPaths, readonlyPaths: readonlyPaths))
  }

  /// The tests' starting point.
  static func make(args: [String], cgroupsPath: String) -> Spec {
    var spec = runcSpec()
    spec.process?.terminal = false
    spec.process?.args = args
    spec.root?.readonly = false
    spec.hostname = "berth-test"
    spec.linux?.namespaces?.append(LinuxNamespace(type: .cgroup))
    spec.linux?.cgroupsPath = cgroupsPath
    return spec
  }

  static func encode<T: Encodable>(_ value: T) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(value)
  }
}
