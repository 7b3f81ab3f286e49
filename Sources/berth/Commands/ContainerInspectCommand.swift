import ArgumentParser
import BerthEngine
import BerthImages
import BerthJSON
import BerthOS
import Foundation

/// `berth inspect [--type container|image|volume] [-s] [-f FORMAT] NAME...`: Docker-shaped
/// JSON for whatever each name names, looked up in Docker's order (containers, then images,
/// then volumes) unless `--type` says which.
struct Inspect: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspect", abstract: "Return low-level information on Docker objects.")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Format output using a Go template.") var format: String?
  @Flag(name: .shortAndLong, help: "Display total file sizes if the type is container.") var size = false
  @Option(name: .customLong("type"), help: "Return JSON for specified type (container, image, volume).") var type: String?
  @Argument(help: "Names or IDs of objects to inspect.") var names: [String] = []

  func validate() throws {
    if names.isEmpty { throw ValidationError("\"inspect\" requires at least 1 argument") }
  }

  func run() async throws {
    let kinds: [InspectKind]
    if let type {
      guard let kind = InspectKind(rawValue: type) else {
        throw CommandFailure(message: "\(quoted(type)) is not a valid value for --type")
      }
      kinds = [kind]
    } else {
      kinds = InspectKind.allCases
    }
    try InspectRunner(engine: try global.engine(), kinds: kinds, size: size).run(names, format: format)
  }
}

/// `berth image inspect`.
struct ImageInspect: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more images.")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Format output using a Go template.") var format: String?
  @Argument(help: "Images to inspect.") var names: [String] = []

  func validate() throws {
    if names.isEmpty { throw ValidationError("\"inspect\" requires at least 1 argument") }
  }

  func run() async throws {
    try InspectRunner(engine: try global.engine(), kinds: [.image], size: false).run(names, format: format)
  }
}

/// What `inspect` can look a name up as, in Docker's order.
enum InspectKind: String, CaseIterable {
  case container, image, volume
}

/// Looks names up, prints the objects found (a JSON array, or one template line each), then
/// the names not found, as docker does: `[]` and "Error: No such object: x", exit 1.
struct InspectRunner {
  let engine: ContainerEngine
  let kinds: [InspectKind]
  let size: Bool

  func run(_ names: [String], format: String?) throws {
    var objects: [JSONValue] = []
    var errors: [String] = []
    for name in names {
      do {
        if let object = try lookUp(name) {
          objects.append(object)
        } else {
          errors.append("No such \(kinds.count == 1 ? kinds[0].rawValue : "object"): \(name)")
        }
      } catch let error as BerthError {
        errors.append(error.message)
      }
    }
    if let format {
      let template = InspectTemplate(try OutputTemplate(format, blocks: true))
      for object in objects { print(template.render(object)) }
    } else {
      print(InspectTemplate.indented(.array(objects)))
    }
    if !errors.isEmpty {
      for error in errors { writeToStandardError("Error: \(error)\n") }
      throw CommandFailure(message: "")
    }
  }

  /// The first object of the allowed kinds that `name` names; nil when none does.
  func lookUp(_ name: String) throws -> JSONValue? {
    for kind in kinds {
      do {
        switch kind {
        case .container:
          return try engine.inspect(try engine.containers.resolve(name), size: size)
        case .image:
          return try ImageInspection.object(try engine.images.resolve(name), store: engine.images)
        case .volume:
          return engine.volumes.inspect(try engine.volumes.get(name))
        }
      } catch let error as BerthError where error.code == .notFound {
        continue
      }
    }
    return nil
  }
}

/// `inspect --format`: the template's field paths (`.State.Pid`, `.Config.Env`) looked up in
/// the object's JSON, and values printed as Go's templates print them.
struct InspectTemplate {
  let template: OutputTemplate

  init(_ template: OutputTemplate) { self.template = template }

  func render(_ object: JSONValue) -> String {
    var next = 0
    return render(template.pieces, from: &next, dot: object)
  }

  /// The pieces from `next` up to the `end` of the block (or the last), with `dot` as `.`;
  /// `next` ends after that `end`. A range renders its body once per element (a map's
  /// values in key order, as Go does), and skips it for none.
  private func render(_ pieces: [OutputTemplate.Piece], from next: inout Int, dot object: JSONValue) -> String {
    var out = ""
    while next < pieces.count {
      let piece = pieces[next]
      next += 1
      switch piece {
      case .end: return out
      case .range(let path):
        let target = path.map { Self.value(at: $0, in: object)?.value ?? .null } ?? object
        let elements: [JSONValue]
        switch target {
        case .array(let values): elements = values
        case .object(let members): elements = members.sorted { $0.key < $1.key }.map(\.value)
        default: elements = []
        }
        let body = next
        if elements.isEmpty { _ = render(pieces, from: &next, dot: .null) }
        for element in elements {
          next = body
          out += render(pieces, from: &next, dot: element)
        }
      case .index(let path, let key):
        let value = Self.value(at: path, in: object)?.value.objectValue?[key]
        out += value.map { Self.goText($0, key: key) } ?? "<no value>"
      case .text(let text): out += text
      case .field(let path): out += Self.value(at: path, in: object).map { Self.goText($0.value, key: $0.key) } ?? "<no value>"
      case .json(nil): out += JSON.serializeString(object)
      case .json(let path?): out += Self.value(at: path, in: object).map { JSON.serializeString($0.value) } ?? "null"
      case .function(let name, let path, let argument):
        let text = Self.value(at: path, in: object).map { Self.goText($0.value, key: $0.key) } ?? ""
        switch name {
        case "upper": out += text.uppercased()
        case "lower": out += text.lowercased()
        default: out += String(text.prefix(argument ?? text.count))
        }
      }
    }
    return out
  }

  /// The value at "A.B.C", with the last key (which tells how Go would print a null).
  static func value(at path: String, in object: JSONValue) -> (value: JSONValue, key: String)? {
    var current = object
    var key = ""
    for part in path.split(separator: ".") {
      key = String(part)
      guard let next = current.objectValue?[key] else { return nil }
      current = next
    }
    return (current, key)
  }

  /// Docker's maps (printed "map[k:v]"); its other objects are structs (printed "{v1 v2}").
  static let mapKeys: Set<String> = [
    "Labels", "Volumes", "Sysctls", "Tmpfs", "Networks", "Ports", "Data", "ExposedPorts", "Config", "Options",
    "DriverOpts", "StorageOpt", "PortBindings",
  ]
  /// Docker's pointer fields (printed "<nil>" when unset); other nulls are empty lists.
  static let pointerKeys: Set<String> = [
    "MemorySwappiness", "PidsLimit", "OomKillDisable", "Health", "Healthcheck", "Init", "IPAMConfig",
  ]

  /// How Go's fmt prints a value decoded into Docker's types.
  static func goText(_ value: JSONValue, key: String) -> String {
    switch value {
    case .null: return pointerKeys.contains(key) ? "<nil>" : mapKeys.contains(key) ? "map[]" : "[]"
    case .bool(let flag): return flag ? "true" : "false"
    case .number(let number): return number.description
    case .string(let text): return text
    case .array(let elements): return "[" + elements.map { goText($0, key: "") }.joined(separator: " ") + "]"
    case .object(let members):
      if mapKeys.contains(key) {
        let sorted = members.sorted { $0.key < $1.key }
        return "map[" + sorted.map { "\($0.key):\(goText($0.value, key: $0.key))" }.joined(separator: " ") + "]"
      }
      return "{" + members.map { goText($0.value, key: $0.key) }.joined(separator: " ") + "}"
    }
  }

  /// Pretty JSON indented by four spaces, as `docker inspect` prints it.
  static func indented(_ value: JSONValue) -> String {
    // The serializer indents by two; JSON strings hold no raw newlines, so every line's
    // leading spaces are indentation and can be doubled.
    let text: String = JSON.serializeString(value, options: .prettyPrinted)
    return text.components(separatedBy: "\n").map { line in
      let indent = line.prefix { $0 == " " }.count
      return String(repeating: " ", count: indent * 2) + line.dropFirst(indent)
    }.joined(separator: "\n")
  }
}
