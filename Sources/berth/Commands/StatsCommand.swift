import ArgumentParser
import BerthEngine
import BerthOS
import Foundation

/// `berth stats [-a] [--no-stream] [--no-trunc] [--format F] [CONTAINER...]`: live usage read
/// from the containers' cgroups, redrawn every second like `docker stats`.
struct Stats: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stats", abstract: "Display a live stream of container(s) resource usage statistics.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Show all containers (default shows just running).") var all = false
  @Option(help: "Format output using a Go template, 'table', 'table TEMPLATE' or 'json'.") var format: String?
  @Flag(name: .customLong("no-stream"), help: "Disable streaming stats and only pull the first result.") var noStream = false
  @Flag(name: .customLong("no-trunc"), help: "Do not truncate output.") var noTrunc = false
  @Argument(help: "Containers (names or IDs); default: all running containers.") var containers: [String] = []

  static let defaultFormat = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

  func run() async throws {
    let engine = try global.engine()
    let template = try OutputTemplate({
      switch format {
      case nil, "", "table": return Self.defaultFormat
      case "json": return "{{json .}}"
      default: return format ?? Self.defaultFormat
      }
    }())
    // Named containers must all exist before anything is drawn.
    var named: [(record: ContainerRecord, typed: String)] = []
    do {
      for name in containers { named.append((try engine.containers.resolve(name), name)) }
    } catch let error as BerthError {
      throw CLIOutput.daemonError(error.message)
    }
    let redraw = !noStream && isatty(1) != 0
    var previous: [String: ContainerStatsSample] = [:]
    var first = true
    while true {
      let targets = containers.isEmpty
        ? try engine.list(ContainerQuery(all: all)).map { ($0.record, noTrunc ? $0.record.id : $0.record.shortID) }
        : named.map { ($0.record, $0.typed) }
      if first {
        // CPU % needs two samples a second apart, as docker takes them.
        previous = sample(targets.map(\.0), engine: engine)
        try await Task.sleep(nanoseconds: 1_000_000_000)
        first = false
      }
      let current = sample(targets.map(\.0), engine: engine)
      let lines = targets.map { record, typed in
        let reading = current[record.id].map { ContainerStatsReading($0, previous: previous[record.id]) } ?? ContainerStatsReading()
        let fields = StatsRow.fields(record: record, typed: typed, reading: reading, noTrunc: noTrunc)
        return template.render(fields: fields, json: fields)
      }
      // Like docker on a terminal: clear the screen and draw the table at the top.
      if redraw { print("\u{1B}[2J\u{1B}[H", terminator: "") }
      print(template.aligned(lines, headers: StatsRow.headers), terminator: "")
      fflush(nil)
      if noStream { return }
      previous = current
      try await Task.sleep(nanoseconds: 1_000_000_000)
    }
  }

  /// One sample per running container, by ID (a container that stops meanwhile has none).
  func sample(_ records: [ContainerRecord], engine: ContainerEngine) -> [String: ContainerStatsSample] {
    var samples: [String: ContainerStatsSample] = [:]
    for record in records {
      if let sample = try? engine.statsSample(record) { samples[record.id] = sample }
    }
    return samples
  }
}

/// The fields of one `stats` row, as docker's templates name them.
enum StatsRow {
  static let headers = [
    "Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
  ]

  static func fields(record: ContainerRecord, typed: String, reading: ContainerStatsReading, noTrunc: Bool) -> [String: String] {
    [
      "Container": typed,
      "ID": noTrunc ? record.id : record.shortID,
      "Name": record.name,
      "CPUPerc": String(format: "%.2f%%", reading.cpuPercent),
      "MemUsage": "\(CLIOutput.binarySize(reading.memoryUsage)) / \(CLIOutput.binarySize(reading.memoryLimit))",
      "MemPerc": String(format: "%.2f%%", reading.memoryPercent),
      "NetIO": "\(CLIOutput.humanSize(reading.networkReceived, digits: 3)) / \(CLIOutput.humanSize(reading.networkSent, digits: 3))",
      "BlockIO": "\(CLIOutput.humanSize(reading.blockRead, digits: 3)) / \(CLIOutput.humanSize(reading.blockWritten, digits: 3))",
      "PIDs": String(reading.pids),
    ]
  }
}
