import Foundation

/// The `--format` templates Docker users write: `{{.Repository}}:{{.Tag}}`, `{{json .}}`,
/// `{{.ID}}\t{{.Size}}`, and the `table` prefix that adds a header row. A subset of Go's
/// text/template: field references, `json`, `upper`, `lower`, `truncate N`; with `blocks`
/// (inspect's nested objects) also `range … end` and `index .Map "key"`.
struct OutputTemplate {
  enum Piece {
    case text(String)
    case field(String)
    case json(String?)
    case function(String, field: String, argument: Int?)
    /// `{{range .Path}}` (nil: range over `.`) up to its `{{end}}`.
    case range(String?)
    case end
    /// `{{index .Path "key"}}`.
    case index(String, key: String)
  }

  let pieces: [Piece]
  let isTable: Bool

  init(_ format: String, blocks: Bool = false) throws {
    var text = format
    isTable = text.hasPrefix("table ") || text == "table"
    if isTable { text = String(text.dropFirst("table".count)).trimmingCharacters(in: .whitespaces) }
    text = text.replacingOccurrences(of: "\\t", with: "\t").replacingOccurrences(of: "\\n", with: "\n")
    var pieces: [Piece] = []
    var rest = Substring(text)
    while let open = rest.range(of: "{{") {
      if open.lowerBound > rest.startIndex { pieces.append(.text(String(rest[..<open.lowerBound]))) }
      guard let close = rest[open.upperBound...].range(of: "}}") else {
        throw FormatError("unterminated {{ in --format \(format)")
      }
      let action = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
      pieces.append(try blocks ? Self.parseBlock(action, format: format) : Self.parse(action, format: format))
      rest = rest[close.upperBound...]
    }
    if !rest.isEmpty { pieces.append(.text(String(rest))) }
    var depth = 0
    for piece in pieces {
      if case .range = piece { depth += 1 }
      if case .end = piece { depth -= 1 }
      if depth < 0 { throw FormatError("{{end}} without {{range}} in --format \(format)") }
    }
    if depth > 0 { throw FormatError("{{range}} without {{end}} in --format \(format)") }
    self.pieces = pieces
  }

  /// The block actions, then the flat ones; a bare `.` is the current value (the element
  /// inside a range), printed as Go prints it.
  static func parseBlock(_ action: String, format: String) throws -> Piece {
    let words = action.split(separator: " ").map(String.init)
    switch words.first {
    case "end" where words.count == 1: return .end
    case "range" where words.count == 2:
      return .range(words[1] == "." ? nil : try pathOf(words[1], action: action, format: format))
    case "index" where words.count == 3 && words[2].count >= 2 && words[2].hasPrefix("\"") && words[2].hasSuffix("\""):
      return .index(try pathOf(words[1], action: action, format: format), key: String(words[2].dropFirst().dropLast()))
    case "." where words.count == 1: return .field("")
    default: return try parse(action, format: format)
    }
  }

  private static func pathOf(_ word: String, action: String, format: String) throws -> String {
    guard word.hasPrefix("."), word.count > 1 else { throw FormatError("unsupported template action {{\(action)}} in --format \(format)") }
    return String(word.dropFirst())
  }

  static func parse(_ action: String, format: String) throws -> Piece {
    let words = action.split(separator: " ").map(String.init)
    func field(_ word: String) throws -> String? {
      if word == "." { return nil }
      guard word.hasPrefix(".") else { throw FormatError("unsupported template action {{\(action)}} in --format \(format)") }
      return String(word.dropFirst())
    }
    switch words.first {
    case "json" where words.count == 2: return .json(try field(words[1]))
    case "upper" where words.count == 2, "lower" where words.count == 2:
      return .function(words[0], field: try field(words[1]) ?? "", argument: nil)
    case "truncate" where words.count == 3:
      return .function("truncate", field: try field(words[1]) ?? "", argument: Int(words[2]))
    case let word? where words.count == 1:
      guard let name = try field(word) else { return .json(nil) }
      return .field(name)
    default:
      throw FormatError("unsupported template action {{\(action)}} in --format \(format)")
    }
  }

  /// The header row for `table` formats: field names in Docker's upper-case style.
  func header(_ headers: [String: String]) -> String {
    pieces.map { piece in
      switch piece {
      case .text(let text): return text
      case .field(let name), .function(_, field: let name, argument: _): return headers[name] ?? name.uppercased()
      case .json, .range, .end, .index: return ""
      }
    }.joined()
  }

  /// Renders one object: `fields` are the template's view of it, `json` its full JSON form.
  func render(fields: [String: String], json: Any) -> String {
    pieces.map { piece in
      switch piece {
      case .text(let text): return text
      case .field(let name): return fields[name] ?? "<no value>"
      case .range, .end, .index: return ""  // parsed only with `blocks`, which lists do not ask for
      case .json(nil): return Self.jsonString(json)
      case .json(let name?):
        if let dictionary = json as? [String: Any], let value = dictionary[name] { return Self.jsonString(value) }
        return Self.jsonString(fields[name] ?? "")
      case .function(let name, let field, let argument):
        let value = fields[field] ?? ""
        switch name {
        case "upper": return value.uppercased()
        case "lower": return value.lowercased()
        default: return String(value.prefix(argument ?? value.count))
        }
      }
    }.joined()
  }

  static func jsonString(_ value: Any) -> String {
    if let string = value as? String {
      let data = (try? JSONSerialization.data(withJSONObject: [string], options: [.withoutEscapingSlashes])) ?? Data()
      return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
    guard JSONSerialization.isValidJSONObject(value) || value is NSNumber,
          let data = try? JSONSerialization.data(withJSONObject: value, options: [.withoutEscapingSlashes, .sortedKeys, .fragmentsAllowed])
    else { return "null" }
    return String(decoding: data, as: UTF8.self)
  }
}

struct FormatError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
