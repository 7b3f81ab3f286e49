#if canImport(Glibc)
import Glibc
#endif
import BerthJSON
import BerthOCI
import BerthOS
import BerthSeccomp

enum SpecCommand {
  static func run(_ arguments: [String], _ context: CommandContext) throws -> Int32 {
    let flags = try FlagParser.parse(arguments, specs: [.value("bundle", "b"), .bool("rootless")])
    let bundle = Path.absolute(flags.value("bundle") ?? ".")
    guard FS.isDirectory(bundle) else {
      throw BerthError(.notFound, "--bundle: \(bundle) is not a directory")
    }
    let path = Path.join(bundle, "config.json")
    if FS.exists(path) { throw BerthError(.alreadyExists, "File config.json exists. Remove it first.") }
    let spec = try flags.bool("rootless") ? DefaultSpec.rootless(uid: getuid(), gid: getgid()) : DefaultSpec.make()
    try FS.write(path, try JSON.encode(spec, options: .prettyPrinted) + [UInt8(ascii: "\n")], mode: 0o666 & ~0o022)
    return 0
  }
}

/// The config.json `spec` writes: runc's defaults (a shell in a busybox-like rootfs).
enum DefaultSpec {
  static let capabilities = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

  static func make() -> Spec {
    Spec(
      process: Process(
        terminal: true, user: User(uid: 0, gid: 0), args: ["sh"],
        env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"], cwd: "/",
        capabilities: LinuxCapabilities(
          bounding: capabilities, effective: capabilities, permitted: capabilities, ambient: capabilities),
        rlimits: [POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)], noNewPrivileges: true),
      root: Root(path: "rootfs", readonly: true),
      hostname: "berth",
      mounts: [
        Mount(destination: "/proc", type: "proc", source: "proc"),
        Mount(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        Mount(destination: "/dev/pts", type: "devpts", source: "devpts",
              options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        Mount(destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        Mount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
        Mount(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
        Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"]),
      ],
      linux: Linux(
        resources: LinuxResources(devices: [LinuxDeviceCgroup(allow: false, access: "rwm")]),
        namespaces: [.pid, .network, .ipc, .uts, .mount, .cgroup].map { LinuxNamespace(type: $0) },
        maskedPaths: [
          "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
          "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
        ],
        readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]))
  }

  /// For an unprivileged user: a user namespace mapping them to root, the host's network,
  /// /sys bound from the host, no devpts gid and no device cgroup rules.
  static func rootless(uid: uid_t, gid: gid_t) -> Spec {
    var spec = make()
    spec.linux?.resources = nil
    spec.linux?.namespaces = [.pid, .ipc, .uts, .mount, .cgroup, .user].map { LinuxNamespace(type: $0) }
    spec.linux?.uidMappings = [IDMapping(containerID: 0, hostID: uid, size: 1)]
    spec.linux?.gidMappings = [IDMapping(containerID: 0, hostID: gid, size: 1)]
    spec.mounts = spec.mounts?.compactMap { mount in
      var mount = mount
      if mount.destination == "/sys" {
        return Mount(destination: "/sys", type: "none", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"])
      }
      if mount.destination == "/sys/fs/cgroup" { return nil }
      mount.options = mount.options?.filter { !$0.hasPrefix("gid=") }
      return mount
    }
    return spec
  }
}

enum FeaturesCommand {
  static func run(_ arguments: [String], _ context: CommandContext) throws -> Int32 {
    _ = try FlagParser.parse(arguments, specs: [])
    let features = Features(
      ociVersionMin: OCIVersion.minimum, ociVersionMax: OCIVersion.current,
      hooks: ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
      mountOptions: MountOptions.recognized.filter { $0 != "idmap" && $0 != "ridmap" },
      linux: Features.Linux(
        namespaces: NamespaceType.allCases.map(\.rawValue),
        capabilities: Capabilities.all,
        cgroup: Features.Cgroup(v1: true, v2: true, systemd: false, systemdUser: false, rdma: true),
        seccomp: Seccomp.features(),
        apparmor: Features.Enabled(enabled: true),
        selinux: Features.Enabled(enabled: false),
        intelRdt: Features.Enabled(enabled: false),
        mountExtensions: Features.MountExtensions(idmap: Features.Enabled(enabled: false))),
      annotations: ["io.github.berth.runtime.version": RuntimeCLI.version])
    print(try JSON.encodeString(features, options: .prettyPrinted))
    return 0
  }
}
