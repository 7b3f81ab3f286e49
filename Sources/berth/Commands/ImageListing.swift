import ArgumentParser
import BerthImages
import BerthOCI
import BerthOS
import Foundation

/// `berth images` and `berth image ls`.
struct Images: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "images", abstract: "List images.")

  @OptionGroup var global: GlobalOptions
  @Argument(help: "Show only images of this repository[:tag].") var repository: String?
  @Flag(name: .shortAndLong, help: "Show all images (the default shows the same).") var all = false
  @Flag(name: .shortAndLong, help: "Only show image IDs.") var quiet = false
  @Flag(help: "Show digests.") var digests = false
  @Flag(name: .customLong("no-trunc"), help: "Don't truncate output.") var noTrunc = false
  @Option(name: .shortAndLong, help: "Filter output (dangling=true|false, label=KEY[=VALUE], reference=PATTERN, before=IMAGE, since=IMAGE).")
  var filter: [String] = []
  @Option(help: "Format output with a Go template, or 'json' / 'table'.") var format: String?

  func run() async throws {
    let store = try global.store()
    let rows = try ImageRows.make(store: store, repository: repository, filters: filter)
    if quiet {
      var seen = Set<String>()
      for row in rows where seen.insert(row.image.id.description).inserted {
        print(noTrunc ? row.image.id.description : row.image.id.shortID)
      }
      return
    }
    if let format, format != "table" {
      let template = try OutputTemplate(format == "json" ? "{{json .}}" : format)
      if template.isTable { print(template.header(ImageRows.headers)) }
      for row in rows { print(template.render(fields: row.fields(noTrunc: noTrunc), json: row.json(noTrunc: noTrunc))) }
      return
    }
    var table = TextTable(header: digests
      ? ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"]
      : ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"])
    for row in rows {
      let fields = row.fields(noTrunc: noTrunc)
      var cells = [fields["Repository"] ?? "", fields["Tag"] ?? ""]
      if digests { cells.append(fields["Digest"] ?? "") }
      cells += [fields["ID"] ?? "", fields["CreatedSince"] ?? "", fields["Size"] ?? ""]
      table.add(cells)
    }
    print(table.render(), terminator: "")
  }
}

/// One row of `images`: an image under one of its names.
struct ImageRows {
  let image: ImageRecord
  /// Familiar repository and tag ("busybox", "latest"), or "<none>".
  let repository: String
  let tag: String
  let digest: String

  static let headers = [
    "Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
    "Size": "SIZE", "Digest": "DIGEST",
  ]

  static func make(store: ImageStore, repository filterRepository: String?, filters: [String]) throws -> [ImageRows] {
    var rows: [ImageRows] = []
    let images = try store.images().sorted { ($0.created ?? "") > ($1.created ?? "") }
    let predicates = try filters.map { try ImageFilter($0, store: store) }
    for image in images {
      guard try predicates.allSatisfy({ try $0.matches(image, store: store) }) else { continue }
      let digestsByRepository = Dictionary(
        image.repoDigests.compactMap { name -> (String, String)? in
          guard let at = name.lastIndex(of: "@") else { return nil }
          return (String(name[..<at]), String(name[name.index(after: at)...]))
        }, uniquingKeysWith: { first, _ in first })
      if image.tags.isEmpty {
        // Untagged: "<none>" tag, and the repository it was pulled from by digest, if any.
        if let (repository, digest) = digestsByRepository.sorted(by: { $0.key < $1.key }).first,
           let reference = try? ImageReference.parse(repository) {
          if filterRepository == nil || Self.matches(reference, filterRepository ?? "") {
            rows.append(ImageRows(image: image, repository: reference.familiarName, tag: "<none>", digest: digest))
          }
        } else if filterRepository == nil {
          rows.append(ImageRows(image: image, repository: "<none>", tag: "<none>", digest: "<none>"))
        }
        continue
      }
      for name in image.tags {
        guard let reference = try? ImageReference.parse(name) else { continue }
        if let filterRepository, !Self.matches(reference, filterRepository) { continue }
        rows.append(ImageRows(
          image: image, repository: reference.familiarName, tag: reference.tag ?? "latest",
          digest: digestsByRepository[reference.repository] ?? "<none>"))
      }
    }
    return rows
  }

  /// `berth images busybox` / `busybox:1.36`.
  static func matches(_ reference: ImageReference, _ filter: String) -> Bool {
    guard let wanted = try? ImageReference.parse(filter), wanted.repository == reference.repository else { return false }
    // A tag in the filter ("busybox:1.36") must match too; a port ("localhost:5000/x") is not one.
    let lastComponent = filter.split(separator: "/").last ?? ""
    return !lastComponent.contains(":") || wanted.tag == reference.tag
  }

  func fields(noTrunc: Bool) -> [String: String] {
    let created = Humanize.date(image.created)
    return [
      "Repository": repository, "Tag": tag, "Digest": digest,
      "ID": noTrunc ? image.id.description : image.id.shortID,
      "CreatedSince": created.map { Humanize.ago($0) } ?? "N/A",
      "CreatedAt": image.created ?? "",
      "Size": Humanize.size(image.size), "VirtualSize": Humanize.size(image.size),
      "SharedSize": "N/A", "UniqueSize": "N/A", "Containers": "N/A",
    ]
  }

  func json(noTrunc: Bool) -> [String: Any] { fields(noTrunc: noTrunc) }
}

/// `--filter` for images.
struct ImageFilter {
  let key: String
  let value: String
  let reference: ImageRecord?

  init(_ text: String, store: ImageStore) throws {
    guard let equals = text.firstIndex(of: "=") else {
      throw ValidationError("bad format of filter (expected name=value): \(text)")
    }
    key = String(text[..<equals])
    value = String(text[text.index(after: equals)...])
    switch key {
    case "dangling":
      guard value == "true" || value == "false" else {
        throw ValidationError("invalid filter 'dangling=\(value)': use true or false")
      }
      reference = nil
    case "label", "reference": reference = nil
    case "before", "since": reference = try store.resolve(value)
    default:
      throw ValidationError("invalid filter '\(key)': use dangling, label, reference, before or since")
    }
  }

  func matches(_ image: ImageRecord, store: ImageStore) throws -> Bool {
    switch key {
    case "dangling": return image.tags.isEmpty == (value == "true")
    case "label":
      let labels = try store.config(of: image).config.config?.Labels ?? [:]
      if let equals = value.firstIndex(of: "=") {
        return labels[String(value[..<equals])] == String(value[value.index(after: equals)...])
      }
      return labels[value] != nil
    case "reference":
      return image.tags.contains { name in
        guard let reference = try? ImageReference.parse(name) else { return false }
        return fnmatch(value, reference.familiarName, 0) == 0
          || fnmatch(value, "\(reference.familiarName):\(reference.tag ?? "latest")", 0) == 0
      }
    case "before": return (image.created ?? "") < (reference?.created ?? "")
    case "since": return (image.created ?? "") > (reference?.created ?? "")
    default: return true
    }
  }
}
