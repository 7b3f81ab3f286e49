/// The single error type of BerthJSON: syntax errors from the parser, and decoding or encoding
/// errors that name the field they concern.
///
/// ```
/// linux.namespaces[2].type: expected a string, found a number
/// invalid JSON at line 3, column 14: expected ',' or '}'
/// ```
public struct JSONError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The coding path of the value at fault, such as `process.capabilities.bounding[3]`;
  /// `""` for the top-level value and for syntax errors.
  ///
  /// Keys that are not plain identifiers are quoted, as in `annotations["io.k8s.pod"]`.
  public var path: String
  /// What was expected and what was found, without the path or position.
  public var message: String
  /// For syntax errors, the 1-based line of the offending byte; `nil` otherwise.
  public var line: Int?
  /// For syntax errors, the 1-based column (in Unicode scalars) of the offending byte.
  public var column: Int?

  /// Creates an error about the value at `path`.
  public init(path: String, message: String) {
    self.path = path
    self.message = message
  }

  /// Creates a syntax error at a position in the input.
  public init(syntax message: String, line: Int, column: Int) {
    self.path = ""
    self.message = message
    self.line = line
    self.column = column
  }

  /// Whether the input was not valid JSON (as opposed to valid JSON of the wrong shape).
  public var isSyntaxError: Bool { line != nil }

  public var description: String {
    if let line, let column {
      return "invalid JSON at line \(line), column \(column): \(message)"
    }
    return path.isEmpty ? message : "\(path): \(message)"
  }

  init(at path: CodingPath, _ message: String) {
    self.init(path: path.description, message: message)
  }
}

// MARK: - Coding paths

/// A coding path kept as a persistent linked list: children share their parent's nodes, so
/// descending into a value costs one small allocation rather than copying an array of keys.
/// The array form that `Decoder.codingPath` needs is built only when asked for.
indirect enum CodingPath: Sendable {
  case root
  case key(String, parent: CodingPath)
  case index(Int, parent: CodingPath)

  func appending(_ key: some CodingKey) -> CodingPath { .key(key.stringValue, parent: self) }
  func appending(key: String) -> CodingPath { .key(key, parent: self) }
  func appending(index: Int) -> CodingPath { .index(index, parent: self) }

  /// The number of components.
  var depth: Int {
    var count = 0
    var node = self
    while true {
      switch node {
      case .root: return count
      case .key(_, let parent), .index(_, let parent):
        count += 1
        node = parent
      }
    }
  }

  /// The components from the root down.
  var keys: [any CodingKey] {
    var reversed: [any CodingKey] = []
    var node = self
    while true {
      switch node {
      case .root: return reversed.reversed()
      case .key(let name, let parent):
        reversed.append(StringKey(name))
        node = parent
      case .index(let index, let parent):
        reversed.append(IndexKey(index))
        node = parent
      }
    }
  }

  /// The human-readable form, e.g. `linux.namespaces[2].type`.
  var description: String { CodingPath.format(keys) }

  /// Formats any coding path (ours, or one carried by a `DecodingError` from user code).
  static func format(_ keys: [any CodingKey]) -> String {
    var text = ""
    for key in keys {
      if let index = key as? IndexKey {
        text += "[\(index.index)]"
      } else if let index = key.intValue, key.stringValue == "Index \(index)" {
        // The array-index keys of other coders (Foundation spells them "Index N").
        text += "[\(index)]"
      } else if isPlainName(key.stringValue) {
        text += text.isEmpty ? key.stringValue : "." + key.stringValue
      } else {
        // Keys such as "io.kubernetes.cri.sandbox-id" would be ambiguous after a dot.
        text += "[" + JSON.serializeString(.string(key.stringValue)) + "]"
      }
    }
    return text
  }

  private static func isPlainName(_ name: String) -> Bool {
    guard !name.isEmpty else { return false }
    return name.utf8.allSatisfy { byte in
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
        return true
      default:
        return false
      }
    }
  }
}

/// A coding key for an object member.
struct StringKey: CodingKey {
  var stringValue: String
  var intValue: Int? { nil }
  init(_ string: String) { stringValue = string }
  init(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) { return nil }
}

/// A coding key for an array element.
struct IndexKey: CodingKey {
  var index: Int
  init(_ index: Int) { self.index = index }
  var stringValue: String { "Index \(index)" }
  var intValue: Int? { index }
  init?(stringValue: String) { return nil }
  init(intValue: Int) { index = intValue }
}
