#if canImport(Glibc)
import Glibc
#endif
import BerthOCI
import BerthOS

/// Turns a container's options and its image's config into the OCI runtime spec Docker would
/// hand to runc: Docker's defaults (capabilities, mounts, masked paths, device rules, seccomp
/// profile, sysctls) and Docker's rules for combining flags with the image.
///
/// Reads the container's root filesystem (its /etc/passwd and /etc/group for `--user`) and
/// the host (device numbers for `--device`, every device for `--privileged`); writes nothing.
public enum SpecBuilder {
  /// Docker's PATH when neither the image nor the user sets one.
  public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  /// Where `--init` puts the init binary in the container.
  public static let initPath = "/sbin/docker-init"

  /// Finds the namespace of another container for "container:NAME" modes: given the kind and
  /// NAME, returns a path such as "/proc/<pid>/ns/net" (or throws: not found, not running).
  public typealias NamespaceResolver = (_ type: NamespaceType, _ container: String) throws -> String

  /// Builds the spec.
  ///
  /// - Parameters:
  ///   - options: the container's parsed options.
  ///   - image: the image's config (Entrypoint, Cmd, Env, User, WorkingDir).
  ///   - containerID: 64 hex digits; the default hostname is the first 12, the cgroup
  ///     `<cgroupParent>/<id>`.
  ///   - rootfs: the mounted root filesystem (becomes `root.path`); its /etc/passwd and
  ///     /etc/group are read.
  ///   - mounts: every entry of ``ContainerOptions/mountsToResolve(image:)`` with its host path.
  ///   - hostnamePath, hostsPath, resolvConfPath: files the engine made for the container,
  ///     bound over /etc/hostname, /etc/hosts, /etc/resolv.conf (nil: not mounted; a user mount
  ///     on the same target wins).
  ///   - initBinary: the host's berth-init (`Executables.find("berth-init")`); required with
  ///     `--init`, which runs it as PID 1 (`/sbin/docker-init -- ARGS…`) in front of the command.
  ///   - shmPath: a host directory (a tmpfs the engine mounted) for /dev/shm with `--ipc
  ///     shareable` or `container:NAME`; nil gives the container its own tmpfs.
  ///   - hostname: overrides the hostname (e.g. that of the container whose network is joined).
  ///   - cgroupParent: the parent of the container's cgroup.
  ///   - namespaceResolver: for "container:NAME" pid, ipc and network modes.
  ///   - host: facts about this machine.
  public static func build(
    options: ContainerOptions, image: ImageConfig, containerID: String, rootfs: String,
    mounts: [ResolvedMount] = [], hostnamePath: String? = nil, hostsPath: String? = nil,
    resolvConfPath: String? = nil, initBinary: String? = nil, shmPath: String? = nil, hostname: String? = nil,
    cgroupParent: String = "/berth", namespaceResolver: NamespaceResolver? = nil, host: HostFacts = .current
  ) throws -> Spec {
    let config = image.config ?? ContainerConfig()

    // Process.
    var args = try processArguments(options: options, image: image)
    let resolved = try UserResolver.resolve(
      options.user ?? config.User ?? "", groupAdd: options.groupAdd, rootfs: rootfs)
    let capabilities = CapabilitySet.effective(
      add: options.capAdd, drop: options.capDrop, privileged: options.privileged, lastCapability: host.lastCapability)
    let utsHost = options.utsMode == "host"
    let containerHostname = hostname ?? options.hostname
      ?? (utsHost || options.networkMode == "host" ? host.hostname : String(containerID.prefix(12)))
    var env = environment(options: options, image: image, hostname: containerHostname)
    if !env.contains(where: { $0.hasPrefix("HOME=") }) { env.append("HOME=" + (resolved.home.isEmpty ? "/" : resolved.home)) }
    if options.runInit {
      guard initBinary != nil else {
        throw BerthError(.notFound, "--init: berth-init is not installed next to berth or in PATH")
      }
      args = [initPath, "--"] + args
    }
    var workingDir = options.workingDir ?? ""
    if workingDir.isEmpty { workingDir = config.WorkingDir ?? "" }
    if workingDir.isEmpty { workingDir = "/" }
    var process = Process(
      terminal: options.tty ? true : nil, user: resolved.user, args: args, env: env, cwd: Path.clean(workingDir),
      capabilities: CapabilitySet.spec(capabilities, uid: resolved.user.uid),
      rlimits: options.resources.ulimits.isEmpty ? nil : options.resources.ulimits.map(rlimit),
      noNewPrivileges: options.noNewPrivileges ? true : nil)
    if options.privileged {
      if host.appArmorEnabled { process.apparmorProfile = "unconfined" }
    } else if let profile = options.appArmorProfile, host.appArmorEnabled {
      process.apparmorProfile = profile
    }

    // Linux.
    var linux = Linux()
    linux.namespaces = try namespaces(options: options, resolver: namespaceResolver)
    linux.cgroupsPath = Path.join(cgroupParent, containerID)
    linux.resources = try resources(options: options, host: host)
    let devices = try deviceNodes(options: options)
    linux.devices = devices.nodes.isEmpty ? nil : devices.nodes
    linux.resources?.devices = devices.rules
    linux.sysctl = sysctls(options: options, host: host)
    if !options.privileged {
      if options.unmaskSystemPaths {
        linux.maskedPaths = []
        linux.readonlyPaths = []
      } else {
        linux.maskedPaths = maskedPaths
        linux.readonlyPaths = readonlyPaths
      }
      linux.seccomp = try seccomp(options: options, capabilities: capabilities, host: host)
    }

    var spec = Spec(
      process: process, root: Root(path: rootfs, readonly: options.readOnly ? true : nil),
      hostname: utsHost ? nil : containerHostname,
      domainname: utsHost ? nil : options.domainname, linux: linux)
    try addMounts(
      to: &spec, options: options, mounts: mounts, hostnamePath: hostnamePath, hostsPath: hostsPath,
      resolvConfPath: resolvConfPath, shmPath: shmPath, host: host)
    // Last, so that it wins over a user mount on /sbin; read-only, so that the container
    // cannot replace the host's binary.
    if options.runInit, let initBinary {
      spec.mounts?.append(Mount(destination: initPath, type: "bind", source: initBinary, options: ["bind", "ro"]))
    }
    return spec
  }

  // MARK: Process

  /// Docker's rules: the image's Entrypoint and Cmd; a command replaces the Cmd; any
  /// `--entrypoint` replaces the Entrypoint and drops the image's Cmd (`--entrypoint ""` leaves
  /// only the command). Nothing left is "no command specified".
  public static func processArguments(options: ContainerOptions, image: ImageConfig) throws -> [String] {
    let config = image.config
    let entrypoint: [String], command: [String]
    if let given = options.entrypoint {
      entrypoint = given
      command = options.command ?? []
    } else {
      entrypoint = config?.Entrypoint ?? []
      command = options.command ?? config?.Cmd ?? []
    }
    let args = entrypoint + command
    if args.isEmpty { throw BerthError(.invalidArgument, "no command specified") }
    return args
  }

  /// PATH (Docker's default), HOSTNAME and TERM (with a terminal), then the user's variables
  /// and the image's (the user's win; a bare NAME from the user removes NAME); a variable that
  /// is set again keeps its first place.
  public static func environment(options: ContainerOptions, image: ImageConfig, hostname: String) -> [String] {
    func key(_ entry: String) -> Substring {
      entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
    }
    // Docker's merge of Config.Env: the user's entries, then the image's that the user does not name.
    let userKeys = Set(options.env.map(key))
    let configEnv = options.env + (image.config?.Env ?? []).filter { !userKeys.contains(key($0)) }
    var result = ["PATH=" + defaultPath, "HOSTNAME=" + hostname]
    if options.tty { result.append("TERM=xterm") }
    var removed = Set<Int>()
    for entry in configEnv {
      let name = key(entry)
      let index = result.firstIndex { key($0) == name }
      if !entry.contains("=") {
        if let index { removed.insert(index) }
        continue
      }
      if let index {
        result[index] = entry
        removed.remove(index)
      } else {
        result.append(entry)
      }
    }
    return result.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
  }

  static func rlimit(_ limit: Ulimit) -> POSIXRlimit {
    POSIXRlimit(type: "RLIMIT_" + limit.name.uppercased(), hard: UInt64(bitPattern: limit.hard), soft: UInt64(bitPattern: limit.soft))
  }

  // MARK: Linux

  /// Docker's masked paths.
  public static let maskedPaths = [
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
  ]
  /// Docker's read-only paths.
  public static let readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

  /// Docker's namespaces: mount, network, uts, pid, ipc (and cgroup when private), each new
  /// unless its mode says "host" (left out) or "container:NAME" (joined).
  static func namespaces(options: ContainerOptions, resolver: NamespaceResolver?) throws -> [LinuxNamespace] {
    var result: [LinuxNamespace] = [.mount, .network, .uts, .pid, .ipc].map { LinuxNamespace(type: $0) }
    func apply(_ type: NamespaceType, mode: String, flag: String) throws {
      guard let index = result.firstIndex(where: { $0.type == type }) else { return }
      if mode == "host" {
        result.remove(at: index)
      } else if let name = ContainerOptions.containerReference(mode) {
        guard let resolver else {
          throw BerthError(.invalidState, "\(flag) \(mode): no way to find the namespaces of container \(name)")
        }
        result[index].path = try resolver(type, name)
      }
    }
    try apply(.network, mode: options.networkMode, flag: "--network")
    try apply(.uts, mode: options.utsMode, flag: "--uts")
    try apply(.pid, mode: options.pidMode, flag: "--pid")
    try apply(.ipc, mode: options.ipcMode, flag: "--ipc")
    if options.cgroupnsMode == "private" { result.append(LinuxNamespace(type: .cgroup)) }
    return result
  }

  /// Docker's device cgroup rules: deny everything, then allow mknod of any node and the
  /// default devices (null, zero, full, random, urandom, tty, console, ptmx, ptys, tun).
  public static let defaultDeviceRules: [LinuxDeviceCgroup] = [
    LinuxDeviceCgroup(allow: false, access: "rwm"),
    LinuxDeviceCgroup(allow: true, type: "c", access: "m"),
    LinuxDeviceCgroup(allow: true, type: "b", access: "m"),
    LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 3, access: "rwm"),
    LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 5, access: "rwm"),
    LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 7, access: "rwm"),
    LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 8, access: "rwm"),
    LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 9, access: "rwm"),
    LinuxDeviceCgroup(allow: true, type: "c", major: 5, minor: 0, access: "rwm"),
    LinuxDeviceCgroup(allow: true, type: "c", major: 5, minor: 1, access: "rwm"),
    LinuxDeviceCgroup(allow: true, type: "c", major: 5, minor: 2, access: "rwm"),
    LinuxDeviceCgroup(allow: true, type: "c", major: 136, access: "rwm"),
    LinuxDeviceCgroup(allow: true, type: "c", major: 10, minor: 200, access: "rwm"),
  ]

  /// Memory, CPU and pids limits as Docker writes them.
  static func resources(options: ContainerOptions, host: HostFacts) throws -> LinuxResources {
    let r = options.resources
    var result = LinuxResources()
    var memory = LinuxMemory()
    memory.limit = r.memory
    memory.reservation = r.memoryReservation
    if let swap = r.memorySwap, swap > 0, host.swapLimitSupported { memory.swap = swap }
    memory.swappiness = r.memorySwappiness.map { UInt64($0) }
    if memory != LinuxMemory() { result.memory = memory }
    var cpu = LinuxCPU()
    if let shares = r.cpuShares {
      guard shares > 0 else { throw BerthError(.invalidArgument, "shares: invalid argument") }
      cpu.shares = UInt64(shares)
    }
    cpu.cpus = r.cpusetCpus
    cpu.mems = r.cpusetMems
    if let nano = r.nanoCPUs, nano > 0 {
      let period: UInt64 = 100_000
      cpu.period = period
      cpu.quota = nano * Int64(period) / 1_000_000_000
    }
    if let period = r.cpuPeriod { cpu.period = UInt64(period) }
    if let quota = r.cpuQuota { cpu.quota = quota }
    if cpu != LinuxCPU() { result.cpu = cpu }
    if let pids = r.pidsLimit, pids > 0 { result.pids = LinuxPids(limit: pids) }
    return result
  }

  /// Docker's sysctls for a container with its own network namespace, then the user's.
  static func sysctls(options: ContainerOptions, host: HostFacts) -> [String: String]? {
    var result: [String: String] = [:]
    let privateNetwork = options.networkMode != "host" && ContainerOptions.containerReference(options.networkMode) == nil
    if privateNetwork {
      if host.availableSysctls.contains("net.ipv4.ping_group_range") {
        result["net.ipv4.ping_group_range"] = "0 2147483647"
      }
      if host.availableSysctls.contains("net.ipv4.ip_unprivileged_port_start") {
        result["net.ipv4.ip_unprivileged_port_start"] = "0"
      }
    }
    result.merge(options.resources.sysctls) { $1 }
    return result.isEmpty ? nil : result
  }

  /// The seccomp filter: none when privileged or unconfined; else the profile (Docker's
  /// default or the user's) filtered for these capabilities.
  static func seccomp(options: ContainerOptions, capabilities: [String], host: HostFacts) throws -> LinuxSeccomp? {
    let profile: DockerSeccompProfile.Document
    do {
      switch options.seccompProfile {
      case "unconfined": return nil
      case nil: profile = try DockerSeccompProfile.defaultDocument()
      case let text?: profile = try DockerSeccompProfile.decode(text)
      }
      return try DockerSeccompProfile.filter(profile, capabilities: capabilities, host: host)
    } catch {
      throw BerthError(.invalidArgument, "seccomp profile: \(error.text)")
    }
  }
}
