import ArgumentParser
import BerthImages
import BerthJSON
import BerthOCI
import BerthOS
import Foundation

/// `berth image …`: the image commands under one name, as `docker image` has them.
struct ImageCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "image", abstract: "Manage images.",
    subcommands: [
      ImageList.self, ImageInspect.self, ImageRemove.self, ImagePrune.self, Tag.self, Pull.self, Push.self,
      Save.self, Load.self, Import.self, History.self, Build.self,
    ])
}

struct ImageList: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "ls", abstract: "List images.", aliases: ["list"])
  @OptionGroup var images: Images
  func run() async throws { try await images.run() }
}

enum ImageInspection {
  /// Docker's image inspect object, its keys in Docker's order.
  static func object(_ image: ImageRecord, store: ImageStore) throws -> JSONValue {
    let (config, configBytes) = try store.config(of: image)
    let raw = (try? JSON.parse(configBytes))?.objectValue ?? JSONObject()
    func strings(_ values: [String]) -> JSONValue { .array(values.map { .string($0) }) }
    var object: JSONObject = [
      "Id": .string(image.id.description),
      "RepoTags": strings(image.tags.map { ImageReference.familiar($0) }),
      "RepoDigests": strings(image.repoDigests.map { ImageReference.familiar($0) }),
      "Parent": "",
      "Comment": .string(config.history?.last?.comment ?? ""),
      "Created": .string(config.created ?? ""),
      "DockerVersion": raw["docker_version"] ?? "",
      "Author": .string(config.author ?? ""),
      "Config": raw["config"] ?? .object(JSONObject()),
      "Architecture": .string(config.architecture),
    ]
    if let variant = config.variant { object["Variant"] = .string(variant) }
    object["Os"] = .string(config.os)
    object["Size"] = .number(JSONNumber(image.size))
    object["GraphDriver"] = .object([
      "Data": .object(["LowerDir": .string(try store.layerDirectories(of: image).reversed().joined(separator: ":"))]),
      "Name": "overlay2",
    ])
    object["RootFS"] = .object(["Type": .string(config.rootfs.type), "Layers": strings(config.rootfs.diff_ids)])
    object["Metadata"] = .object([
      "LastTagTime": .string(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: image.added))),
    ])
    return .object(object)
  }
}

/// `berth tag SOURCE TARGET`.
struct Tag: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tag", abstract: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.")
  @OptionGroup var global: GlobalOptions
  @Argument(help: "SOURCE_IMAGE[:TAG]") var source: String
  @Argument(help: "TARGET_IMAGE[:TAG]") var target: String

  func run() async throws {
    try global.store().tag(source, as: target)
  }
}

/// `berth rmi` and `berth image rm`.
struct Rmi: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "rmi", abstract: "Remove one or more images.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Remove the image even when it has several tags or containers use it.") var force = false
  @Argument(help: "Images to remove.") var names: [String]

  func validate() throws {
    if names.isEmpty { throw ValidationError("\"rmi\" requires at least 1 argument") }
  }

  func run() async throws {
    let store = try global.store()
    var failures: [String] = []
    var deleted = false
    for name in names {
      do {
        for event in try store.remove(name, force: force) {
          print(event)
          if case .deleted = event { deleted = true }
        }
      } catch let error as BerthError {
        failures.append(error.message)
      }
    }
    // As docker does: a deleted image's blobs and layers go at once.
    if deleted { _ = try await store.collectGarbage() }
    if !failures.isEmpty { throw CommandFailure(message: failures.joined(separator: "\n")) }
  }
}

struct ImageRemove: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more images.", aliases: ["remove"])
  @OptionGroup var rmi: Rmi
  func run() async throws { try await rmi.run() }
}

/// `berth image prune [-a] [-f]`.
struct ImagePrune: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused images.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Remove all images no container uses, not just dangling ones.") var all = false
  @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.") var force = false

  func run() async throws {
    if !force && isatty(0) != 0 {
      let what = all ? "all images without at least one container associated to them" : "all dangling images"
      print("WARNING! This will remove \(what).\nAre you sure you want to continue? [y/N] ", terminator: "")
      fflush(nil)
      guard let answer = readLine(), answer.lowercased().hasPrefix("y") else { return }
    }
    let report = try await global.store().prune(all: all)
    CLIOutput.printSection("Deleted Images:", report.removed.map(CLIOutput.removalLine))
    print("Total reclaimed space: \(Humanize.size(report.reclaimed))")
  }
}

/// `berth history IMAGE`.
struct History: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "history", abstract: "Show the history of an image.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .customLong("no-trunc"), help: "Don't truncate output.") var noTrunc = false
  @Flag(name: .shortAndLong, help: "Only show image IDs.") var quiet = false
  @Option(name: [.customShort("H"), .long], help: "Print sizes and dates in a human readable format.") var human = true
  @Option(help: "Format output with a Go template.") var format: String?
  @Argument(help: "The image.") var name: String

  func run() async throws {
    let store = try global.store()
    let image = try store.resolve(name)
    let config = try store.config(of: image).config
    let chainIDs = try store.chainIDs(of: image)
    var layerSizes = try chainIDs.map { try store.layers.size($0) }
    var rows: [[String: String]] = []
    let history = config.history ?? config.rootfs.diff_ids.map { _ in BerthOCI.History() }
    for (index, entry) in history.enumerated().reversed() {
      var size: Int64 = 0
      if entry.empty_layer != true, !layerSizes.isEmpty { size = layerSizes.removeLast() }
      let created = Humanize.date(entry.created)
      var createdBy = entry.created_by ?? ""
      if !noTrunc && createdBy.count > 45 { createdBy = String(createdBy.prefix(44)) + "…" }
      rows.append([
        "ID": index == history.count - 1 ? (noTrunc ? image.id.description : image.id.shortID) : "<missing>",
        "CreatedSince": created.map { Humanize.ago($0) } ?? "N/A",
        "CreatedAt": entry.created ?? "",
        "CreatedBy": createdBy,
        "Size": Humanize.size(size),
        "Comment": entry.comment ?? "",
      ])
    }
    if quiet {
      for row in rows { print(row["ID"] ?? "") }
      return
    }
    if let format {
      let template = try OutputTemplate(format)
      if template.isTable {
        print(template.header(["ID": "IMAGE", "CreatedSince": "CREATED", "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"]))
      }
      for row in rows { print(template.render(fields: row, json: row)) }
      return
    }
    var table = TextTable(header: ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"])
    for row in rows {
      table.add([row["ID"] ?? "", row["CreatedSince"] ?? "", row["CreatedBy"] ?? "", row["Size"] ?? "", row["Comment"] ?? ""])
    }
    print(table.render(), terminator: "")
  }
}
