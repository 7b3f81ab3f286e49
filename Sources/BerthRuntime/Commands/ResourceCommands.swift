#if canImport(Glibc)
import Glibc
#endif
import BerthCgroups
import BerthJSON
import BerthOCI
import BerthOS

/// Loads a container that must be alive, with its cgroup manager.
func loadRunning(_ id: String, _ context: CommandContext) throws -> (SavedState, any CgroupManager, ContainerStatus) {
  let state = try context.store.load(id)
  let cgroups = try CgroupHost.detect().manager(savedPaths: state.cgroupPaths)
  let status = context.store.status(of: state, cgroups: cgroups)
  guard status != .stopped else { throw BerthError(.invalidState, "container \(quoted(id)) is not running") }
  return (state, cgroups, status)
}

enum PauseCommand {
  static func run(_ arguments: [String], _ context: CommandContext, freeze: Bool) throws -> Int32 {
    let command = freeze ? "pause" : "resume"
    let flags = try FlagParser.parse(arguments, specs: [])
    let id = try flags.requirePositional("CONTAINER_ID", command: command)[0]
    let (_, cgroups, status) = try loadRunning(id, context)
    if freeze {
      guard status == .running || status == .created else {
        throw BerthError(.invalidState, "container \(quoted(id)) is \(status.rawValue), not running")
      }
      try cgroups.freeze()
    } else {
      guard status == .paused else { throw BerthError(.invalidState, "container \(quoted(id)) is not paused") }
      try cgroups.thaw()
    }
    return 0
  }
}

enum PsCommand {
  static func run(_ arguments: [String], _ context: CommandContext) throws -> Int32 {
    let flags = try FlagParser.parse(arguments, specs: [.value("format", "f")])
    let id = try flags.requirePositional("CONTAINER_ID", command: "ps")[0]
    let (_, cgroups, _) = try loadRunning(id, context)
    let pids = try cgroups.processes().sorted()
    let format = flags.value("format") ?? "table"
    if format == "json" {
      print(try JSON.encodeString(pids))
      return 0
    }
    guard format == "table" else { throw UsageError("invalid --format \(quoted(format)): use table or json") }
    // Like runc: run ps(1) with the given options (default -ef) and keep the header and the
    // container's lines.
    let psArgs = flags.positional.count > 1 ? Array(flags.positional.dropFirst()) : ["-ef"]
    let result = try Subprocess.run("/bin/ps", args: ["ps"] + psArgs, env: ["PATH=/usr/bin:/bin"])
    guard result.status == .exited(0) else {
      throw BerthError(.commandFailed, "ps \(psArgs.joined(separator: " ")) failed: \(String(decoding: result.error, as: UTF8.self))")
    }
    let lines = String(decoding: result.output, as: UTF8.self).split(separator: "\n")
    guard let header = lines.first else { return 0 }
    guard let pidColumn = header.split(separator: " ").firstIndex(of: "PID") else {
      throw BerthError(.invalidArgument, "ps output has no PID column: add -o pid or use the default options")
    }
    print(header)
    let wanted = Set(pids)
    for line in lines.dropFirst() {
      let fields = line.split(separator: " ")
      if pidColumn < fields.count, let pid = Int32(fields[pidColumn]), wanted.contains(pid) { print(line) }
    }
    return 0
  }
}

enum UpdateCommand {
  static let flags: [FlagSpec] = [
    .value("resources", "r"), .value("blkio-weight"), .value("cpu-period"), .value("cpu-quota"),
    .value("cpu-share"), .value("cpu-rt-period"), .value("cpu-rt-runtime"), .value("cpuset-cpus"),
    .value("cpuset-mems"), .value("kernel-memory"), .value("kernel-memory-tcp"), .value("memory"),
    .value("memory-reservation"), .value("memory-swap"), .value("pids-limit"), .value("l3-cache-schema"),
    .value("mem-bw-schema"), .value("cpu-idle"), .value("cpu-burst"),
  ]

  static func run(_ arguments: [String], _ context: CommandContext) throws -> Int32 {
    let flags = try FlagParser.parse(arguments, specs: UpdateCommand.flags)
    let id = try flags.requirePositional("CONTAINER_ID", command: "update")[0]
    var (state, cgroups, _) = try loadRunning(id, context)
    var resources: LinuxResources
    if let file = flags.value("resources") {
      let bytes = file == "-" ? try readAllBytes(0) : try FS.read(file)
      do {
        resources = try JSON.decode(LinuxResources.self, from: bytes)
      } catch let error as JSONError {
        throw BerthError(.invalidArgument, "--resources \(file): \(error)")
      }
    } else {
      resources = try fromFlags(flags)
    }
    if flags.value("l3-cache-schema") != nil || flags.value("mem-bw-schema") != nil {
      throw BerthError(.unsupported, "Intel RDT (resctrl) is not available on this host")
    }
    try cgroups.update(resources)
    state.resources = try merge(state.resources ?? LinuxResources(), resources)
    try context.store.save(state)
    return 0
  }

  static func fromFlags(_ flags: ParsedFlags) throws -> LinuxResources {
    func number<T: FixedWidthInteger>(_ name: String, _: T.Type) throws -> T? {
      guard let text = flags.value(name) else { return nil }
      guard let value = T(text) else { throw UsageError("--\(name): \(quoted(text)) is not a valid number") }
      return value
    }
    func bytes(_ name: String) throws -> Int64? {
      guard let text = flags.value(name) else { return nil }
      do { return try Units.bytes(text) } catch let error as BerthError { throw error.prefixed("--\(name)") }
    }
    var resources = LinuxResources()
    var memory = LinuxMemory()
    memory.limit = try bytes("memory")
    memory.reservation = try bytes("memory-reservation")
    memory.swap = try bytes("memory-swap")
    memory.kernel = try bytes("kernel-memory")
    memory.kernelTCP = try bytes("kernel-memory-tcp")
    if memory != LinuxMemory() { resources.memory = memory }
    var cpu = LinuxCPU()
    cpu.period = try number("cpu-period", UInt64.self)
    cpu.quota = try number("cpu-quota", Int64.self)
    cpu.shares = try number("cpu-share", UInt64.self)
    cpu.realtimePeriod = try number("cpu-rt-period", UInt64.self)
    cpu.realtimeRuntime = try number("cpu-rt-runtime", Int64.self)
    cpu.cpus = flags.value("cpuset-cpus")
    cpu.mems = flags.value("cpuset-mems")
    cpu.idle = try number("cpu-idle", Int64.self)
    cpu.burst = try number("cpu-burst", UInt64.self)
    if cpu != LinuxCPU() { resources.cpu = cpu }
    if let limit = try number("pids-limit", Int64.self) { resources.pids = LinuxPids(limit: limit) }
    if let weight = try number("blkio-weight", UInt16.self) { resources.blockIO = LinuxBlockIO(weight: weight) }
    return resources
  }

  /// The saved resources with the update's fields laid over them, field by field at every
  /// depth (an update names only what changes).
  static func merge(_ old: LinuxResources, _ new: LinuxResources) throws -> LinuxResources {
    func overlay(_ base: JSONValue, _ top: JSONValue) -> JSONValue {
      guard case .object(var merged) = base, case .object(let changes) = top else { return top }
      for (key, value) in changes { merged[key] = merged[key].map { overlay($0, value) } ?? value }
      return .object(merged)
    }
    return try JSON.decode(LinuxResources.self, from: overlay(JSON.encodeValue(old), JSON.encodeValue(new)))
  }
}

enum EventsCommand {
  static func run(_ arguments: [String], _ context: CommandContext) throws -> Int32 {
    let flags = try FlagParser.parse(arguments, specs: [.value("interval"), .bool("stats")])
    let id = try flags.requirePositional("CONTAINER_ID", command: "events")[0]
    let interval = try flags.value("interval").map(Units.durationNanoseconds) ?? 5_000_000_000
    let (state, cgroups, _) = try loadRunning(id, context)
    func emit(_ type: String, _ data: JSONValue?) throws {
      var members: [(String, JSONValue)] = [("type", .string(type)), ("id", .string(id))]
      if let data { members.append(("data", data)) }
      print(JSON.serializeString(.object(JSONObject(members))))
      fflush(nil)
    }
    if try flags.bool("stats") {
      try emit("stats", try JSON.encodeValue(cgroups.stats()))
      return 0
    }
    var lastOOM = (try? cgroups.oomKillCount()) ?? nil
    var nextStats: UInt64 = 0
    while ProcessInfo.isAlive(pid: state.pid, startTime: state.pidStartTime) {
      let now = Clock.monotonicNanoseconds()
      if now >= nextStats {
        try emit("stats", try JSON.encodeValue(cgroups.stats()))
        nextStats = now + interval
      }
      if let count = (try? cgroups.oomKillCount()) ?? nil {
        if let last = lastOOM, count > last { try emit("oom", nil) }
        lastOOM = count
      }
      usleep(200_000)
    }
    return 0
  }
}
