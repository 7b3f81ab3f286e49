#if canImport(Glibc)
import Glibc
#endif
import BerthOCI
import BerthOS
import BerthSeccomp
import CLinux

/// Checks config.json and turns it into a `LaunchPlan`. Every error names the field at fault.
struct PlanBuilder {
  var spec: Spec
  var bundle: String
  var containerID: String
  var noPivot = false
  var newKeyring = true
  var preserveFDs = 0
  /// Where compiled seccomp filters are cached (nil: always compile).
  var seccompCache: SeccompCache?

  func invalid(_ field: String, _ message: String) -> BerthError {
    BerthError(.invalidArgument, "\(field): \(message)")
  }

  /// Validates what does not depend on the host (so `create` fails before touching anything).
  func build(execFifoPath: String?, consoleSocketFD: Int32?, execStubFD: Int32) throws -> LaunchPlan {
    try checkVersion()
    guard let root = spec.root else {
      throw invalid("root", "missing: config.json must give the root file system's path (root.path)")
    }
    let rootfs = root.path.hasPrefix("/") ? Path.clean(root.path) : Path.clean(Path.join(bundle, root.path))
    guard FS.isDirectory(rootfs) else {
      throw invalid("root.path", "\(rootfs) does not exist or is not a directory")
    }
    let linux = spec.linux ?? Linux()
    let namespaces = try namespacePlan(linux)
    guard let process = spec.process else {
      throw invalid("process", "missing: config.json must say which process to run")
    }
    let processPlan = try ProcessPlanBuilder(field: "process", process: process).build(
      personality: linux.personality, preserveFDs: preserveFDs)
    let mounts = try mountPlans(namespaces: namespaces)
    let propagation = try rootPropagation(linux.rootfsPropagation)
    if spec.hostname != nil && !namespaces.isNew(.uts) {
      throw invalid("hostname", "set, but the container shares the host's UTS namespace: add a \"uts\" namespace")
    }
    if spec.domainname != nil && !namespaces.isNew(.uts) {
      throw invalid("domainname", "set, but the container shares the host's UTS namespace: add a \"uts\" namespace")
    }
    let sysctls = try sysctlPlan(linux.sysctl ?? [:], namespaces: namespaces)
    try checkSecurityLabels(process: process, linux: linux)
    var seccompPlan: SeccompPlan?
    if let seccomp = linux.seccomp {
      seccompPlan = SeccompPlan(
        program: try seccompCache?.program(for: seccomp) ?? Seccomp.compile(seccomp), listenerPath: seccomp.listenerPath,
        listenerMetadata: seccomp.listenerMetadata)
    }
    return LaunchPlan(
      containerID: containerID, bundle: bundle, rootfs: rootfs, spec: spec,
      namespaces: namespaces, process: processPlan, mounts: mounts,
      devices: try devicePlans(linux.devices ?? []),
      devIsMounted: mounts.contains { Path.clean($0.destination) == "/dev" },
      hasDevpts: mounts.contains { $0.type == "devpts" },
      rootPropagation: propagation, readonlyRoot: root.readonly ?? false, noPivot: noPivot, newKeyring: newKeyring,
      hostname: spec.hostname, domainname: spec.domainname, sysctls: sysctls,
      maskedPaths: try containerPaths(linux.maskedPaths, field: "linux.maskedPaths"),
      readonlyPaths: try containerPaths(linux.readonlyPaths, field: "linux.readonlyPaths"),
      hooks: spec.hooks ?? Hooks(), execFifoPath: execFifoPath, consoleSocketFD: consoleSocketFD,
      execStubFD: execStubFD, seccomp: seccompPlan)
  }

  func checkVersion() throws {
    let major = spec.ociVersion.split(separator: ".").first.flatMap { Int($0) }
    guard major == 1 else {
      throw invalid("ociVersion", "\(quoted(spec.ociVersion)) is not supported: berth-runtime reads versions \(OCIVersion.minimum) to \(OCIVersion.current)")
    }
  }

  // MARK: namespaces

  func namespacePlan(_ linux: Linux) throws -> NamespacePlan {
    var plan = NamespacePlan()
    var seen = Set<NamespaceType>()
    for (index, namespace) in (linux.namespaces ?? []).enumerated() {
      let field = "linux.namespaces[\(index)]"
      guard seen.insert(namespace.type).inserted else {
        throw invalid("linux.namespaces", "\(quoted(namespace.type.rawValue)) is listed twice")
      }
      if let path = namespace.path, !path.isEmpty {
        guard path.hasPrefix("/") else { throw invalid("\(field).path", "must be absolute, got \(quoted(path))") }
        guard FS.exists(path) else { throw invalid("\(field).path", "\(path) does not exist") }
        plan.join.append((namespace.type, path))
      } else if namespace.type == .time {
        plan.newTime = true
      } else {
        plan.cloneFlags |= NamespacePlan.flag(namespace.type)
      }
    }
    // The user namespace is joined first: the others may belong to it.
    plan.join.sort { ($0.type == .user ? 0 : 1) < ($1.type == .user ? 0 : 1) }
    guard plan.hasMountNamespace else {
      throw invalid("linux.namespaces", "berth-runtime needs a mount namespace: add {\"type\": \"mount\"}")
    }
    plan.uidMappings = linux.uidMappings ?? []
    plan.gidMappings = linux.gidMappings ?? []
    if plan.isNew(.user) {
      if plan.uidMappings.isEmpty {
        throw invalid("linux.uidMappings", "required with a new user namespace (map at least the container's root)")
      }
      if plan.gidMappings.isEmpty {
        throw invalid("linux.gidMappings", "required with a new user namespace (map at least the container's root group)")
      }
    } else if !plan.uidMappings.isEmpty || !plan.gidMappings.isEmpty {
      let field = plan.uidMappings.isEmpty ? "linux.gidMappings" : "linux.uidMappings"
      throw invalid(field, "set, but there is no new user namespace in linux.namespaces")
    }
    for (field, mappings) in [("linux.uidMappings", plan.uidMappings), ("linux.gidMappings", plan.gidMappings)] {
      for (index, mapping) in mappings.enumerated() where mapping.size == 0 {
        throw invalid("\(field)[\(index)].size", "must be at least 1")
      }
    }
    if let offsets = linux.timeOffsets, !offsets.isEmpty {
      guard plan.newTime else {
        throw invalid("linux.timeOffsets", "set, but there is no new time namespace in linux.namespaces")
      }
      for key in offsets.keys where key != "monotonic" && key != "boottime" {
        throw invalid("linux.timeOffsets", "unknown clock \(quoted(key)): use \"monotonic\" or \"boottime\"")
      }
      plan.timeOffsets = offsets
    }
    if plan.joins(.user) {
      if plan.newTime || plan.isNew(.pid) {
        throw invalid("linux.namespaces", "joining a user namespace together with a new pid or time namespace is not supported yet")
      }
      plan.unshareAfterUserJoin = plan.cloneFlags
      plan.cloneFlags = 0
    }
    return plan
  }

  // MARK: mounts

  func mountPlans(namespaces: NamespacePlan) throws -> [MountPlan] {
    var plans: [MountPlan] = []
    for (index, mount) in (spec.mounts ?? []).enumerated() {
      let field = "mounts[\(index)]"
      guard mount.destination.hasPrefix("/") else {
        throw invalid("\(field).destination", "must be an absolute path in the container, got \(quoted(mount.destination))")
      }
      let options = MountOptions.parse(mount.options ?? [])
      let type = mount.type ?? ""
      var source = mount.source ?? ""
      let kind: MountPlan.Kind
      if type == "bind" || options.isBind {
        kind = .bind
        guard !source.isEmpty else { throw invalid("\(field).source", "required for a bind mount") }
        if !source.hasPrefix("/") { source = Path.join(bundle, source) }
        guard FS.exists(source) else { throw invalid("\(field).source", "\(source) does not exist") }
      } else if type == "cgroup" || type == "cgroup2" {
        kind = .cgroup
      } else {
        guard !type.isEmpty else {
          throw invalid("\(field).type", "required (such as \"tmpfs\" or \"proc\") unless the options say \"bind\"")
        }
        kind = .filesystem
      }
      if options.idmap {
        guard kind == .bind else { throw invalid("\(field).options", "\"idmap\" works only on bind mounts") }
        guard namespaces.inUserNamespace || !(mount.uidMappings ?? []).isEmpty else {
          throw invalid("\(field).options", "\"idmap\" needs uidMappings on the mount or a user namespace")
        }
      }
      plans.append(MountPlan(
        kind: kind, source: source, destination: Path.clean(mount.destination), type: type,
        options: options, index: index))
    }
    return plans
  }

  func rootPropagation(_ value: String?) throws -> UInt {
    guard let value, !value.isEmpty else { return BERTH_MS_SLAVE | BERTH_MS_REC }
    guard let flag = MountOptions.propagationOptions[value] else {
      throw invalid("linux.rootfsPropagation", "unknown propagation \(quoted(value)): use private, slave, shared, unbindable or their r- forms")
    }
    return flag
  }

  func containerPaths(_ paths: [String]?, field: String) throws -> [String] {
    try (paths ?? []).enumerated().map { index, path in
      guard path.hasPrefix("/") else { throw invalid("\(field)[\(index)]", "must be absolute, got \(quoted(path))") }
      return Path.clean(path)
    }
  }

  // MARK: devices

  /// The devices every container gets (runtime-spec "Default Devices"), then the configured ones.
  static let defaultDevices: [DevicePlan] = [
    DevicePlan(path: "/dev/null", type: UInt32(S_IFCHR), major: 1, minor: 3, mode: 0o666, uid: 0, gid: 0),
    DevicePlan(path: "/dev/zero", type: UInt32(S_IFCHR), major: 1, minor: 5, mode: 0o666, uid: 0, gid: 0),
    DevicePlan(path: "/dev/full", type: UInt32(S_IFCHR), major: 1, minor: 7, mode: 0o666, uid: 0, gid: 0),
    DevicePlan(path: "/dev/random", type: UInt32(S_IFCHR), major: 1, minor: 8, mode: 0o666, uid: 0, gid: 0),
    DevicePlan(path: "/dev/urandom", type: UInt32(S_IFCHR), major: 1, minor: 9, mode: 0o666, uid: 0, gid: 0),
    DevicePlan(path: "/dev/tty", type: UInt32(S_IFCHR), major: 5, minor: 0, mode: 0o666, uid: 0, gid: 0),
  ]

  func devicePlans(_ devices: [LinuxDevice]) throws -> [DevicePlan] {
    var plans = PlanBuilder.defaultDevices
    for (index, device) in devices.enumerated() {
      let field = "linux.devices[\(index)]"
      let path = Path.clean(device.path)
      guard path.hasPrefix("/dev/") else {
        throw invalid("\(field).path", "must be under /dev, got \(quoted(device.path))")
      }
      let type: UInt32
      switch device.type {
      case "c", "u": type = UInt32(S_IFCHR)
      case "b": type = UInt32(S_IFBLK)
      case "p": type = UInt32(S_IFIFO)
      default: throw invalid("\(field).type", "unknown device type \(quoted(device.type)): use \"c\", \"b\", \"u\" or \"p\"")
      }
      var major: UInt = 0, minor: UInt = 0
      if type != UInt32(S_IFIFO) {
        guard let configuredMajor = device.major, let configuredMinor = device.minor,
              configuredMajor >= 0, configuredMinor >= 0 else {
          throw invalid(field, "a \(device.type) device needs non-negative major and minor numbers")
        }
        major = UInt(configuredMajor)
        minor = UInt(configuredMinor)
      }
      let plan = DevicePlan(
        path: path, type: type, major: major, minor: minor, mode: (device.fileMode ?? 0o666) & 0o7777,
        uid: device.uid ?? 0, gid: device.gid ?? 0)
      plans.removeAll { $0.path == path }
      plans.append(plan)
    }
    return plans
  }

  // MARK: sysctl

  func sysctlPlan(_ sysctls: [String: String], namespaces: NamespacePlan) throws -> [(key: String, value: String)] {
    var result: [(key: String, value: String)] = []
    for key in sysctls.keys.sorted() {
      let value = sysctls[key] ?? ""
      let field = "linux.sysctl[\(quoted(key))]"
      guard !key.contains(".."), !key.hasPrefix("/"), !key.isEmpty else { throw invalid(field, "not a sysctl name") }
      let ipc = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
                 "kernel.shmmni", "kernel.shm_rmid_forced"]
      if ipc.contains(key) || key.hasPrefix("fs.mqueue.") {
        guard namespaces.isNew(.ipc) || namespaces.joins(.ipc) else {
          throw invalid(field, "needs an IPC namespace of the container's own")
        }
      } else if key.hasPrefix("net.") {
        guard namespaces.isNew(.network) || namespaces.joins(.network) else {
          throw invalid(field, "needs a network namespace of the container's own; it would change the host")
        }
      } else if key == "kernel.hostname" || key == "kernel.domainname" {
        guard namespaces.isNew(.uts) else { throw invalid(field, "needs a UTS namespace of the container's own") }
      } else {
        throw invalid(field, "not a namespaced sysctl: setting it would change the host")
      }
      guard !value.contains("\n") else { throw invalid(field, "the value must be one line") }
      result.append((key, value))
    }
    return result
  }

  // MARK: security modules

  func checkSecurityLabels(process: Process, linux: Linux) throws {
    if let profile = process.apparmorProfile, !profile.isEmpty, !HostSecurity.appArmorEnabled {
      throw BerthError(.unsupported, "process.apparmorProfile: \(quoted(profile)) requested, but AppArmor is not enabled on this host")
    }
    if let label = process.selinuxLabel, !label.isEmpty, !HostSecurity.seLinuxEnabled {
      throw BerthError(.unsupported, "process.selinuxLabel: \(quoted(label)) requested, but SELinux is not enabled on this host")
    }
    if let label = linux.mountLabel, !label.isEmpty, !HostSecurity.seLinuxEnabled {
      throw BerthError(.unsupported, "linux.mountLabel: \(quoted(label)) requested, but SELinux is not enabled on this host")
    }
    if let rdt = linux.intelRdt, rdt != IntelRdt(), !FS.exists("/sys/fs/resctrl/schemata") {
      throw BerthError(.unsupported, "linux.intelRdt: Intel RDT (resctrl) is not available on this host")
    }
  }
}

/// Which Linux security modules this host runs.
enum HostSecurity {
  static var appArmorEnabled: Bool {
    (try? FS.readText("/sys/module/apparmor/parameters/enabled", trimmingNewline: true)) == "Y"
  }
  static var seLinuxEnabled: Bool { FS.exists("/sys/fs/selinux/enforce") }
}
