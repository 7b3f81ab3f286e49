import BerthJSON

/// Shorthands for building Docker's inspect objects, whose keys keep Docker's order.
enum InspectJSON {
  static func string(_ text: String?) -> JSONValue { .string(text ?? "") }

  static func number<T: FixedWidthInteger>(_ value: T?) -> JSONValue { .number(JSONNumber(value ?? 0)) }

  /// A number, or null when unset (Docker's pointer fields: PidsLimit, MemorySwappiness).
  static func optionalNumber<T: FixedWidthInteger>(_ value: T?) -> JSONValue {
    value.map { .number(JSONNumber($0)) } ?? .null
  }

  /// A list of strings; null when nil, as Go writes a nil slice.
  static func strings(_ values: [String]?) -> JSONValue {
    values.map { .array($0.map { .string($0) }) } ?? .null
  }

  /// A list that Docker leaves nil when empty (CapAdd, Binds, SecurityOpt).
  static func stringsOrNull(_ values: [String]) -> JSONValue {
    values.isEmpty ? .null : strings(values)
  }

  /// A string map with sorted keys (Go's encoder sorts map keys).
  static func map(_ values: [String: String]) -> JSONValue {
    .object(JSONObject(values.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
  }

  /// A set of paths as Docker writes `map[string]struct{}` ("Volumes", "ExposedPorts").
  static func set(_ keys: [String]?) -> JSONValue {
    guard let keys, !keys.isEmpty else { return .null }
    return .object(JSONObject(keys.sorted().map { ($0, .object(JSONObject())) }))
  }
}
