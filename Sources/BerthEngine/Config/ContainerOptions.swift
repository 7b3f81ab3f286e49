import BerthNetwork
import BerthOCI

/// Everything `berth create` / `berth run` can say about a container, parsed and validated:
/// Docker's `Config` and `HostConfig` in one value.
///
/// Stored as JSON with the container (and decoded leniently: a field missing from an older
/// record takes its default), reused by `start` and restarts, shown by `inspect`. Build one with
/// ``parse(_:image:command:host:lookupEnvironment:workingDirectory:)``; turn it into a runtime
/// spec with ``SpecBuilder``.
public struct ContainerOptions: Codable, Sendable, Equatable {
  /// The image as the user typed it ("busybox", "localhost:5000/app:1").
  public var image: String
  /// `--name`.
  public var name: String?
  /// The arguments after the image; nil when there were none (the image's Cmd applies).
  public var command: [String]?
  /// `--entrypoint`: nil keeps the image's; `[]` (from `--entrypoint ""`) clears it; Docker
  /// takes the flag as one word, so otherwise one element. Any `--entrypoint` drops the image's Cmd.
  public var entrypoint: [String]?
  /// `-e` and `--env-file`, in order ("K=V"; a bare "K" removes K from the image's environment).
  public var env: [String] = []
  /// `-w`: absolute.
  public var workingDir: String?
  /// `-u`: "uid[:gid]" or "name[:group]", resolved in the container's /etc/passwd at start.
  public var user: String?
  /// `--group-add`: group names or numbers.
  public var groupAdd: [String] = []
  /// `-h`.
  public var hostname: String?
  /// `--domainname`.
  public var domainname: String?
  /// `-l` and `--label-file`.
  public var labels: [String: String] = [:]
  /// `--read-only`.
  public var readOnly = false
  /// `-t`.
  public var tty = false
  /// `-i`.
  public var openStdin = false
  /// `-a`: "stdin", "stdout", "stderr" (lowercased); empty means Docker's default (stdout and
  /// stderr, plus stdin with `-i`).
  public var attach: [String] = []
  /// `--rm`.
  public var autoRemove = false
  /// `-d`.
  public var detach = false
  /// `-v`, `--mount` and `--tmpfs`, in that order.
  public var mounts: [MountRequest] = []
  /// Memory, CPU, pids, ulimits, /dev/shm, sysctls, devices.
  public var resources = Resources()
  /// `--cap-add`: "CAP_NAME" or "ALL".
  public var capAdd: [String] = []
  /// `--cap-drop`: "CAP_NAME" or "ALL".
  public var capDrop: [String] = []
  /// `--privileged`.
  public var privileged = false
  /// `--security-opt` as given, except that `seccomp=FILE` holds the file's JSON (as Docker keeps
  /// it: the profile is read once, at create).
  public var securityOpts: [String] = []
  /// `no-new-privileges`.
  public var noNewPrivileges = false
  /// nil: Docker's default profile; "unconfined": no filter; otherwise a profile's JSON text.
  public var seccompProfile: String?
  /// `apparmor=PROFILE` (only accepted on hosts with AppArmor, or "unconfined").
  public var appArmorProfile: String?
  /// `systempaths=unconfined`: no masked or read-only /proc and /sys paths.
  public var unmaskSystemPaths = false
  /// `--init`: run the init binary as PID 1 in front of the command.
  public var runInit = false
  /// `--restart`.
  public var restartPolicy = RestartPolicy()
  /// The healthcheck flags as Docker records them: nil when none was given; `Test: ["NONE"]`
  /// for `--no-healthcheck`. Merge with the image's through ``effectiveHealthcheck(image:)``.
  public var healthcheck: HealthcheckConfig?
  /// `--stop-signal` as given ("SIGTERM", "9").
  public var stopSignal: String?
  /// `--stop-timeout`, seconds.
  public var stopTimeout: Int?
  /// `--pid`: "" (private), "host", "container:NAME".
  public var pidMode = ""
  /// `--ipc`: "private" (Docker's default), "shareable", "host", "none", "container:NAME".
  public var ipcMode = "private"
  /// `--uts`: "" or "host".
  public var utsMode = ""
  /// `--cgroupns`: "private" or "host"; the default follows the host (private on cgroup v2).
  public var cgroupnsMode = "private"
  /// `--network` as Docker's HostConfig.NetworkMode: "bridge" (the default), "none", "host",
  /// "container:NAME", or the first user network's name.
  public var networkMode = "bridge"
  /// Kept for records written before Berth had networks (then "bridge" meant loopback only);
  /// always nil now.
  public var networkNote: String?
  /// The networks the container joins at start, in order (eth0, eth1...): every `--network`
  /// that names a network ("bridge" included); the first carries `--ip`, `--mac-address` and
  /// `--network-alias`. Empty for none, host and container:NAME. `network connect` and
  /// `disconnect` change it.
  public var networks: [EndpointRequest] = []
  /// `--dns`, `--dns-search`, `--dns-option`.
  public var dns: [String] = []
  public var dnsSearch: [String] = []
  public var dnsOptions: [String] = []
  /// `--add-host` as given ("name:ip", "name:host-gateway").
  public var extraHosts: [String] = []
  /// `-p`, parsed; a host port of 0 is chosen (free) at each start of a fresh network namespace.
  public var publish: [PortMapping] = []
  /// `-P`: the image's EXPOSEd ports and `--expose` on free host ports.
  public var publishAll = false
  /// `--expose` ("80/tcp").
  public var expose: [String] = []
  /// `--runtime`: a name or an absolute path; nil for Berth's default.
  public var runtime: String?
  /// `--cidfile`: where to write the container's ID.
  public var cidfile: String?
  /// `--log-driver` and `--log-opt`.
  public var logConfig = LogConfig()

  public init(image: String) {
    self.image = image
  }

  /// Docker's resources: what `HostConfig.Resources` holds, with sizes in bytes.
  public struct Resources: Codable, Sendable, Equatable {
    /// `-m`: bytes; nil for no limit.
    public var memory: Int64?
    /// `--memory-swap`: memory plus swap in bytes, -1 for unlimited swap. Docker's default
    /// (twice the memory limit) is filled in when `-m` is given alone.
    public var memorySwap: Int64?
    /// `--memory-reservation`: bytes.
    public var memoryReservation: Int64?
    /// `--memory-swappiness`: 0...100.
    public var memorySwappiness: Int64?
    /// `--cpus` × 10⁹.
    public var nanoCPUs: Int64?
    /// `-c, --cpu-shares`.
    public var cpuShares: Int64?
    /// `--cpu-period`, microseconds.
    public var cpuPeriod: Int64?
    /// `--cpu-quota`, microseconds.
    public var cpuQuota: Int64?
    /// `--cpuset-cpus` ("0-2,4").
    public var cpusetCpus: String?
    /// `--cpuset-mems`.
    public var cpusetMems: String?
    /// `--pids-limit`: nil (or never zero or negative) for no limit.
    public var pidsLimit: Int64?
    /// `--ulimit`, sorted by name; none means the container inherits Berth's own limits.
    public var ulimits: [Ulimit] = []
    /// `--shm-size`: bytes of the /dev/shm tmpfs (Docker's default 64 MiB).
    public var shmSize: Int64 = ContainerOptions.defaultShmSize
    /// `--sysctl`.
    public var sysctls: [String: String] = [:]
    /// `--device`.
    public var devices: [DeviceMapping] = []

    public init() {}
  }

  /// Docker's default size of /dev/shm: 64 MiB.
  public static let defaultShmSize: Int64 = 64 << 20
}

/// One `--ulimit` (values as Docker keeps them: -1 is unlimited).
public struct Ulimit: Codable, Sendable, Equatable {
  /// "nofile", "nproc", ...
  public var name: String
  public var soft: Int64
  public var hard: Int64

  public init(name: String, soft: Int64, hard: Int64) {
    self.name = name
    self.soft = soft
    self.hard = hard
  }

  /// The names Docker accepts ("as" is left out, as Docker does).
  public static let names: Set<String> = [
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
    "rtprio", "rttime", "sigpending", "stack",
  ]
}

/// One `--device HOST[:CONTAINER][:PERMISSIONS]`.
public struct DeviceMapping: Codable, Sendable, Equatable {
  public var pathOnHost: String
  public var pathInContainer: String
  /// Some of "rwm".
  public var cgroupPermissions: String

  public init(pathOnHost: String, pathInContainer: String, cgroupPermissions: String = "rwm") {
    self.pathOnHost = pathOnHost
    self.pathInContainer = pathInContainer
    self.cgroupPermissions = cgroupPermissions
  }
}

/// `--restart`: "no", "always", "unless-stopped", "on-failure" (with a maximum retry count).
public struct RestartPolicy: Codable, Sendable, Equatable {
  public var name: String
  public var maximumRetryCount: Int

  public init(name: String = "no", maximumRetryCount: Int = 0) {
    self.name = name
    self.maximumRetryCount = maximumRetryCount
  }

  public var isNone: Bool { name == "no" || name.isEmpty }
}

/// `--log-driver` and `--log-opt`.
public struct LogConfig: Codable, Sendable, Equatable {
  /// "json-file" (the default) or "none".
  public var type: String
  public var config: [String: String]

  public init(type: String = "json-file", config: [String: String] = [:]) {
    self.type = type
    self.config = config
  }
}

// MARK: Lenient decoding

extension ContainerOptions {
  private enum CodingKeys: String, CodingKey {
    case image, name, command, entrypoint, env, workingDir, user, groupAdd, hostname, domainname, labels
    case readOnly, tty, openStdin, attach, autoRemove, detach, mounts, resources, capAdd, capDrop, privileged
    case securityOpts, noNewPrivileges, seccompProfile, appArmorProfile, unmaskSystemPaths, runInit
    case restartPolicy, healthcheck, stopSignal, stopTimeout, pidMode, ipcMode, utsMode, cgroupnsMode
    case networkMode, networkNote, runtime, cidfile, logConfig
    case networks, dns, dnsSearch, dnsOptions, extraHosts, publish, publishAll, expose
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    let defaults = ContainerOptions(image: "")
    image = try c.decode(String.self, forKey: .image)
    name = try c.decodeIfPresent(String.self, forKey: .name)
    command = try c.decodeIfPresent([String].self, forKey: .command)
    entrypoint = try c.decodeIfPresent([String].self, forKey: .entrypoint)
    env = try c.decodeIfPresent([String].self, forKey: .env) ?? defaults.env
    workingDir = try c.decodeIfPresent(String.self, forKey: .workingDir)
    user = try c.decodeIfPresent(String.self, forKey: .user)
    groupAdd = try c.decodeIfPresent([String].self, forKey: .groupAdd) ?? defaults.groupAdd
    hostname = try c.decodeIfPresent(String.self, forKey: .hostname)
    domainname = try c.decodeIfPresent(String.self, forKey: .domainname)
    labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? defaults.labels
    readOnly = try c.decodeIfPresent(Bool.self, forKey: .readOnly) ?? defaults.readOnly
    tty = try c.decodeIfPresent(Bool.self, forKey: .tty) ?? defaults.tty
    openStdin = try c.decodeIfPresent(Bool.self, forKey: .openStdin) ?? defaults.openStdin
    attach = try c.decodeIfPresent([String].self, forKey: .attach) ?? defaults.attach
    autoRemove = try c.decodeIfPresent(Bool.self, forKey: .autoRemove) ?? defaults.autoRemove
    detach = try c.decodeIfPresent(Bool.self, forKey: .detach) ?? defaults.detach
    mounts = try c.decodeIfPresent([MountRequest].self, forKey: .mounts) ?? defaults.mounts
    resources = try c.decodeIfPresent(Resources.self, forKey: .resources) ?? defaults.resources
    capAdd = try c.decodeIfPresent([String].self, forKey: .capAdd) ?? defaults.capAdd
    capDrop = try c.decodeIfPresent([String].self, forKey: .capDrop) ?? defaults.capDrop
    privileged = try c.decodeIfPresent(Bool.self, forKey: .privileged) ?? defaults.privileged
    securityOpts = try c.decodeIfPresent([String].self, forKey: .securityOpts) ?? defaults.securityOpts
    noNewPrivileges = try c.decodeIfPresent(Bool.self, forKey: .noNewPrivileges) ?? defaults.noNewPrivileges
    seccompProfile = try c.decodeIfPresent(String.self, forKey: .seccompProfile)
    appArmorProfile = try c.decodeIfPresent(String.self, forKey: .appArmorProfile)
    unmaskSystemPaths = try c.decodeIfPresent(Bool.self, forKey: .unmaskSystemPaths) ?? defaults.unmaskSystemPaths
    runInit = try c.decodeIfPresent(Bool.self, forKey: .runInit) ?? defaults.runInit
    restartPolicy = try c.decodeIfPresent(RestartPolicy.self, forKey: .restartPolicy) ?? defaults.restartPolicy
    healthcheck = try c.decodeIfPresent(HealthcheckConfig.self, forKey: .healthcheck)
    stopSignal = try c.decodeIfPresent(String.self, forKey: .stopSignal)
    stopTimeout = try c.decodeIfPresent(Int.self, forKey: .stopTimeout)
    pidMode = try c.decodeIfPresent(String.self, forKey: .pidMode) ?? defaults.pidMode
    ipcMode = try c.decodeIfPresent(String.self, forKey: .ipcMode) ?? defaults.ipcMode
    utsMode = try c.decodeIfPresent(String.self, forKey: .utsMode) ?? defaults.utsMode
    cgroupnsMode = try c.decodeIfPresent(String.self, forKey: .cgroupnsMode) ?? defaults.cgroupnsMode
    networkMode = try c.decodeIfPresent(String.self, forKey: .networkMode) ?? defaults.networkMode
    networkNote = try c.decodeIfPresent(String.self, forKey: .networkNote)
    // A record from before networks: its "bridge" (or a named mode) is the network it joins.
    networks = try c.decodeIfPresent([EndpointRequest].self, forKey: .networks)
      ?? (Self.joinsNetworks(networkMode) ? [EndpointRequest(network: networkMode)] : [])
    dns = try c.decodeIfPresent([String].self, forKey: .dns) ?? []
    dnsSearch = try c.decodeIfPresent([String].self, forKey: .dnsSearch) ?? []
    dnsOptions = try c.decodeIfPresent([String].self, forKey: .dnsOptions) ?? []
    extraHosts = try c.decodeIfPresent([String].self, forKey: .extraHosts) ?? []
    publish = try c.decodeIfPresent([PortMapping].self, forKey: .publish) ?? []
    publishAll = try c.decodeIfPresent(Bool.self, forKey: .publishAll) ?? false
    expose = try c.decodeIfPresent([String].self, forKey: .expose) ?? []
    runtime = try c.decodeIfPresent(String.self, forKey: .runtime)
    cidfile = try c.decodeIfPresent(String.self, forKey: .cidfile)
    logConfig = try c.decodeIfPresent(LogConfig.self, forKey: .logConfig) ?? defaults.logConfig
  }
}

extension ContainerOptions.Resources {
  private enum CodingKeys: String, CodingKey {
    case memory, memorySwap, memoryReservation, memorySwappiness, nanoCPUs, cpuShares, cpuPeriod, cpuQuota
    case cpusetCpus, cpusetMems, pidsLimit, ulimits, shmSize, sysctls, devices
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init()
    memory = try c.decodeIfPresent(Int64.self, forKey: .memory)
    memorySwap = try c.decodeIfPresent(Int64.self, forKey: .memorySwap)
    memoryReservation = try c.decodeIfPresent(Int64.self, forKey: .memoryReservation)
    memorySwappiness = try c.decodeIfPresent(Int64.self, forKey: .memorySwappiness)
    nanoCPUs = try c.decodeIfPresent(Int64.self, forKey: .nanoCPUs)
    cpuShares = try c.decodeIfPresent(Int64.self, forKey: .cpuShares)
    cpuPeriod = try c.decodeIfPresent(Int64.self, forKey: .cpuPeriod)
    cpuQuota = try c.decodeIfPresent(Int64.self, forKey: .cpuQuota)
    cpusetCpus = try c.decodeIfPresent(String.self, forKey: .cpusetCpus)
    cpusetMems = try c.decodeIfPresent(String.self, forKey: .cpusetMems)
    pidsLimit = try c.decodeIfPresent(Int64.self, forKey: .pidsLimit)
    ulimits = try c.decodeIfPresent([Ulimit].self, forKey: .ulimits) ?? []
    shmSize = try c.decodeIfPresent(Int64.self, forKey: .shmSize) ?? ContainerOptions.defaultShmSize
    sysctls = try c.decodeIfPresent([String: String].self, forKey: .sysctls) ?? [:]
    devices = try c.decodeIfPresent([DeviceMapping].self, forKey: .devices) ?? []
  }
}

// MARK: What the engine derives from the options

extension ContainerOptions {
  /// The healthcheck to run: the flags over the image's HEALTHCHECK, field by field, as Docker
  /// merges them; nil when there is none or it is disabled (`--no-healthcheck`, `NONE`).
  public func effectiveHealthcheck(image: ImageConfig) -> HealthcheckConfig? {
    let fromImage = image.config?.Healthcheck
    var result: HealthcheckConfig
    if let healthcheck {
      result = healthcheck
      if let fromImage {
        if (result.Test ?? []).isEmpty { result.Test = fromImage.Test }
        if (result.Interval ?? 0) == 0 { result.Interval = fromImage.Interval }
        if (result.Timeout ?? 0) == 0 { result.Timeout = fromImage.Timeout }
        if (result.StartPeriod ?? 0) == 0 { result.StartPeriod = fromImage.StartPeriod }
        if (result.StartInterval ?? 0) == 0 { result.StartInterval = fromImage.StartInterval }
        if (result.Retries ?? 0) == 0 { result.Retries = fromImage.Retries }
      }
    } else if let fromImage {
      result = fromImage
    } else {
      return nil
    }
    guard let kind = result.Test?.first, kind != "NONE" else { return nil }
    return result
  }

  /// The signal that stops the container: `--stop-signal`, else the image's STOPSIGNAL, else
  /// SIGTERM.
  public func effectiveStopSignal(image: ImageConfig) -> String {
    if let stopSignal, !stopSignal.isEmpty { return stopSignal }
    if let fromImage = image.config?.StopSignal, !fromImage.isEmpty { return fromImage }
    return "SIGTERM"
  }

  /// Whether a network mode names networks to join ("bridge" or a user network), rather than
  /// none, host or another container's namespace.
  public static func joinsNetworks(_ mode: String) -> Bool {
    !(mode == "none" || mode == "host" || mode.hasPrefix("container:"))
  }

  /// Whether the container gets a network namespace of Berth's making (joined to networks).
  public var hasOwnNetwork: Bool { Self.joinsNetworks(networkMode) }

  /// Seconds between the stop signal and SIGKILL: `--stop-timeout`, else Docker's 10.
  public var effectiveStopTimeout: Int { stopTimeout ?? 10 }

  /// The mounts the engine must resolve to host paths before ``SpecBuilder`` runs: the user's,
  /// then an anonymous volume for each VOLUME of the image that no user mount covers (Docker
  /// creates those at create time).
  public func mountsToResolve(image: ImageConfig) -> [MountRequest] {
    var result = mounts
    let taken = Set(mounts.map(\.target))
    for path in (image.config?.Volumes ?? [:]).keys.sorted() {
      let target = normalizedPath(path)
      if taken.contains(target) { continue }
      result.append(MountRequest(type: .volume, source: nil, target: target, raw: target, origin: .image))
    }
    return result
  }
}
