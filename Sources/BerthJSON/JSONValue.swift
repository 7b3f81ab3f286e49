/// Any JSON value: what ``JSON`` parses, and what it serializes.
///
/// `JSONValue` is itself `Codable`, so a Codable type can keep an opaque part of a document
/// (`var extra: JSONValue?`) and write it back unchanged.
public enum JSONValue: Equatable, Sendable {
  case null
  case bool(Bool)
  /// A number, kept as its literal text so 64-bit integers round-trip exactly.
  case number(JSONNumber)
  case string(String)
  case array([JSONValue])
  /// An object with ordered keys; when parsing, a duplicate key's last value wins.
  case object(JSONObject)
}

extension JSONValue {
  /// Whether the value is `null`.
  public var isNull: Bool {
    if case .null = self { return true }
    return false
  }

  /// The boolean, if the value is one.
  public var boolValue: Bool? {
    if case .bool(let value) = self { return value }
    return nil
  }

  /// The string, if the value is one.
  public var stringValue: String? {
    if case .string(let value) = self { return value }
    return nil
  }

  /// The number, if the value is one.
  public var numberValue: JSONNumber? {
    if case .number(let value) = self { return value }
    return nil
  }

  /// The elements, if the value is an array.
  public var arrayValue: [JSONValue]? {
    if case .array(let value) = self { return value }
    return nil
  }

  /// The object, if the value is one.
  public var objectValue: JSONObject? {
    if case .object(let value) = self { return value }
    return nil
  }

  /// The member named `key`, if the value is an object that has it.
  public subscript(key: String) -> JSONValue? {
    objectValue?[key]
  }

  /// The element at `index`, if the value is an array long enough.
  public subscript(index: Int) -> JSONValue? {
    guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
    return elements[index]
  }

  /// The kind of value with an article, for messages: "a string", "an object", "null".
  var kindDescription: String {
    switch self {
    case .null: "null"
    case .bool: "a boolean"
    case .number: "a number"
    case .string: "a string"
    case .array: "an array"
    case .object: "an object"
    }
  }

  /// A short rendering for messages: scalars as JSON (`"foo"`, `1.5`), containers by kind.
  var briefDescription: String {
    switch self {
    case .array, .object:
      return kindDescription
    default:
      let text = JSON.serializeString(self)
      guard text.utf8.count > 80 else { return text }
      return String(text.prefix(77)) + "..."
    }
  }
}

extension JSONValue: CustomStringConvertible {
  /// The value as compact JSON.
  public var description: String { JSON.serializeString(self) }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral,
  ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
  ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
  public init(nilLiteral: ()) { self = .null }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(integerLiteral value: Int64) { self = .number(JSONNumber(value)) }
  /// Non-finite literals become `null`, as JavaScript's `JSON.stringify` does.
  public init(floatLiteral value: Double) {
    if let number = JSONNumber(value) { self = .number(number) } else { self = .null }
  }
  public init(stringLiteral value: String) { self = .string(value) }
  public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
  public init(dictionaryLiteral elements: (String, JSONValue)...) {
    self = .object(JSONObject(elements))
  }
}
