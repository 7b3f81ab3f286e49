import ArgumentParser
import BerthEngine
import BerthJSON
import BerthOS
import Foundation

/// `berth volume …`: Docker's local volumes.
struct VolumeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "volume", abstract: "Manage volumes.",
    subcommands: [VolumeCreate.self, VolumeInspect.self, VolumeList.self, VolumePrune.self, VolumeRemove.self])
}

/// `berth volume create [--name N | N] [-d local] [-o K=V] [--label K=V]`.
struct VolumeCreate: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a volume.")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Specify volume driver name.") var driver = "local"
  @Option(help: "Specify volume name.") var name: String?
  @Option(name: [.customShort("o"), .customLong("opt")], help: "Set driver specific options.") var options: [String] = []
  @Option(name: .customLong("label"), help: "Set metadata for a volume.") var labels: [String] = []
  @Argument(help: "The volume's name.") var volumeName: String?

  func validate() throws {
    if let name, let volumeName, name != volumeName {
      throw ValidationError("conflicting options: either specify --name or provide positional arg, not both")
    }
    for option in options where !option.contains("=") {
      throw ValidationError("invalid argument \"\(option)\" for \"-o, --opt\" flag: invalid key/value pair format: \(option)")
    }
  }

  func run() async throws {
    let engine = try global.engine()
    do {
      let record = try await engine.volumes.create(
        name: name ?? volumeName, driver: driver, labels: Self.pairs(labels), options: Self.pairs(options))
      print(record.name)
    } catch let error as BerthError {
      throw CLIOutput.daemonError(error.message)
    }
  }

  /// "K=V" words as a map; a bare "K" has an empty value (as Docker's labels).
  static func pairs(_ words: [String]) -> [String: String] {
    var result: [String: String] = [:]
    for word in words {
      let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
      result[parts[0]] = parts.count > 1 ? parts[1] : ""
    }
    return result
  }
}

/// `berth volume ls [-q] [--filter K=V] [--format T]`.
struct VolumeList: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "ls", abstract: "List volumes.", aliases: ["list"])
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Only display volume names.") var quiet = false
  @Option(name: .shortAndLong, help: "Provide filter values (e.g. \"dangling=true\").") var filter: [String] = []
  @Option(help: "Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template.") var format: String?

  static let headers = [
    "Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS",
    "Links": "LINKS", "Size": "SIZE", "CreatedAt": "CREATED AT",
  ]

  func run() async throws {
    let engine = try global.engine()
    let volumes: [VolumeRecord]
    do {
      volumes = try engine.volumes.list(filters: filter)
    } catch let error as BerthError {
      throw CLIOutput.daemonError(error.message)
    }
    if quiet {
      for volume in volumes { print(volume.name) }
      return
    }
    let template = try OutputTemplate(
      format.map { $0 == "json" ? "{{json .}}" : $0 == "table" ? "table {{.Driver}}\t{{.Name}}" : $0 }
        ?? "table {{.Driver}}\t{{.Name}}")
    CLIOutput.printRows(
      template, headers: Self.headers,
      rows: volumes.map { volume in
        let fields = Self.fields(volume, mountpoint: engine.volumes.mountpoint(volume.name))
        return (fields, fields as [String: Any])
      })
  }

  /// The template's view of a volume (Docker's volume formatter).
  static func fields(_ volume: VolumeRecord, mountpoint: String) -> [String: String] {
    [
      "Name": volume.name, "Driver": volume.driver, "Scope": "local", "Mountpoint": mountpoint,
      "Labels": volume.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
      "Links": "N/A", "Size": "N/A", "CreatedAt": volume.created, "Availability": "N/A", "Group": "N/A", "Status": "N/A",
    ]
  }
}

/// `berth volume inspect [-f T] VOLUME…`.
struct VolumeInspect: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more volumes.")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Format output using a custom template.") var format: String?
  @Argument(help: "Volumes.") var names: [String] = []

  func validate() throws {
    if names.isEmpty { throw ValidationError("\"volume inspect\" requires at least 1 argument") }
  }

  func run() async throws {
    let engine = try global.engine()
    var objects: [JSONValue] = []
    var failed = false
    for name in names {
      do {
        objects.append(Self.json(try engine.volumes.get(name), mountpoint: engine.volumes.mountpoint(name)))
      } catch let error as BerthError where error.code == .notFound {
        writeToStandardError("Error: No such volume: \(name)\n")
        failed = true
      }
    }
    if let format {
      let template = try OutputTemplate(format == "json" ? "{{json .}}" : format)
      for object in objects { print(CLIOutput.render(template, object)) }
    } else {
      print(CLIOutput.indentedJSON(.array(objects)))
    }
    if failed { throw CommandFailure(message: "") }
  }

  /// Docker's volume JSON, keys in its order.
  static func json(_ volume: VolumeRecord, mountpoint: String) -> JSONValue {
    func map(_ values: [String: String]) -> JSONValue {
      .object(JSONObject(values.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }))
    }
    return .object(JSONObject([
      ("CreatedAt", .string(volume.created)),
      ("Driver", .string(volume.driver)),
      ("Labels", map(volume.labels)),
      ("Mountpoint", .string(mountpoint)),
      ("Name", .string(volume.name)),
      ("Options", map(volume.options)),
      ("Scope", "local"),
    ]))
  }
}

/// `berth volume rm [-f] VOLUME…`: a volume in use is refused, with or without -f.
struct VolumeRemove: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more volumes.", aliases: ["remove"])
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Force the removal of one or more volumes.") var force = false
  @Argument(help: "Volumes.") var names: [String] = []

  func validate() throws {
    if names.isEmpty { throw ValidationError("\"volume rm\" requires at least 1 argument") }
  }

  func run() async throws {
    let engine = try global.engine()
    var failed = false
    for name in names {
      do {
        try await engine.volumes.remove(name, force: force)
        print(name)
      } catch let error as BerthError {
        CLIOutput.daemonError(error.message)
        failed = true
      }
    }
    if failed { throw CommandFailure(message: "") }
  }
}

/// `berth volume prune [-a] [-f] [--filter K=V]`: unused anonymous volumes (every unused
/// volume with -a), as Docker 23 and later.
struct VolumePrune: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused local volumes.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Remove all unused volumes, not just anonymous ones.") var all = false
  @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.") var force = false
  @Option(help: "Provide filter values (e.g. \"label=<label>\").") var filter: [String] = []

  func run() async throws {
    let everything = all || filter.contains { $0.lowercased() == "all=true" || $0 == "all=1" }
    if !force {
      let what = everything ? "all local volumes" : "anonymous local volumes"
      guard CLIOutput.confirm("WARNING! This will remove \(what) not used by at least one container.\n") else { return }
    }
    let engine = try global.engine()
    do {
      let result = try await engine.volumes.prune(all: all, filters: filter)
      CLIOutput.printSection("Deleted Volumes:", result.removed)
      print("Total reclaimed space: \(CLIOutput.humanSize(result.reclaimed))")
    } catch let error as BerthError {
      throw CLIOutput.daemonError(error.message)
    }
  }
}
