import ArgumentParser
import BerthEngine
import BerthJSON
import BerthNetwork
import BerthOS
import Foundation

/// `berth network …`: bridge networks, as Docker's.
struct NetworkCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "network", abstract: "Manage networks.",
    subcommands: [
      NetworkConnect.self, NetworkCreate.self, NetworkDisconnect.self, NetworkInspect.self, NetworkList.self,
      NetworkPrune.self, NetworkRemove.self,
    ])
}

/// `berth network create [-d bridge] [--subnet] [--gateway] [--ip-range] [--internal] [--label] NAME`.
struct NetworkCreate: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a network.")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Driver to manage the Network.") var driver = "bridge"
  @Option(help: "Subnet in CIDR format that represents a network segment.") var subnet: [String] = []
  @Option(help: "IPv4 Gateway for the master subnet.") var gateway: [String] = []
  @Option(name: .customLong("ip-range"), help: "Allocate container ip from a sub-range.") var ipRange: [String] = []
  @Flag(help: "Restrict external access to the network.") var `internal` = false
  @Flag(help: "Enable manual container attachment (always true here).") var attachable = false
  @Option(name: .customLong("label"), help: "Set metadata on a network.") var labels: [String] = []
  @Option(name: [.short, .customLong("opt")], help: "Set driver specific options (none are supported).") var options: [String] = []
  @Argument(help: "The network's name.") var name: String

  func validate() throws {
    if subnet.count > 1 || gateway.count > 1 || ipRange.count > 1 {
      throw ValidationError("Berth networks have one IPv4 subnet: give --subnet, --gateway and --ip-range at most once each")
    }
    if (!gateway.isEmpty || !ipRange.isEmpty) && subnet.isEmpty {
      throw ValidationError("every ip-range or gateway must have a corresponding subnet")
    }
  }

  func run() async throws {
    let engine = try global.engine()
    do {
      guard driver == "bridge" else { throw BerthError(.notFound, "plugin \(quoted(driver)) not found") }
      if let option = options.first { throw BerthError(.invalidArgument, "driver option \(quoted(option)) is not supported by Berth's bridge driver") }
      let request = NetworkCreateRequest(
        name: name, subnet: subnet.first, gateway: gateway.first, ipRange: ipRange.first, internal: `internal`,
        labels: VolumeCreate.pairs(labels))
      print(try engine.createNetwork(request).id)
    } catch let error as BerthError {
      throw CLIOutput.daemonError(error.message)
    }
  }
}

/// `berth network ls [-q] [--filter K=V] [--format T] [--no-trunc]`.
struct NetworkList: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "ls", abstract: "List networks.", aliases: ["list"])
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Only display network IDs.") var quiet = false
  @Option(name: .shortAndLong, help: "Provide filter values (e.g. \"driver=bridge\").") var filter: [String] = []
  @Option(help: "Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template.") var format: String?
  @Flag(name: .customLong("no-trunc"), help: "Do not truncate the output.") var noTrunc = false

  static let headers = [
    "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6", "Internal": "INTERNAL",
    "Labels": "LABELS", "CreatedAt": "CREATED AT",
  ]
  static let defaultFormat = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

  func run() async throws {
    let engine = try global.engine()
    var entries: [NetworkEntry]
    do {
      let filters = try NetworkFilters(filter)
      entries = try engine.listNetworks().filter(filters.matches).sorted { $0.name < $1.name }
    } catch let error as BerthError {
      throw CLIOutput.daemonError(error.message)
    }
    if quiet {
      for entry in entries { print(noTrunc ? entry.id : String(entry.id.prefix(12))) }
      return
    }
    let template = try OutputTemplate(
      format.map { $0 == "json" ? "{{json .}}" : $0 == "table" ? Self.defaultFormat : $0 } ?? Self.defaultFormat)
    CLIOutput.printRows(
      template, headers: Self.headers,
      rows: entries.map { entry in
        let fields = Self.fields(entry, noTrunc: noTrunc)
        return (fields, fields as [String: Any])
      })
  }

  /// The template's view of a network (Docker's network formatter).
  static func fields(_ entry: NetworkEntry, noTrunc: Bool) -> [String: String] {
    [
      "ID": noTrunc ? entry.id : String(entry.id.prefix(12)), "Name": entry.name, "Driver": entry.driver, "Scope": "local",
      "IPv6": "false", "Internal": String(entry.definition?.internal ?? false),
      "Labels": entry.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
      "CreatedAt": entry.definition?.created ?? "",
    ]
  }
}

/// `network ls --filter`: name (substring), id (prefix), label, driver, type (custom|builtin),
/// scope.
struct NetworkFilters {
  var terms: [(key: String, value: String)] = []

  init(_ words: [String]) throws {
    for word in words {
      guard let equals = word.firstIndex(of: "=") else {
        throw BerthError(.invalidArgument, "bad format of filter (expected name=value)")
      }
      let key = String(word[..<equals]).lowercased()
      guard ["name", "id", "label", "driver", "type", "scope", "dangling"].contains(key) else {
        throw BerthError(.invalidArgument, "invalid filter '\(key)'")
      }
      let value = String(word[word.index(after: equals)...])
      if key == "type" && !["custom", "builtin"].contains(value) {
        throw BerthError(.invalidArgument, "invalid filter: 'type'='\(value)'")
      }
      terms.append((key, value))
    }
  }

  /// Terms with the same key are alternatives; different keys must all match.
  func matches(_ entry: NetworkEntry) -> Bool {
    Dictionary(grouping: terms, by: \.key).allSatisfy { key, group in
      group.contains { term in
        switch key {
        case "name": return entry.name.contains(term.value)
        case "id": return entry.id.hasPrefix(term.value)
        case "label": return entry.hasLabel(term.value)
        case "driver": return entry.driver == term.value
        case "type": return (term.value == "builtin") == entry.isPredefined
        case "scope": return term.value == "local"
        default: return true
        }
      }
    }
  }
}

/// `berth network inspect [-f T] NETWORK…`.
struct NetworkInspect: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more networks.")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Format output using a custom template.") var format: String?
  @Argument(help: "Networks.") var names: [String] = []

  func validate() throws {
    if names.isEmpty { throw ValidationError("\"network inspect\" requires at least 1 argument") }
  }

  func run() async throws {
    let engine = try global.engine()
    var objects: [JSONValue] = []
    var failed = false
    let members = (try? engine.networkMembers()) ?? [:]
    for name in names {
      do {
        let entry = try engine.network(name)
        objects.append(Self.json(entry, members: members[entry.id] ?? []))
      } catch let error as BerthError where error.code == .notFound {
        writeToStandardError("Error response from daemon: network \(name) not found\n")
        failed = true
      }
    }
    if let format {
      // As container inspect's: nested paths, range and index (`{{range .Containers}}`).
      let template = InspectTemplate(try OutputTemplate(format == "json" ? "{{json .}}" : format, blocks: true))
      for object in objects { print(template.render(object)) }
    } else {
      print(CLIOutput.indentedJSON(.array(objects)))
    }
    if failed { throw CommandFailure(message: "") }
  }

  /// Docker's network JSON, keys in its order.
  static func json(_ entry: NetworkEntry, members: [NetworkMember]) -> JSONValue {
    let definition = entry.definition
    var config: [JSONValue] = []
    if let definition {
      var item = JSONObject([("Subnet", .string(definition.subnet))])
      if let range = definition.ipRange { item["IPRange"] = .string(range) }
      item["Gateway"] = .string(definition.gateway)
      config.append(.object(item))
    }
    var containers = JSONObject()
    for member in members.sorted(by: { $0.containerID < $1.containerID }) {
      containers[member.containerID] = .object([
        "Name": .string(member.containerName), "EndpointID": .string(member.endpointID),
        "MacAddress": .string(member.endpoint.mac),
        "IPv4Address": .string("\(member.endpoint.ip)/\(member.endpoint.prefixLength)"), "IPv6Address": "",
      ])
    }
    var options = JSONObject()
    if let definition, definition.isDefault {
      options["com.docker.network.bridge.name"] = .string(definition.bridge)
    }
    return .object(JSONObject([
      ("Name", .string(entry.name)),
      ("Id", .string(entry.id)),
      ("Created", .string(definition?.created ?? "0001-01-01T00:00:00Z")),
      ("Scope", "local"),
      ("Driver", .string(entry.driver)),
      ("EnableIPv4", .bool(definition != nil)),
      ("EnableIPv6", false),
      ("IPAM", .object(["Driver": "default", "Options": .null, "Config": .array(config)])),
      ("Internal", .bool(definition?.internal ?? false)),
      ("Attachable", false),
      ("Ingress", false),
      ("ConfigFrom", .object(["Network": ""])),
      ("ConfigOnly", false),
      ("Containers", .object(containers)),
      ("Options", .object(options)),
      ("Labels", .object(JSONObject(entry.labels.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }))),
    ]))
  }
}

/// `berth network rm NETWORK…`: a network with endpoints is refused.
struct NetworkRemove: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more networks.", aliases: ["remove"])
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Do not error if the network does not exist.") var force = false
  @Argument(help: "Networks.") var names: [String] = []

  func validate() throws {
    if names.isEmpty { throw ValidationError("\"network rm\" requires at least 1 argument") }
  }

  func run() async throws {
    let engine = try global.engine()
    var failed = false
    for name in names {
      do {
        _ = try engine.removeNetwork(name)
        print(name)
      } catch let error as BerthError {
        if force && error.code == .notFound { continue }
        CLIOutput.daemonError(error.message)
        failed = true
      }
    }
    if failed { throw CommandFailure(message: "") }
  }
}

/// `berth network prune [-f] [--filter label=…]`: user networks no container refers to.
struct NetworkPrune: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove all unused networks.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.") var force = false
  @Option(help: "Provide filter values (e.g. \"label=<key>=<value>\").") var filter: [String] = []

  func run() async throws {
    var labels: [String] = []
    for word in filter {
      guard word.hasPrefix("label=") else {
        throw CLIOutput.daemonError("invalid filter '\(word.split(separator: "=").first.map(String.init) ?? word)'")
      }
      labels.append(String(word.dropFirst("label=".count)))
    }
    if !force {
      guard CLIOutput.confirm("WARNING! This will remove all custom networks not used by at least one container.\n") else { return }
    }
    let engine = try global.engine()
    do {
      CLIOutput.printSection("Deleted Networks:", try engine.pruneNetworks(labelFilters: labels))
    } catch let error as BerthError {
      throw CLIOutput.daemonError(error.message)
    }
  }
}

/// `berth network connect [--ip] [--alias] NETWORK CONTAINER`.
struct NetworkConnect: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "connect", abstract: "Connect a container to a network.")
  @OptionGroup var global: GlobalOptions
  @Option(help: "IPv4 address (e.g., \"172.30.100.104\").") var ip: String?
  @Option(help: "Add network-scoped alias for the container.") var alias: [String] = []
  @Argument(help: "The network.") var network: String
  @Argument(help: "The container.") var container: String

  func run() async throws {
    let engine = try global.engine()
    do {
      let record = try engine.containers.resolve(container)
      try await engine.connect(record, to: network, ip: ip.flatMap { $0.isEmpty ? nil : $0 }, aliases: alias)
    } catch let error as BerthError {
      throw CLIOutput.daemonError(error.message)
    }
  }
}

/// `berth network disconnect [-f] NETWORK CONTAINER`.
struct NetworkDisconnect: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "disconnect", abstract: "Disconnect a container from a network.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Force the container to disconnect from a network.") var force = false
  @Argument(help: "The network.") var network: String
  @Argument(help: "The container.") var container: String

  func run() async throws {
    let engine = try global.engine()
    do {
      let record = try engine.containers.resolve(container)
      try await engine.disconnect(record, from: network, force: force)
    } catch let error as BerthError {
      throw CLIOutput.daemonError(error.message)
    }
  }
}
