import ArgumentParser
import BerthBuild
import BerthEngine
import BerthImages
import BerthJSON
import BerthOCI
import BerthOS
import Foundation

/// `berth system …`: information about the engine and its store.
struct SystemCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "system", abstract: "Manage Berth.",
    subcommands: [SystemDiskUsage.self, SystemInfoCommand.self, SystemPrune.self, SystemReset.self])
}

/// `berth info` and `berth system info`.
struct SystemInfoCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "info", abstract: "Display system-wide information.")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Format output with a Go template, or 'json'.") var format: String?

  func run() async throws {
    let engine = try global.engine()
    let info = try engine.systemInfo()
    let object = Self.json(info)
    if let format {
      let template = try OutputTemplate(format == "json" ? "{{json .}}" : format)
      print(CLIOutput.render(template, object))
      return
    }
    print(Self.text(info), terminator: "")
    for warning in info.warnings { writeToStandardError(warning + "\n") }
  }

  /// Docker's `docker info` layout.
  static func text(_ info: SystemInfo) -> String {
    var lines = [
      "Client:",
      " Version:    \(Berth.version)",
      " Context:    default",
      " Debug Mode: false",
      "",
      "Server:",
      " Containers: \(info.containers)",
      "  Running: \(info.running)",
      "  Paused: \(info.paused)",
      "  Stopped: \(info.stopped)",
      " Images: \(info.images)",
      " Server Version: \(Berth.version)",
      " Storage Driver: \(info.storageDriver)",
      "  Backing Filesystem: \(info.backingFilesystem)",
      "  Supports d_type: true",
      " Logging Driver: \(info.loggingDriver)",
      " Cgroup Driver: \(info.cgroupDriver)",
      " Cgroup Version: \(info.cgroupVersion)",
      " Plugins:",
      "  Volume: local",
      "  Network: bridge host null",
      "  Log: json-file none",
      " Runtimes: \(info.runtimes.keys.sorted().joined(separator: " "))",
      " Default Runtime: \(info.defaultRuntime)",
    ]
    if let initBinary = info.initBinary { lines.append(" Init Binary: \(Path.basename(initBinary))") }
    lines.append(" Security Options:")
    for option in info.securityOptions {
      let fields = Dictionary(option.split(separator: ",").compactMap { pair -> (String, String)? in
        let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
        return parts.count == 2 ? (parts[0], parts[1]) : nil
      }, uniquingKeysWith: { first, _ in first })
      lines.append("  \(fields["name"] ?? option)")
      if let profile = fields["profile"] { lines.append("   Profile: \(profile)") }
    }
    lines += [
      " Kernel Version: \(info.kernelVersion)",
      " Operating System: \(info.operatingSystem)",
      " OSType: \(info.osType)",
      " Architecture: \(info.architecture)",
      " CPUs: \(info.cpus)",
      " Total Memory: \(CLIOutput.binarySize(info.memoryTotal))",
      " Name: \(info.hostname)",
      " Berth Root Dir: \(info.rootDirectory)",
      " Berth Run Root: \(info.runRoot)",
      " Debug Mode: false",
      " Experimental: false",
    ]
    return lines.joined(separator: "\n") + "\n"
  }

  /// Docker's `docker info` JSON (the fields Berth has), with Berth's own root beside
  /// Docker's name for it.
  static func json(_ info: SystemInfo) -> JSONValue {
    func number(_ value: Int) -> JSONValue { .number(JSONNumber(Int64(value))) }
    let runtimes = JSONObject(info.runtimes.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.object(["path": .string($0.value)])) })
    // In groups: one literal of this size takes the type checker too long.
    let store: [(String, JSONValue)] = [
      ("ID", ""), ("Containers", number(info.containers)), ("ContainersRunning", number(info.running)),
      ("ContainersPaused", number(info.paused)), ("ContainersStopped", number(info.stopped)),
      ("Images", number(info.images)), ("Driver", .string(info.storageDriver)),
      ("DriverStatus", [["Backing Filesystem", .string(info.backingFilesystem)], ["Supports d_type", "true"]]),
      ("Plugins", ["Volume": ["local"], "Network": ["bridge", "host", "null"], "Authorization": nil, "Log": ["json-file", "none"]]),
    ]
    let limits: [(String, JSONValue)] = [
      ("MemoryLimit", true), ("SwapLimit", .bool(info.swapLimit)), ("CpuCfsPeriod", true), ("CpuCfsQuota", true),
      ("CPUShares", true), ("CPUSet", true), ("PidsLimit", true), ("Debug", false),
      ("SystemTime", .string(Clock.rfc3339Now())), ("LoggingDriver", .string(info.loggingDriver)),
      ("CgroupDriver", .string(info.cgroupDriver)), ("CgroupVersion", .string(info.cgroupVersion)),
    ]
    let host: [(String, JSONValue)] = [
      ("KernelVersion", .string(info.kernelVersion)), ("OperatingSystem", .string(info.operatingSystem)),
      ("OSVersion", .string(info.osVersion)), ("OSType", .string(info.osType)),
      ("Architecture", .string(info.architecture)), ("NCPU", number(info.cpus)),
      ("MemTotal", .number(JSONNumber(info.memoryTotal))), ("DockerRootDir", .string(info.rootDirectory)),
      ("BerthRootDir", .string(info.rootDirectory)), ("BerthRunRoot", .string(info.runRoot)),
      ("Name", .string(info.hostname)), ("Labels", []), ("ExperimentalBuild", false),
    ]
    let engine: [(String, JSONValue)] = [
      ("ServerVersion", .string(Berth.version)), ("Runtimes", .object(runtimes)),
      ("DefaultRuntime", .string(info.defaultRuntime)), ("LiveRestoreEnabled", false),
      ("InitBinary", .string(info.initBinary.map(Path.basename) ?? "")),
      ("SecurityOptions", .array(info.securityOptions.map { .string($0) })),
      ("Warnings", .array(info.warnings.map { .string($0) })),
    ]
    return .object(JSONObject(store + limits + host + engine))
  }
}

/// `berth info`: the same as `berth system info`.
struct Info: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "info", abstract: "Display system-wide information.")
  @OptionGroup var info: SystemInfoCommand
  func run() async throws { try await info.run() }
}

/// `berth system df [-v] [--format]`.
struct SystemDiskUsage: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "df", abstract: "Show Berth disk usage.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Show detailed information on space usage.") var verbose = false
  @Option(help: "Format output with a Go template, or 'json' / 'table'.") var format: String?

  static let headers = ["Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"]

  func run() async throws {
    let usage = try global.engine().diskUsage()
    if verbose {
      print(Self.verbose(usage), terminator: "")
      return
    }
    let rows = Self.summary(usage)
    let template = try OutputTemplate(
      format.map { $0 == "json" ? "{{json .}}" : $0 } ?? "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}")
    CLIOutput.printRows(template, headers: Self.headers, rows: rows.map { ($0, $0 as [String: Any]) })
  }

  /// One row per kind, as Docker's summary: reclaimable space with its share of the total.
  static func summary(_ usage: DiskUsage) -> [[String: String]] {
    func reclaimable(_ part: Int64, of total: Int64) -> String {
      total > 0 ? "\(CLIOutput.humanSize(part)) (\(part * 100 / total)%)" : CLIOutput.humanSize(part)
    }
    return [
      ["Type": "Images", "TotalCount": String(usage.images.count), "Active": String(usage.activeImages),
       "Size": CLIOutput.humanSize(usage.imagesSize), "Reclaimable": reclaimable(usage.imagesReclaimable, of: usage.imagesSize)],
      ["Type": "Containers", "TotalCount": String(usage.containers.count), "Active": String(usage.activeContainers),
       "Size": CLIOutput.humanSize(usage.containersSize),
       "Reclaimable": reclaimable(usage.containersReclaimable, of: usage.containersSize)],
      ["Type": "Local Volumes", "TotalCount": String(usage.volumes.count), "Active": String(usage.activeVolumes),
       "Size": CLIOutput.humanSize(usage.volumesSize), "Reclaimable": reclaimable(usage.volumesReclaimable, of: usage.volumesSize)],
      ["Type": "Build Cache", "TotalCount": "0", "Active": "0", "Size": "0B", "Reclaimable": "0B"],
    ]
  }

  /// `df -v`: a table per kind.
  static func verbose(_ usage: DiskUsage) -> String {
    var images = TextTable(header: ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"])
    for image in usage.images {
      let names = image.record.tags.isEmpty ? ["<none>:<none>"] : image.record.tags.map { ImageReference.familiar($0) }
      for name in names {
        let colon = name.lastIndex(of: ":").flatMap { name[$0...].contains("/") ? nil : $0 }
        let repository = colon.map { String(name[..<$0]) } ?? name
        let tag = colon.map { String(name[name.index(after: $0)...]) } ?? "latest"
        images.add([
          repository, tag, image.record.id.shortID, Humanize.date(image.record.created).map { Humanize.ago($0) } ?? "N/A",
          CLIOutput.humanSize(image.size), CLIOutput.humanSize(image.sharedSize), CLIOutput.humanSize(image.uniqueSize),
          String(image.containers),
        ])
      }
    }
    var containers = TextTable(header: ["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"])
    for container in usage.containers {
      let record = container.record
      containers.add([
        record.shortID, record.options.image,
        ContainerRow.command(([record.path] + record.args).joined(separator: " ")),
        String(container.volumes), CLIOutput.humanSize(container.size),
        Humanize.date(record.created).map { Humanize.ago($0) } ?? "",
        container.state.statusText(hasHealthcheck: record.healthcheck != nil), record.name,
      ])
    }
    var volumes = TextTable(header: ["VOLUME NAME", "LINKS", "SIZE"])
    for volume in usage.volumes {
      volumes.add([volume.record.name, String(volume.links), CLIOutput.humanSize(volume.size)])
    }
    return "Images space usage:\n\n" + images.render() + "\nContainers space usage:\n\n" + containers.render()
      + "\nLocal Volumes space usage:\n\n" + volumes.render() + "\nBuild cache usage: 0B\n\n"
      + TextTable(header: ["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"]).render()
  }
}

/// `berth system prune [-a] [--volumes] [-f]`: stopped containers, then (with --volumes)
/// unused anonymous volumes, then dangling images (every unused image with -a).
struct SystemPrune: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused data.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Remove all unused images not just dangling ones.") var all = false
  @Flag(help: "Prune anonymous volumes.") var volumes = false
  @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.") var force = false

  func run() async throws {
    if !force {
      var items = ["all stopped containers", "all networks not used by at least one container"]
      if volumes { items.append("all anonymous volumes not used by at least one container") }
      items += all
        ? ["all images without at least one container associated to them", "all build cache"]
        : ["all dangling images", "unused build cache"]
      let warning = "WARNING! This will remove:\n" + items.map { "  - " + $0 }.joined(separator: "\n") + "\n\n"
      guard CLIOutput.confirm(warning) else { return }
    }
    let engine = try global.engine()
    var reclaimed: Int64 = 0
    let containers = try await engine.pruneContainers(filters: try ContainerPruneFilters([]))
    reclaimed += containers.reclaimed
    CLIOutput.printSection("Deleted Containers:", containers.removed)
    // Networks no container refers to, and what removed containers left on them.
    // A network that cannot be pruned does not stop the rest of the prune; it is reported.
    var networks: [String] = []
    do {
      networks = try engine.pruneNetworks()
      try engine.pruneNetworkLeftovers()
    } catch {
      writeToStandardError("WARNING: networks were not all pruned: \(error)\n")
    }
    CLIOutput.printSection("Deleted Networks:", networks)
    if volumes {
      let pruned = try await engine.volumes.prune()
      reclaimed += pruned.reclaimed
      CLIOutput.printSection("Deleted Volumes:", pruned.removed)
    }
    // The build cache before the images: with -a, the layers only the cache kept are then
    // collected with the images' garbage.
    let cache = try await BuildCachePruner.prune(images: engine.images, all: all)
    reclaimed += cache.reclaimed
    let images = try await engine.images.prune(all: all)
    reclaimed += images.reclaimed
    CLIOutput.printSection("Deleted Images:", images.removed.map(CLIOutput.removalLine))
    CLIOutput.printSection("Deleted build cache objects:", cache.removed)
    print("Total reclaimed space: \(CLIOutput.humanSize(reclaimed))")
  }
}

/// `berth system reset [-f]` (podman's): every container, network (the default bridge with its
/// firewall rules included), volume, image and cache of this root, then the root and run root
/// themselves. For throwaway roots (benchmarks, experiments), whose default bridge `system
/// prune` keeps, as Docker keeps docker0.
struct SystemReset: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "reset", abstract: "Remove all containers, networks, volumes, images and build cache of this root.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.") var force = false

  func run() async throws {
    let engine = try global.engine()
    if !force {
      let warning = "WARNING! This will remove all containers, networks (the default bridge too), volumes, images "
        + "and build cache under \(engine.layout.root) and \(engine.layout.runRoot).\n"
      guard CLIOutput.confirm(warning) else { return }
    }
    for record in try engine.containers.all() {
      try await engine.remove(record, force: true, removeVolumes: true)
    }
    try engine.networks.removeAll()
    // What is left is files; a mount inside (a volume someone mounted by hand) stops the reset
    // before anything is deleted.
    for directory in [engine.layout.root, engine.layout.runRoot] {
      if let busy = try MountTable.mounts(atOrBelow: directory).first(where: { $0 != Path.clean(directory) }) {
        throw CLIOutput.daemonError("\(busy) is still mounted; unmount it, then run berth system reset again")
      }
    }
    for directory in [engine.layout.runRoot, engine.layout.root] where FS.exists(directory) {
      try FS.removeTree(directory)
    }
  }
}

/// Output conventions several of these commands share.
enum CLIOutput {
  /// Prints an error as the docker CLI prints its daemon's (berth's engine plays that part)
  /// and returns the failure that ends the command with exit 1; a command that goes on to
  /// its next name ignores it.
  @discardableResult
  static func daemonError(_ message: String) -> CommandFailure {
    writeToStandardError("Error response from daemon: \(message)\n")
    return CommandFailure(message: "")
  }

  /// Docker's prompt: the warning, then "Are you sure you want to continue? [y/N] ", and a
  /// line from stdin (read whether or not it is a terminal, as Docker reads it).
  static func confirm(_ warning: String) -> Bool {
    print(warning + "Are you sure you want to continue? [y/N] ", terminator: "")
    fflush(nil)
    guard let answer = readLine() else { return false }
    let word = answer.trimmingCharacters(in: .whitespaces).lowercased()
    return word == "y" || word == "yes"
  }

  /// "Deleted …:" and the names, then a blank line; nothing when there are none.
  static func printSection(_ title: String, _ names: [String]) {
    guard !names.isEmpty else { return }
    print(title)
    for name in names { print(name) }
    print()
  }

  static func removalLine(_ event: RemovalEvent) -> String {
    switch event {
    case .untagged(let name): return "untagged: \(name)"
    case .deleted(let id): return "deleted: \(id)"
    }
  }

  /// go-units' HumanSizeWithPrecision: powers of 1000, `digits` significant digits
  /// ("1.049MB", "512B"); its HumanSize takes four.
  static func humanSize(_ bytes: some BinaryInteger, digits: Int = 4) -> String {
    scaled(Double(bytes), base: 1000, units: ["B", "kB", "MB", "GB", "TB", "PB", "EB"], digits: digits)
  }

  /// go-units' BytesSize: powers of 1024, four significant digits ("23.45GiB").
  static func binarySize(_ bytes: some BinaryInteger) -> String {
    scaled(Double(bytes), base: 1024, units: ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"], digits: 4)
  }

  private static func scaled(_ value: Double, base: Double, units: [String], digits: Int) -> String {
    var value = value
    var unit = 0
    while value >= base && unit < units.count - 1 {
      value /= base
      unit += 1
    }
    return String(format: "%.\(digits)g", value) + units[unit]
  }

  /// Rows through a template: a `table` template gets a header and aligned columns (its
  /// tabs separate them), as Docker's tabwriter lays them out.
  static func printRows(_ template: OutputTemplate, headers: [String: String], rows: [([String: String], Any)]) {
    guard template.isTable else {
      for (fields, json) in rows { print(template.render(fields: fields, json: json)) }
      return
    }
    var lines = [template.header(headers)]
    lines += rows.map { template.render(fields: $0.0, json: $0.1) }
    print(TextTable(rows: lines.map { $0.components(separatedBy: "\t") }).render(), terminator: "")
  }

  /// Renders a JSON object through a template: `{{.A.B}}` names nested members, printed as
  /// Go prints them (maps as "map[k:v]", lists as "[a b]").
  static func render(_ template: OutputTemplate, _ object: JSONValue) -> String {
    var fields: [String: String] = [:]
    func flatten(_ value: JSONValue, _ path: String) {
      if !path.isEmpty { fields[path] = goText(value) }
      if let members = value.objectValue {
        for (key, member) in members { flatten(member, path.isEmpty ? key : path + "." + key) }
      }
    }
    flatten(object, "")
    let json = (try? JSONSerialization.jsonObject(with: Data(JSON.serialize(object)), options: [.fragmentsAllowed])) ?? [:]
    return template.render(fields: fields, json: json)
  }

  static func goText(_ value: JSONValue) -> String {
    switch value {
    case .null: return "<nil>"
    case .bool(let flag): return flag ? "true" : "false"
    case .number: return JSON.serializeString(value)
    case .string(let text): return text
    case .array(let items): return "[" + items.map(goText).joined(separator: " ") + "]"
    case .object(let members):
      return "map[" + members.sorted { $0.0 < $1.0 }.map { "\($0.0):\(goText($0.1))" }.joined(separator: " ") + "]"
    }
  }

  /// JSON as Docker's inspect prints it: four spaces a level.
  static func indentedJSON(_ value: JSONValue) -> String {
    JSON.serializeString(value, options: .prettyPrinted).components(separatedBy: "\n").map { line in
      let spaces = line.prefix { $0 == " " }.count
      return String(repeating: " ", count: spaces * 2) + line.dropFirst(spaces)
    }.joined(separator: "\n")
  }
}
