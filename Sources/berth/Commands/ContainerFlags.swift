import ArgumentParser
import BerthEngine
import BerthOS

/// The flags `run` and `create` share, spelled as Docker spells them. They are only
/// collected here; ``ContainerOptions/parse(_:image:command:host:lookupEnvironment:workingDirectory:)``
/// checks them with Docker's messages.
struct ContainerFlags: ParsableArguments {
  @Option(help: "Assign a name to the container.") var name: String?
  @Option(name: .shortAndLong, help: "Set environment variables.") var env: [String] = []
  @Option(name: .customLong("env-file"), help: "Read in a file of environment variables.") var envFile: [String] = []
  @Option(help: "Overwrite the default ENTRYPOINT of the image.") var entrypoint: String?
  @Option(name: .shortAndLong, help: "Working directory inside the container.") var workdir: String?
  @Option(name: .shortAndLong, help: "Username or UID (format: <name|uid>[:<group|gid>]).") var user: String?
  @Option(name: .customLong("group-add"), help: "Add additional groups to join.") var groupAdd: [String] = []
  @Option(name: .shortAndLong, help: "Container host name.") var hostname: String?
  @Option(help: "Container NIS domain name.") var domainname: String?
  @Option(name: [.short, .customLong("label")], help: "Set meta data on a container.") var labels: [String] = []
  @Option(name: .customLong("label-file"), help: "Read in a line delimited file of labels.") var labelFile: [String] = []
  @Flag(name: .customLong("read-only"), help: "Mount the container's root filesystem as read only.") var readOnly = false
  @Flag(name: .shortAndLong, help: "Allocate a pseudo-TTY.") var tty = false
  @Flag(name: .shortAndLong, help: "Keep STDIN open even if not attached.") var interactive = false
  @Option(name: .shortAndLong, help: "Attach to STDIN, STDOUT or STDERR.") var attach: [String] = []
  @Flag(help: "Automatically remove the container and its anonymous volumes when it exits.") var rm = false
  @Option(name: [.short, .customLong("volume")], help: "Bind mount a volume.") var volumes: [String] = []
  @Option(help: "Attach a filesystem mount to the container.") var mount: [String] = []
  @Option(help: "Mount a tmpfs directory.") var tmpfs: [String] = []
  @Option(name: .shortAndLong, help: "Memory limit.") var memory: String?
  @Option(name: .customLong("memory-swap"), help: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap.") var memorySwap: String?
  @Option(name: .customLong("memory-reservation"), help: "Memory soft limit.") var memoryReservation: String?
  @Option(name: .customLong("memory-swappiness"), help: "Tune container memory swappiness (0 to 100).") var memorySwappiness: String?
  @Option(help: "Number of CPUs.") var cpus: String?
  @Option(name: [.short, .customLong("cpu-shares")], help: "CPU shares (relative weight).") var cpuShares: String?
  @Option(name: .customLong("cpu-period"), help: "Limit CPU CFS (Completely Fair Scheduler) period.") var cpuPeriod: String?
  @Option(name: .customLong("cpu-quota"), help: "Limit CPU CFS (Completely Fair Scheduler) quota.") var cpuQuota: String?
  @Option(name: .customLong("cpuset-cpus"), help: "CPUs in which to allow execution (0-3, 0,1).") var cpusetCpus: String?
  @Option(name: .customLong("cpuset-mems"), help: "MEMs in which to allow execution (0-3, 0,1).") var cpusetMems: String?
  @Option(name: .customLong("pids-limit"), help: "Tune container pids limit (set -1 for unlimited).") var pidsLimit: String?
  @Option(help: "Ulimit options.") var ulimit: [String] = []
  @Option(name: .customLong("shm-size"), help: "Size of /dev/shm.") var shmSize: String?
  @Option(help: "Sysctl options.") var sysctl: [String] = []
  @Option(help: "Add a host device to the container.") var device: [String] = []
  @Option(name: .customLong("cap-add"), help: "Add Linux capabilities.") var capAdd: [String] = []
  @Option(name: .customLong("cap-drop"), help: "Drop Linux capabilities.") var capDrop: [String] = []
  @Flag(help: "Give extended privileges to this container.") var privileged = false
  @Option(name: .customLong("security-opt"), help: "Security options.") var securityOpt: [String] = []
  @Flag(help: "Run an init inside the container that forwards signals and reaps processes.") var `init` = false
  @Option(help: "Restart policy to apply when a container exits (no, on-failure[:max-retries], always, unless-stopped).") var restart: String?
  @Option(name: .customLong("health-cmd"), help: "Command to run to check health.") var healthCmd: String?
  @Option(name: .customLong("health-interval"), help: "Time between running the check (ms|s|m|h).") var healthInterval: String?
  @Option(name: .customLong("health-timeout"), help: "Maximum time to allow one check to run (ms|s|m|h).") var healthTimeout: String?
  @Option(name: .customLong("health-start-period"), help: "Start period for the container to initialize (ms|s|m|h).") var healthStartPeriod: String?
  @Option(name: .customLong("health-start-interval"), help: "Time between running the check during the start period (ms|s|m|h).") var healthStartInterval: String?
  @Option(name: .customLong("health-retries"), help: "Consecutive failures needed to report unhealthy.") var healthRetries: String?
  @Flag(name: .customLong("no-healthcheck"), help: "Disable any container-specified HEALTHCHECK.") var noHealthcheck = false
  @Option(name: .customLong("stop-signal"), help: "Signal to stop the container.") var stopSignal: String?
  @Option(name: .customLong("stop-timeout"), help: "Timeout (in seconds) to stop a container.") var stopTimeout: String?
  @Option(help: "PID namespace to use.") var pid: String?
  @Option(help: "IPC mode to use.") var ipc: String?
  @Option(help: "UTS namespace to use.") var uts: String?
  @Option(help: "Cgroup namespace to use (host|private).") var cgroupns: String?
  @Option(name: [.customLong("network"), .customLong("net")], help: "Connect a container to a network (bridge, none, host, container:NAME, or a network's name or ID).") var network: [String] = []
  @Option(name: [.customLong("network-alias"), .customLong("net-alias")], help: "Add network-scoped alias for the container.") var networkAlias: [String] = []
  @Option(help: "IPv4 address (e.g., 172.30.100.104).") var ip: String?
  @Option(name: .customLong("mac-address"), help: "Container MAC address (e.g., 92:d0:c6:0a:29:33).") var macAddress: String?
  @Option(help: "Set custom DNS servers.") var dns: [String] = []
  @Option(name: .customLong("dns-search"), help: "Set custom DNS search domains.") var dnsSearch: [String] = []
  @Option(name: [.customLong("dns-option"), .customLong("dns-opt")], help: "Set DNS options.") var dnsOption: [String] = []
  @Option(name: .customLong("add-host"), help: "Add a custom host-to-IP mapping (host:ip).") var addHost: [String] = []
  @Option(help: "Expose a port or a range of ports.") var expose: [String] = []
  @Flag(name: [.customShort("P"), .customLong("publish-all")], help: "Publish all exposed ports to random ports.") var publishAll = false
  @Option(help: "Runtime to use for this container (berth-runtime, runc, or a path).") var runtime: String?
  @Option(help: "Write the container ID to the file.") var cidfile: String?
  @Option(name: .customLong("log-driver"), help: "Logging driver for the container (json-file, none).") var logDriver: String?
  @Option(name: .customLong("log-opt"), help: "Log driver options.") var logOpt: [String] = []
  @Option(name: [.short, .customLong("publish")], help: "Publish a container's port(s) to the host.") var publish: [String] = []
  @Option(help: "Pull image before running (always, missing, never).") var pull = "missing"
  @Option(help: "Set platform if server is multi-platform capable.") var platform: String?

  var values: ContainerFlagValues {
    var values = ContainerFlagValues()
    values.name = name
    values.env = env
    values.envFiles = envFile
    values.entrypoint = entrypoint
    values.workdir = workdir
    values.user = user
    values.groupAdd = groupAdd
    values.hostname = hostname
    values.domainname = domainname
    values.labels = labels
    values.labelFiles = labelFile
    values.readOnly = readOnly
    values.tty = tty
    values.interactive = interactive
    values.attach = attach
    values.autoRemove = rm
    values.volumes = volumes
    values.mounts = mount
    values.tmpfs = tmpfs
    values.memory = memory
    values.memorySwap = memorySwap
    values.memoryReservation = memoryReservation
    values.memorySwappiness = memorySwappiness
    values.cpus = cpus
    values.cpuShares = cpuShares
    values.cpuPeriod = cpuPeriod
    values.cpuQuota = cpuQuota
    values.cpusetCpus = cpusetCpus
    values.cpusetMems = cpusetMems
    values.pidsLimit = pidsLimit
    values.ulimits = ulimit
    values.shmSize = shmSize
    values.sysctls = sysctl
    values.devices = device
    values.capAdd = capAdd
    values.capDrop = capDrop
    values.privileged = privileged
    values.securityOpts = securityOpt
    values.runInit = `init`
    values.restart = restart
    values.healthCmd = healthCmd
    values.healthInterval = healthInterval
    values.healthTimeout = healthTimeout
    values.healthStartPeriod = healthStartPeriod
    values.healthStartInterval = healthStartInterval
    values.healthRetries = healthRetries
    values.noHealthcheck = noHealthcheck
    values.stopSignal = stopSignal
    values.stopTimeout = stopTimeout
    values.pid = pid
    values.ipc = ipc
    values.uts = uts
    values.cgroupns = cgroupns
    values.networks = network
    values.networkAliases = networkAlias
    values.ip = ip
    values.macAddress = macAddress
    values.dns = dns
    values.dnsSearch = dnsSearch
    values.dnsOptions = dnsOption
    values.addHosts = addHost
    values.publish = publish
    values.publishAll = publishAll
    values.expose = expose
    values.runtime = runtime
    values.cidfile = cidfile
    values.logDriver = logDriver
    values.logOpts = logOpt
    return values
  }

  /// Checks what ArgumentParser cannot, with Docker's wording (exit 125).
  func check() throws {
    if !publish.isEmpty && network.first == "host" {
      // Docker's CLI says so and goes on: the host's own ports are the container's.
      writeToStandardError("WARNING: Published ports are discarded when using host network mode\n")
    }
    guard ["always", "missing", "never"].contains(pull) else {
      throw CommandFailure(message: "invalid pull option: '\(pull)': must be one of \"always\", \"missing\" or \"never\"", code: 125)
    }
  }
}

/// `-e` and `--env-file` outside run/create (`exec`), with the same rules.
enum EnvironmentFlags {
  static func merge(env: [String], envFiles: [String]) throws -> [String] {
    var flags = ContainerFlagValues()
    flags.env = env
    flags.envFiles = envFiles
    return try ContainerOptions.parse(flags, image: "scratch").env
  }
}
