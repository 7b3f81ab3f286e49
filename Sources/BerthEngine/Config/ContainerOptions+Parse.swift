#if canImport(Glibc)
import Glibc
#endif
import BerthJSON
import BerthOCI
import BerthOS

/// The `create`/`run` flags as typed, before any checking: what the command line hands to
/// ``ContainerOptions/parse(_:image:command:host:lookupEnvironment:workingDirectory:)``.
/// nil (or empty) means the flag was not given.
public struct ContainerFlagValues: Sendable, Equatable {
  public var name: String?
  public var env: [String] = []
  public var envFiles: [String] = []
  public var entrypoint: String?
  public var workdir: String?
  public var user: String?
  public var groupAdd: [String] = []
  public var hostname: String?
  public var domainname: String?
  public var labels: [String] = []
  public var labelFiles: [String] = []
  public var readOnly = false
  public var tty = false
  public var interactive = false
  public var attach: [String] = []
  public var autoRemove = false
  public var detach = false
  public var volumes: [String] = []
  public var mounts: [String] = []
  public var tmpfs: [String] = []
  public var memory: String?
  public var memorySwap: String?
  public var memoryReservation: String?
  public var memorySwappiness: String?
  public var cpus: String?
  public var cpuShares: String?
  public var cpuPeriod: String?
  public var cpuQuota: String?
  public var cpusetCpus: String?
  public var cpusetMems: String?
  public var pidsLimit: String?
  public var ulimits: [String] = []
  public var shmSize: String?
  public var sysctls: [String] = []
  public var devices: [String] = []
  public var capAdd: [String] = []
  public var capDrop: [String] = []
  public var privileged = false
  public var securityOpts: [String] = []
  public var runInit = false
  public var restart: String?
  public var healthCmd: String?
  public var healthInterval: String?
  public var healthTimeout: String?
  public var healthStartPeriod: String?
  public var healthStartInterval: String?
  public var healthRetries: String?
  public var noHealthcheck = false
  public var stopSignal: String?
  public var stopTimeout: String?
  public var pid: String?
  public var ipc: String?
  public var uts: String?
  public var cgroupns: String?
  /// `--network`, each time it is given.
  public var networks: [String] = []
  public var networkAliases: [String] = []
  public var ip: String?
  public var macAddress: String?
  public var dns: [String] = []
  public var dnsSearch: [String] = []
  public var dnsOptions: [String] = []
  public var addHosts: [String] = []
  public var publish: [String] = []
  public var publishAll = false
  public var expose: [String] = []
  public var runtime: String?
  public var cidfile: String?
  public var logDriver: String?
  public var logOpts: [String] = []

  public init() {}
}

extension ContainerOptions {

  /// Checks and converts the flags as Docker's CLI and daemon do, failing with Docker's message
  /// for the first bad value (`BerthError.invalidArgument`; the command line exits 125).
  ///
  /// - Parameters:
  ///   - image: the image argument as typed.
  ///   - command: the arguments after the image (empty: the image's Cmd).
  ///   - host: what this machine offers (CPUs, cgroup layout, LSMs).
  ///   - lookupEnvironment: the caller's environment, for `-e NAME` and bare names in env files.
  ///   - workingDirectory: where relative paths (`-v ./data:/data`, env files) start.
  public static func parse(
    _ flags: ContainerFlagValues, image: String, command: [String] = [], host: HostFacts = .current,
    lookupEnvironment: (String) -> String? = { name in getenv(name).map { String(cString: $0) } },
    workingDirectory: String = Path.absolute(".")
  ) throws(BerthError) -> ContainerOptions {
    do {
      return try parseMessages(
        flags, image: image, command: command, host: host, lookupEnvironment: lookupEnvironment,
        workingDirectory: workingDirectory)
    } catch {
      throw BerthError(.invalidArgument, error.text)
    }
  }

  // swiftlint:disable:next function_body_length cyclomatic_complexity
  private static func parseMessages(
    _ flags: ContainerFlagValues, image: String, command: [String], host: HostFacts,
    lookupEnvironment: (String) -> String?, workingDirectory: String
  ) throws(BerthErrorMessage) -> ContainerOptions {
    var options = ContainerOptions(image: image)
    func invalid(_ value: String, _ long: String, _ short: Character? = nil, _ reason: String) -> BerthErrorMessage {
      FlagSyntax.invalidArgument(value, long: long, short: short, reason)
    }
    func absolute(_ path: String) -> String {
      path.hasPrefix("/") ? Path.clean(path) : Path.clean(Path.join(workingDirectory, path))
    }

    // Values checked while flags are read (pflag's Set): "invalid argument ... flag: ...".
    var env: [String] = []
    for value in flags.env {
      let key = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
      if key.isEmpty { throw invalid(value, "env", "e", "invalid environment variable: \(value)") }
      if value.contains("=") { env.append(value) }
      else if let found = lookupEnvironment(value) { env.append(value + "=" + found) }
      else { env.append(value) }
    }
    var labels: [String] = []
    for value in flags.labels {
      let key = String(value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0])
        .drop { $0 == " " || $0 == "\t" }
      if key.isEmpty { throw invalid(value, "label", "l", "invalid label '\(value)': empty name") }
      if key.contains(where: { $0 == " " || $0 == "\t" }) {
        throw invalid(value, "label", "l", "label '\(key)' contains whitespaces")
      }
      labels.append(value)
    }
    for value in flags.attach where !["stdin", "stdout", "stderr"].contains(value.lowercased()) {
      throw invalid(value, "attach", "a", "valid streams are STDIN, STDOUT and STDERR")
    }
    options.attach = flags.attach.map { $0.lowercased() }

    func duration(_ value: String?, _ long: String) throws(BerthErrorMessage) -> Int64 {
      guard let value else { return 0 }
      do { return try FlagSyntax.goDuration(value) } catch { throw invalid(value, long, nil, error.text) }
    }

    let memory = try FlagSyntax.sizeFlag(flags.memory, long: "memory", short: "m")
    let memoryReservation = try FlagSyntax.sizeFlag(flags.memoryReservation, long: "memory-reservation")
    var memorySwap: Int64?
    if let value = flags.memorySwap {
      if value == "-1" { memorySwap = -1 } else { memorySwap = try FlagSyntax.sizeFlag(value, long: "memory-swap") }
    }
    let swappiness = try FlagSyntax.integerFlag(flags.memorySwappiness, long: "memory-swappiness")
    let shmSize = try FlagSyntax.sizeFlag(flags.shmSize, long: "shm-size")
    let nanoCPUs = try FlagSyntax.cpusFlag(flags.cpus)
    let cpuShares = try FlagSyntax.integerFlag(flags.cpuShares, long: "cpu-shares", short: "c")
    let cpuPeriod = try FlagSyntax.integerFlag(flags.cpuPeriod, long: "cpu-period")
    let cpuQuota = try FlagSyntax.integerFlag(flags.cpuQuota, long: "cpu-quota")
    let pidsLimit = try FlagSyntax.integerFlag(flags.pidsLimit, long: "pids-limit")
    let stopTimeout = try FlagSyntax.integerFlag(flags.stopTimeout, long: "stop-timeout")
    let healthRetries = try FlagSyntax.integerFlag(flags.healthRetries, long: "health-retries")
    let healthInterval = try duration(flags.healthInterval, "health-interval")
    let healthTimeout = try duration(flags.healthTimeout, "health-timeout")
    let healthStartPeriod = try duration(flags.healthStartPeriod, "health-start-period")
    let healthStartInterval = try duration(flags.healthStartInterval, "health-start-interval")

    var ulimits: [String: Ulimit] = [:]
    for value in flags.ulimits {
      do {
        let limit = try parseUlimit(value)
        ulimits[limit.name] = limit
      } catch { throw invalid(value, "ulimit", nil, error.text) }
    }
    var sysctls: [String: String] = [:]
    for value in flags.sysctls {
      let parts = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
      guard parts.count == 2, !parts[0].isEmpty, isNamespacedSysctl(parts[0]) else {
        throw invalid(value, "sysctl", nil, "sysctl '\(value)' is not allowed")
      }
      sysctls[parts[0]] = parts[1]
    }
    var mountRequests: [MountRequest] = []
    var mountFlagRequests: [MountRequest] = []
    for value in flags.mounts {
      mountFlagRequests.append(try MountParsing.parseMountFlag(value, workingDirectory: workingDirectory))
    }

    // The rest: docker/cli's parse(), then the daemon's checks.
    if let swappiness, swappiness != -1, !(0...100).contains(swappiness) {
      throw BerthErrorMessage("invalid value: \(swappiness). Valid memory swappiness range is 0-100")
    }
    for value in flags.volumes {
      mountRequests.append(try MountParsing.parseVolumeFlag(value, workingDirectory: workingDirectory))
    }
    var devices: [DeviceMapping] = []
    for value in flags.devices { devices.append(try parseDevice(value)) }

    var envFromFiles: [String] = []
    for file in flags.envFiles {
      envFromFiles += try readKeyValueFile(absolute(file), shownAs: file, lookup: lookupEnvironment)
    }
    options.env = envFromFiles + env
    var labelsFromFiles: [String] = []
    for file in flags.labelFiles {
      labelsFromFiles += try readKeyValueFile(absolute(file), shownAs: file, lookup: { _ in nil })
    }
    for value in labelsFromFiles + labels {
      let parts = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
      options.labels[parts[0]] = parts.count > 1 ? parts[1] : ""
    }

    let pidMode = flags.pid ?? ""
    if !(pidMode.isEmpty || pidMode == "host" || isContainerMode(pidMode)) { throw BerthErrorMessage("--pid: invalid PID mode") }
    let utsMode = flags.uts ?? ""
    if !(utsMode.isEmpty || utsMode == "host") { throw BerthErrorMessage("--uts: invalid UTS mode") }
    var cgroupnsMode = flags.cgroupns ?? ""
    if !(cgroupnsMode.isEmpty || cgroupnsMode == "host" || cgroupnsMode == "private") {
      throw BerthErrorMessage("--cgroupns: invalid CGROUP mode")
    }
    if cgroupnsMode.isEmpty { cgroupnsMode = host.cgroupMode == .v2 ? "private" : "host" }

    let restartPolicy = try parseRestartPolicy(flags.restart)

    var logConfig = LogConfig(type: flags.logDriver.flatMap { $0.isEmpty ? nil : $0 } ?? "json-file")
    for value in flags.logOpts {
      let parts = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
      logConfig.config[parts[0]] = parts.count > 1 ? parts[1] : ""
    }
    if logConfig.type == "none" && !flags.logOpts.isEmpty {
      throw BerthErrorMessage("invalid logging opts for driver none")
    }

    let security = try parseSecurityOptions(flags.securityOpts, host: host, shownPath: absolute)

    // Healthcheck.
    let haveHealthSettings = flags.healthCmd.map { !$0.isEmpty } ?? false || healthInterval != 0 || healthTimeout != 0
      || healthStartPeriod != 0 || healthStartInterval != 0 || (healthRetries ?? 0) != 0
    if flags.noHealthcheck {
      if haveHealthSettings { throw BerthErrorMessage("--no-healthcheck conflicts with --health-* options") }
      options.healthcheck = HealthcheckConfig(Test: ["NONE"])
    } else if haveHealthSettings {
      if healthInterval < 0 { throw BerthErrorMessage("--health-interval cannot be negative") }
      if healthTimeout < 0 { throw BerthErrorMessage("--health-timeout cannot be negative") }
      if (healthRetries ?? 0) < 0 { throw BerthErrorMessage("--health-retries cannot be negative") }
      if healthStartPeriod < 0 { throw BerthErrorMessage("--health-start-period cannot be negative") }
      if healthStartInterval < 0 { throw BerthErrorMessage("--health-start-interval cannot be negative") }
      let minimum: Int64 = 1_000_000
      if healthInterval != 0 && healthInterval < minimum { throw BerthErrorMessage("Interval in Healthcheck cannot be less than 1ms") }
      if healthTimeout != 0 && healthTimeout < minimum { throw BerthErrorMessage("Timeout in Healthcheck cannot be less than 1ms") }
      if healthStartPeriod != 0 && healthStartPeriod < minimum { throw BerthErrorMessage("StartPeriod in Healthcheck cannot be less than 1ms") }
      if healthStartInterval != 0 && healthStartInterval < minimum { throw BerthErrorMessage("StartInterval in Healthcheck cannot be less than 1ms") }
      var check = HealthcheckConfig()
      if let cmd = flags.healthCmd, !cmd.isEmpty { check.Test = ["CMD-SHELL", cmd] }
      if healthInterval != 0 { check.Interval = healthInterval }
      if healthTimeout != 0 { check.Timeout = healthTimeout }
      if healthStartPeriod != 0 { check.StartPeriod = healthStartPeriod }
      if healthStartInterval != 0 { check.StartInterval = healthStartInterval }
      if let healthRetries, healthRetries != 0 { check.Retries = Int(healthRetries) }
      options.healthcheck = check
    }

    if flags.autoRemove && !restartPolicy.isNone {
      throw BerthErrorMessage("Conflicting options: --restart and --rm")
    }

    // Daemon checks.
    if let workdir = flags.workdir, !workdir.isEmpty {
      guard workdir.hasPrefix("/") else {
        throw BerthErrorMessage("the working directory '\(workdir)' is invalid, it needs to be an absolute path")
      }
      options.workingDir = Path.clean(workdir)
    }
    if let signal = flags.stopSignal, !signal.isEmpty {
      do { _ = try Signals.parse(signal) } catch { throw BerthErrorMessage("Invalid signal: \(signal)") }
      options.stopSignal = signal
    }
    let ipcMode = flags.ipc.flatMap { $0.isEmpty ? nil : $0 } ?? "private"
    guard ["private", "shareable", "host", "none"].contains(ipcMode) || isContainerMode(ipcMode) else {
      throw BerthErrorMessage("invalid IPC mode: \(ipcMode)")
    }
    let network = try parseNetworkFlags(flags)
    let networkMode = network.mode
    if let hostname = flags.hostname, !hostname.isEmpty {
      if utsMode == "host" { throw BerthErrorMessage("conflicting options: hostname and the UTS mode") }
      if isContainerMode(networkMode) { throw BerthErrorMessage("conflicting options: hostname and the network mode") }
      try validateHostname(hostname)
    }
    for (name, _) in sysctls.sorted(by: { $0.key < $1.key }) {
      if networkMode == "host" && name.hasPrefix("net.") {
        throw BerthErrorMessage("sysctl \(FlagSyntax.goQuote(name)) not allowed in host network namespace")
      }
      if ipcMode == "host" && isIPCSysctl(name) {
        throw BerthErrorMessage("sysctl \(FlagSyntax.goQuote(name)) not allowed in host IPC namespace")
      }
    }

    // Resources, as the daemon checks them.
    if let memory, memory != 0, memory < 6 * 1024 * 1024 {
      throw BerthErrorMessage("Minimum memory limit allowed is 6MB")
    }
    if let memorySwap, memorySwap > 0 {
      if (memory ?? 0) == 0 { throw BerthErrorMessage("You should always set the Memory limit when using Memoryswap limit, see usage") }
      if let memory, memorySwap < memory {
        throw BerthErrorMessage("Minimum memoryswap limit should be larger than memory limit, see usage")
      }
    }
    if let memoryReservation, memoryReservation != 0 {
      if memoryReservation < 6 * 1024 * 1024 { throw BerthErrorMessage("Minimum memory reservation allowed is 6MB") }
      if let memory, memory > 0, memory < memoryReservation {
        throw BerthErrorMessage("Minimum memory limit can not be less than memory reservation limit, see usage")
      }
    }
    if let nanoCPUs, nanoCPUs != 0 {
      if (cpuPeriod ?? 0) > 0 { throw BerthErrorMessage("Conflicting options: Nano CPUs and CPU Period cannot both be set") }
      if (cpuQuota ?? 0) > 0 { throw BerthErrorMessage("Conflicting options: Nano CPUs and CPU Quota cannot both be set") }
      if nanoCPUs < 0 || nanoCPUs > Int64(host.cpuCount) * 1_000_000_000 {
        throw BerthErrorMessage(
          "range of CPUs is from 0.01 to \(host.cpuCount).00, as there are only \(host.cpuCount) CPUs available")
      }
    }
    if let cpuPeriod, cpuPeriod != 0, cpuPeriod < 1000 || cpuPeriod > 1_000_000 {
      throw BerthErrorMessage("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    }
    if let cpuQuota, cpuQuota > 0, cpuQuota < 1000 {
      throw BerthErrorMessage("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    }
    if let cpus = flags.cpusetCpus, !cpus.isEmpty {
      guard let wanted = CPUList.parse(cpus) else { throw BerthErrorMessage("Invalid value \(cpus) for cpuset cpus") }
      guard wanted.isSubset(of: CPUList.parse(host.onlineCPUs) ?? []) else {
        throw BerthErrorMessage("Requested CPUs are not available - requested \(cpus), available: \(host.onlineCPUs)")
      }
    }
    if let mems = flags.cpusetMems, !mems.isEmpty {
      guard let wanted = CPUList.parse(mems) else { throw BerthErrorMessage("Invalid value \(mems) for cpuset mems") }
      guard wanted.isSubset(of: CPUList.parse(host.memoryNodes) ?? []) else {
        throw BerthErrorMessage("Requested memory nodes are not available - requested \(mems), available: \(host.memoryNodes)")
      }
    }
    if let shmSize, shmSize < 0 { throw BerthErrorMessage("SHM size can not be less than 0") }
    if let stopTimeout, stopTimeout < Int64(Int32.min) || stopTimeout > Int64(Int32.max) {
      throw invalid(flags.stopTimeout ?? "", "stop-timeout", nil, "strconv.ParseInt: parsing \(FlagSyntax.goQuote(flags.stopTimeout ?? "")): value out of range")
    }

    // Capabilities: Docker's names, with or without CAP_, any case; "ALL".
    options.capAdd = try normalizeCapabilities(flags.capAdd)
    options.capDrop = try normalizeCapabilities(flags.capDrop)

    // Logging.
    switch logConfig.type {
    case "json-file":
      try validateJSONFileOptions(logConfig.config)
    case "none":
      break
    default:
      throw BerthErrorMessage(
        "logger: no log driver named '\(logConfig.type)' is registered (Berth has json-file and none)")
    }

    // Mounts: -v and --mount must not share a target; a --tmpfs target wins over both.
    var targets = Set<String>()
    for request in mountRequests + mountFlagRequests {
      if !targets.insert(request.target).inserted { throw BerthErrorMessage("Duplicate mount point: \(request.target)") }
    }
    var tmpfsByTarget: [String: MountRequest] = [:]
    var tmpfsOrder: [String] = []
    for value in flags.tmpfs {
      let request = try MountParsing.parseTmpfsFlag(value)
      if tmpfsByTarget[request.target] == nil { tmpfsOrder.append(request.target) }
      tmpfsByTarget[request.target] = request
    }
    options.mounts = (mountRequests + mountFlagRequests).filter { tmpfsByTarget[$0.target] == nil }
      + tmpfsOrder.compactMap { tmpfsByTarget[$0] }

    if let cidfile = flags.cidfile, !cidfile.isEmpty {
      if FS.exists(cidfile) {
        throw BerthErrorMessage("container ID file found, make sure the other container isn't running or delete \(cidfile)")
      }
      options.cidfile = absolute(cidfile)
    }
    if let runtime = flags.runtime, !runtime.isEmpty {
      if runtime.contains("/") && !runtime.hasPrefix("/") {
        throw BerthErrorMessage("unknown or invalid runtime name: \(runtime)")
      }
      options.runtime = runtime
    }
    if let name = flags.name, !name.isEmpty {
      try validateContainerName(name)
      options.name = name
    }

    options.command = command.isEmpty ? nil : command
    if let entrypoint = flags.entrypoint { options.entrypoint = entrypoint.isEmpty ? [] : [entrypoint] }
    options.user = flags.user.flatMap { $0.isEmpty ? nil : $0 }
    options.groupAdd = flags.groupAdd
    options.hostname = flags.hostname.flatMap { $0.isEmpty ? nil : $0 }
    options.domainname = flags.domainname.flatMap { $0.isEmpty ? nil : $0 }
    options.readOnly = flags.readOnly
    options.tty = flags.tty
    options.openStdin = flags.interactive
    options.autoRemove = flags.autoRemove
    options.detach = flags.detach
    options.privileged = flags.privileged
    options.securityOpts = security.opts
    options.noNewPrivileges = security.noNewPrivileges
    options.seccompProfile = security.seccomp
    options.appArmorProfile = security.appArmor
    options.unmaskSystemPaths = security.unmaskSystemPaths
    options.runInit = flags.runInit
    options.restartPolicy = restartPolicy
    options.stopTimeout = stopTimeout.map { Int($0) }
    options.pidMode = pidMode
    options.ipcMode = ipcMode
    options.utsMode = utsMode
    options.cgroupnsMode = cgroupnsMode
    options.networkMode = networkMode
    options.networks = network.networks
    options.dns = network.dns
    options.dnsSearch = flags.dnsSearch
    options.dnsOptions = flags.dnsOptions
    options.extraHosts = network.extraHosts
    options.publish = network.publish
    options.publishAll = flags.publishAll
    options.expose = network.expose
    options.logConfig = logConfig

    var resources = Resources()
    resources.memory = memory.flatMap { $0 == 0 ? nil : $0 }
    resources.memoryReservation = memoryReservation.flatMap { $0 == 0 ? nil : $0 }
    resources.memorySwap = memorySwap.flatMap { $0 == 0 ? nil : $0 }
    if let limit = resources.memory, resources.memorySwap == nil { resources.memorySwap = limit * 2 }
    resources.memorySwappiness = swappiness.flatMap { $0 == -1 ? nil : $0 }
    resources.nanoCPUs = nanoCPUs.flatMap { $0 == 0 ? nil : $0 }
    resources.cpuShares = cpuShares.flatMap { $0 == 0 ? nil : $0 }
    resources.cpuPeriod = cpuPeriod.flatMap { $0 == 0 ? nil : $0 }
    resources.cpuQuota = cpuQuota.flatMap { $0 == 0 ? nil : $0 }
    resources.cpusetCpus = flags.cpusetCpus.flatMap { $0.isEmpty ? nil : $0 }
    resources.cpusetMems = flags.cpusetMems.flatMap { $0.isEmpty ? nil : $0 }
    resources.pidsLimit = pidsLimit.flatMap { $0 <= 0 ? nil : $0 }
    resources.ulimits = ulimits.values.sorted { $0.name < $1.name }
    resources.shmSize = shmSize.flatMap { $0 == 0 ? nil : $0 } ?? defaultShmSize
    resources.sysctls = sysctls
    resources.devices = devices
    options.resources = resources
    return options
  }

  // MARK: Pieces

  static func isContainerMode(_ mode: String) -> Bool {
    mode.hasPrefix("container:") && mode.count > "container:".count
  }

  /// The container named by "container:NAME", or nil.
  public static func containerReference(_ mode: String) -> String? {
    isContainerMode(mode) ? String(mode.dropFirst("container:".count)) : nil
  }

  /// Sysctls Docker lets a container set: namespaced ones only.
  static func isNamespacedSysctl(_ name: String) -> Bool {
    isIPCSysctl(name) || name.hasPrefix("net.")
  }

  static func isIPCSysctl(_ name: String) -> Bool {
    let ipc: Set<String> = [
      "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
      "kernel.shmmni", "kernel.shm_rmid_forced",
    ]
    return ipc.contains(name) || name.hasPrefix("fs.mqueue.")
  }

  /// go-units' ParseUlimit.
  static func parseUlimit(_ value: String) throws(BerthErrorMessage) -> Ulimit {
    let parts = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    guard parts.count == 2 else { throw BerthErrorMessage("invalid ulimit argument: \(value)") }
    guard Ulimit.names.contains(parts[0]) else { throw BerthErrorMessage("invalid ulimit type: \(parts[0])") }
    let limits = parts[1].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    func number(_ text: String) throws(BerthErrorMessage) -> Int64 {
      if text == "infinity" || text == "unlimited" { return -1 }
      guard let value = Int64(text) else {
        let overflow = !text.isEmpty && text.drop { $0 == "-" || $0 == "+" }.allSatisfy { $0.isASCII && $0.isNumber }
          && !(text.drop { $0 == "-" || $0 == "+" }.isEmpty)
        throw BerthErrorMessage("strconv.ParseInt: parsing \(FlagSyntax.goQuote(text)): \(overflow ? "value out of range" : "invalid syntax")")
      }
      return value
    }
    guard limits.count <= 2 else {
      throw BerthErrorMessage("too many limit value arguments - \(parts[1]), can only have up to two, `soft[:hard]`")
    }
    let hard = limits.count == 2 ? try number(limits[1]) : nil
    let soft = try number(limits[0])
    let effectiveHard = hard ?? soft
    if effectiveHard != -1 {
      if soft == -1 {
        throw BerthErrorMessage("ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: \(effectiveHard)")
      }
      if soft > effectiveHard {
        throw BerthErrorMessage("ulimit soft limit must be less than or equal to hard limit: \(soft) > \(effectiveHard)")
      }
    }
    return Ulimit(name: parts[0], soft: soft, hard: effectiveHard)
  }

  /// `--device HOST[:CONTAINER][:PERMISSIONS]`, checked as docker/cli does.
  static func parseDevice(_ value: String) throws(BerthErrorMessage) -> DeviceMapping {
    func validMode(_ mode: String) -> Bool {
      !mode.isEmpty && mode.count == Set(mode).count && mode.allSatisfy { "rwm".contains($0) }
    }
    if value.filter({ $0 == ":" }).count > 2 { throw BerthErrorMessage("bad format for path: \(value)") }
    let parts = value.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    if parts[0].isEmpty { throw BerthErrorMessage("bad format for path: \(value)") }
    let source = parts[0]
    var destination = parts[0], permissions = "rwm"
    switch parts.count {
    case 2:
      if validMode(parts[1]) { permissions = parts[1] } else { destination = parts[1] }
    case 3:
      guard validMode(parts[2]) else { throw BerthErrorMessage("bad mode specified: \(parts[2])") }
      destination = parts[1]
      permissions = parts[2]
    default:
      break
    }
    guard destination.hasPrefix("/") else { throw BerthErrorMessage("\(destination) is not an absolute path") }
    return DeviceMapping(pathOnHost: source, pathInContainer: Path.clean(destination), cgroupPermissions: permissions)
  }

  /// docker/cli's ParseRestartPolicy, then the daemon's checks.
  static func parseRestartPolicy(_ value: String?) throws(BerthErrorMessage) -> RestartPolicy {
    guard let value, !value.isEmpty else { return RestartPolicy() }
    let parts = value.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    if parts.count == 2 && parts[0].isEmpty {
      throw BerthErrorMessage("invalid restart policy format: no policy provided before colon")
    }
    var count = 0
    if parts.count == 2 && !parts[1].isEmpty {
      guard let parsed = Int(parts[1]) else {
        throw BerthErrorMessage("invalid restart policy format: maximum retry count must be an integer")
      }
      count = parsed
    }
    let name = parts[0]
    switch name {
    case "no", "always", "unless-stopped":
      if count != 0 {
        throw BerthErrorMessage(
          "invalid restart policy: maximum retry count can only be used with 'on-failure'" + (count < 0 ? " and cannot be negative" : ""))
      }
    case "on-failure":
      if count < 0 { throw BerthErrorMessage("invalid restart policy: maximum retry count cannot be negative") }
    default:
      throw BerthErrorMessage(
        "invalid restart policy: unknown policy '\(name)'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'")
    }
    return RestartPolicy(name: name, maximumRetryCount: count)
  }

  struct SecurityChoices {
    var opts: [String] = []
    var noNewPrivileges = false
    var seccomp: String?
    var appArmor: String?
    var unmaskSystemPaths = false
  }

  /// `--security-opt`, as docker/cli and the daemon read them.
  static func parseSecurityOptions(
    _ values: [String], host: HostFacts, shownPath: (String) -> String
  ) throws(BerthErrorMessage) -> SecurityChoices {
    var result = SecurityChoices()
    for option in values {
      if option == "systempaths=unconfined" {
        result.unmaskSystemPaths = true
        continue
      }
      if option == "no-new-privileges" {
        result.noNewPrivileges = true
        result.opts.append(option)
        continue
      }
      if option == "disable" {
        result.opts.append(option)
        continue
      }
      var parts = option.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
      if parts.count == 1 {
        guard option.contains(":") else { throw BerthErrorMessage("Invalid --security-opt: \(FlagSyntax.goQuote(option))") }
        parts = option.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
      }
      let (key, value) = (parts[0], parts[1])
      switch key {
      case "seccomp":
        if value == "unconfined" {
          result.seccomp = "unconfined"
          result.opts.append("seccomp=unconfined")
        } else {
          let bytes: [UInt8]
          do { bytes = try FS.read(shownPath(value)) } catch {
            throw BerthErrorMessage("opening seccomp profile (\(value)) failed: open \(value): \(noSuchFileText(error))")
          }
          let compact: String
          do { compact = String(decoding: JSON.serialize(try JSON.parse(bytes)), as: UTF8.self) } catch {
            throw BerthErrorMessage("compacting json for seccomp profile (\(value)) failed: \(error)")
          }
          // Checked now rather than at start, so a bad profile fails `create`.
          do { _ = try DockerSeccompProfile.decode(compact) } catch {
            throw BerthErrorMessage("decoding seccomp profile failed: \(error.text)")
          }
          result.seccomp = compact
          result.opts.append("seccomp=" + compact)
        }
      case "no-new-privileges":
        guard let flag = FlagSyntax.goBool(value) else {
          throw BerthErrorMessage("invalid --security-opt 2: \(FlagSyntax.goQuote(option))")
        }
        result.noNewPrivileges = flag
        result.opts.append(option)
      case "apparmor":
        if value != "unconfined" && !host.appArmorEnabled {
          throw BerthErrorMessage(
            "--security-opt \(option): AppArmor is not enabled on this host, so profile \(FlagSyntax.goQuote(value)) cannot be applied (only apparmor=unconfined is accepted)")
        }
        result.appArmor = value
        result.opts.append(option)
      case "label":
        if value != "disable" && !host.seLinuxEnabled {
          throw BerthErrorMessage(
            "--security-opt \(option): SELinux is not enabled on this host, so labels cannot be applied (only label=disable is accepted)")
        }
        result.opts.append(option)
      default:
        throw BerthErrorMessage("invalid --security-opt 2: \(FlagSyntax.goQuote(option))")
      }
    }
    return result
  }

  private static func noSuchFileText(_ error: any Error) -> String {
    if let error = error as? BerthError, let number = error.errno { return errnoDescription(number).lowercased() }
    return "\(error)"
  }

  /// docker/cli's env and label files: one KEY=VALUE a line; blank lines and lines starting
  /// with "#" are skipped; a bare KEY takes the caller's value when `lookup` has one.
  static func readKeyValueFile(
    _ path: String, shownAs name: String, lookup: (String) -> String?
  ) throws(BerthErrorMessage) -> [String] {
    let bytes: [UInt8]
    do { bytes = try FS.read(path) } catch {
      throw BerthErrorMessage("open \(name): \(noSuchFileText(error))")
    }
    var lines: [String] = []
    let rawLines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    for (index, rawLine) in rawLines.enumerated() {
      var line = Array(rawLine)
      if line.last == UInt8(ascii: "\r") { line.removeLast() }
      guard let text = String(validating: line, as: UTF8.self) else {
        throw BerthErrorMessage(
          "env file \(name) contains invalid utf8 bytes at line \(index + 1): [\(line.map(String.init).joined(separator: " "))]")
      }
      var trimmed = Substring(text)
      if index == 0 && trimmed.hasPrefix("\u{FEFF}") { trimmed = trimmed.dropFirst() }
      trimmed = trimmed.drop { $0.isWhitespace }
      if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
      let parts = trimmed.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      let variable = parts[0].drop { $0 == " " || $0 == "\t" }
      if variable.contains(where: { $0 == " " || $0 == "\t" }) {
        throw BerthErrorMessage("poorly formatted environment: variable '\(variable)' contains whitespaces")
      }
      if variable.isEmpty {
        throw BerthErrorMessage("poorly formatted environment: no variable name on line '\(trimmed)'")
      }
      if parts.count > 1 {
        lines.append("\(variable)=\(parts[1])")
      } else {
        let name = String(trimmed).trimmingWhitespace()
        if let value = lookup(name) { lines.append("\(name)=\(value)") } else { lines.append(name) }
      }
    }
    return lines
  }

  /// Docker's capability names: "ALL", or a known capability with or without "CAP_", any case.
  static func normalizeCapabilities(_ names: [String]) throws(BerthErrorMessage) -> [String] {
    var result: [String] = []
    for name in names {
      let upper = name.uppercased()
      if upper == "ALL" {
        if !result.contains("ALL") { result.append("ALL") }
        continue
      }
      let full = upper.hasPrefix("CAP_") ? upper : "CAP_" + upper
      guard Capabilities.all.contains(full) else {
        throw BerthErrorMessage("unknown capability: \(FlagSyntax.goQuote(full))")
      }
      if !result.contains(full) { result.append(full) }
    }
    return result
  }

  /// json-file's options and their checks.
  static func validateJSONFileOptions(_ config: [String: String]) throws(BerthErrorMessage) {
    let known: Set<String> = ["max-file", "max-size", "compress", "labels", "labels-regex", "env", "env-regex", "tag"]
    for key in config.keys.sorted() where !known.contains(key) {
      throw BerthErrorMessage("unknown log opt '\(key)' for json-file log driver")
    }
    var maxSize: Int64 = -1
    var maxFiles = 1
    if let value = config["max-size"] {
      maxSize = try FlagSyntax.humanSizeInBytes(value)
      if maxSize <= 0 { throw BerthErrorMessage("max-size must be a positive number") }
    }
    if let value = config["max-file"] {
      guard let count = Int(value) else {
        throw BerthErrorMessage("strconv.Atoi: parsing \(FlagSyntax.goQuote(value)): invalid syntax")
      }
      if count < 1 { throw BerthErrorMessage("max-file cannot be less than 1") }
      maxFiles = count
    }
    if let value = config["compress"] {
      guard let compress = FlagSyntax.goBool(value) else {
        throw BerthErrorMessage("strconv.ParseBool: parsing \(FlagSyntax.goQuote(value)): invalid syntax")
      }
      if compress && (maxFiles == 1 || maxSize == -1) {
        throw BerthErrorMessage("compress cannot be true when max-file is less than 2 or max-size is not set")
      }
    }
  }

  /// Docker's rule for container names: `/?[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
  static func validateContainerName(_ name: String) throws(BerthErrorMessage) {
    var bytes = Array(name.utf8)[...]
    if bytes.first == UInt8(ascii: "/") { bytes = bytes.dropFirst() }
    func alnum(_ byte: UInt8) -> Bool { (byte >= 48 && byte <= 57) || (byte | 0x20 >= 97 && byte | 0x20 <= 122) }
    let valid = bytes.count >= 2 && alnum(bytes[bytes.startIndex])
      && bytes.dropFirst().allSatisfy { alnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    if !valid {
      throw BerthErrorMessage("Invalid container name (\(name)), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    }
  }

  /// ``validateContainerName(_:)`` for `rename`: Docker's message, exit 125 on the command line.
  public static func checkContainerName(_ name: String) throws(BerthError) {
    do { try validateContainerName(name) } catch { throw BerthError(.invalidArgument, error.text) }
  }

  /// The kernel takes at most 64 bytes of host name (sethostname(2) would fail at start).
  static func validateHostname(_ name: String) throws(BerthErrorMessage) {
    if name.utf8.count > 64 {
      throw BerthErrorMessage("invalid hostname \(FlagSyntax.goQuote(name)): longer than the kernel's limit of 64 bytes")
    }
  }
}

/// A cpuset list: "0-3,5".
enum CPUList {
  static func parse(_ text: String) -> Set<Int>? {
    var result = Set<Int>()
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
      let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
      guard bounds.count <= 2, let low = Int(bounds[0]), low >= 0 else { return nil }
      let high = bounds.count == 2 ? Int(bounds[1]) : low
      guard let high, high >= low, high - low < 65536 else { return nil }
      result.formUnion(low...high)
    }
    return result
  }
}

extension String {
  /// Without leading and trailing white space (Foundation-free).
  func trimmingWhitespace() -> String {
    String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
  }
}
