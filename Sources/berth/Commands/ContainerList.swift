import ArgumentParser
import BerthEngine
import BerthOS
import Foundation

/// `berth ps`: containers as `docker ps` lists them.
struct Ps: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "ps", abstract: "List containers.")

  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Show all containers (default shows just running).") var all = false
  @Flag(name: .shortAndLong, help: "Only display container IDs.") var quiet = false
  @Flag(name: .shortAndLong, help: "Display total file sizes.") var size = false
  @Option(name: [.customShort("n"), .customLong("last")], help: "Show n last created containers (includes all states).")
  var last = -1
  @Flag(name: .shortAndLong, help: "Show the latest created container (includes all states).") var latest = false
  @Option(
    name: .shortAndLong,
    help: "Filter output (id, name, label, status, exited, ancestor, before, since, volume, health, network, is-task).")
  var filter: [String] = []
  @Option(help: "Format output using a Go template, 'table', 'table TEMPLATE' or 'json'.") var format: String?
  @Flag(name: .customLong("no-trunc"), help: "Don't truncate output.") var noTrunc = false

  func validate() throws {
    for text in filter where !text.contains("=") {
      throw ValidationError("invalid argument \"\(text)\" for \"-f, --filter\" flag: bad format of filter (expected name=value)")
    }
  }

  func run() async throws {
    let engine = try global.engine()
    let template = try format.flatMap { format -> OutputTemplate? in
      switch format {
      case "", "table": return nil
      case "json": return try OutputTemplate("{{json .}}")
      default: return try OutputTemplate(format)
      }
    }
    // As docker: a template that shows .Size computes sizes without -s.
    let wantsSize = size || (format ?? "").contains(".Size")
    let query = ContainerQuery(all: all, last: last > 0 ? last : nil, latest: latest, size: wantsSize && !quiet, filters: filter)
    let summaries: [ContainerSummary]
    do {
      summaries = try engine.list(query)
    } catch let error as BerthError {
      // Docker's daemon checks the filters; its CLI prefixes what the daemon says.
      throw CLIOutput.daemonError(error.message)
    }
    let rows = summaries.map { ContainerRow($0, noTrunc: noTrunc) }
    if quiet {
      for row in rows { print(row.fields["ID"] ?? "") }
      return
    }
    if let template {
      let lines = rows.map { template.render(fields: $0.fields, json: $0.fields) }
      print(template.aligned(lines, headers: ContainerRow.headers), terminator: "")
      return
    }
    var header = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    var keys = ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"]
    if size {
      header.append("SIZE")
      keys.append("Size")
    }
    var table = TextTable(header: header)
    for row in rows { table.add(keys.map { row.fields[$0] ?? "" }) }
    print(table.render(minimumWidth: 10), terminator: "")
  }
}

/// One row of `ps`: the fields its templates name, as text.
struct ContainerRow {
  let fields: [String: String]

  static let headers = [
    "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT", "RunningFor": "CREATED",
    "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Names": "NAMES", "Labels": "LABELS",
    "Mounts": "MOUNTS", "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES",
  ]

  init(_ summary: ContainerSummary, noTrunc: Bool) {
    let record = summary.record
    var size = ""
    if let rw = summary.sizeRw {
      size = Humanize.size(rw)
      if let rootFs = summary.sizeRootFs, rootFs > 0 { size += " (virtual \(Humanize.size(rootFs)))" }
    }
    let created = DockerTime.recorded(record.created) ?? .now()
    fields = [
      "ID": noTrunc ? record.id : record.shortID,
      "Image": noTrunc ? summary.image : Self.truncatedImage(summary.image, imageID: record.imageID),
      "Command": Self.command(summary.command, noTrunc: noTrunc),
      "CreatedAt": Self.localTime(created.seconds),
      "RunningFor": HumanDuration.describe(seconds: HumanDuration.seconds(from: created, to: .now())) + " ago",
      "Ports": summary.ports,
      "State": summary.state.status.rawValue,
      "Status": summary.status,
      "Size": size,
      "Names": record.name,
      "Labels": record.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
      "Mounts": summary.mountNames.map { noTrunc ? $0 : Self.ellipsis($0, 15) }.joined(separator: ","),
      "Networks": summary.networks.joined(separator: ","),
      "LocalVolumes": String(summary.localVolumeCount),
    ]
  }

  /// The IMAGE column: an image ID as its 12 digits, a name without its digest.
  static func truncatedImage(_ image: String, imageID: String) -> String {
    func shortID(_ text: String) -> String {
      let hex = text.split(separator: ":", maxSplits: 1).last.map(String.init) ?? text
      return String(hex.prefix(12))
    }
    if shortID(image) == shortID(imageID) { return shortID(imageID) }
    if let at = image.firstIndex(of: "@") { return String(image[..<at]) }
    return image
  }

  /// The COMMAND column: quoted as Go quotes, cut to 20 characters unless `noTrunc`.
  static func command(_ command: String, noTrunc: Bool = false) -> String {
    FlagSyntax.goQuote(noTrunc ? command : ellipsis(command, 20))
  }

  /// At most `width` characters, the last one "…" when cut.
  static func ellipsis(_ text: String, _ width: Int) -> String {
    text.count <= width ? text : String(text.prefix(width - 1)) + "…"
  }

  /// Go's `time.Time.String()` of whole seconds in local time: "2026-11-21 08:38:10 +0000 UTC".
  static func localTime(_ seconds: Int64) -> String {
    var clock = time_t(seconds)
    var parts = tm()
    localtime_r(&clock, &parts)
    var buffer = [CChar](repeating: 0, count: 64)
    let count = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S %z %Z", &parts)
    return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}

extension OutputTemplate {
  /// The rendered lines, under a header and aligned in columns for a `table` template (as
  /// docker does), else as they are.
  func aligned(_ lines: [String], headers: [String: String]) -> String {
    guard isTable else { return lines.map { $0 + "\n" }.joined() }
    let rows = ([header(headers)] + lines).map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    return TextTable(rows: rows).render(minimumWidth: 10)
  }
}

extension TextTable {
  /// Renders like Go's tabwriter with a minimum cell width, as docker's tables are set up
  /// (10 for `ps` and `stats`, 20 for `top`): every column but the last is at least that wide.
  func render(minimumWidth: Int) -> String {
    guard let columns = rows.map(\.count).max(), columns > 0 else { return "" }
    var widths = [Int](repeating: 0, count: columns)
    for row in rows {
      for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count + 3, minimumWidth) }
    }
    var output = ""
    for row in rows {
      var line = ""
      for (index, cell) in row.enumerated() {
        line += cell
        if index < row.count - 1 { line += String(repeating: " ", count: widths[index] - cell.count) }
      }
      while line.hasSuffix(" ") { line.removeLast() }
      output += line + "\n"
    }
    return output
  }
}
