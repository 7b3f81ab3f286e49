/// A `Decoder` over a parsed ``JSONValue``.
///
/// Every error it raises is a ``JSONError`` whose path is the full coding path. Errors thrown
/// by `init(from:)` implementations as `DecodingError` (including the synthesized one of
/// `enum X: String, Codable` for an unknown raw value) are translated to `JSONError` at the
/// level where they occur, where the offending value is known.
final class JSONValueDecoder: Decoder {
  let value: JSONValue
  let path: CodingPath

  init(value: JSONValue, path: CodingPath) {
    self.value = value
    self.path = path
  }

  var codingPath: [any CodingKey] { path.keys }
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
    guard case .object(let object) = value else { throw mismatch("an object", value, path) }
    return KeyedDecodingContainer(KeyedContainer(object: object, path: path))
  }

  func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
    guard case .array(let elements) = value else { throw mismatch("an array", value, path) }
    return UnkeyedContainer(elements: elements, path: path)
  }

  func singleValueContainer() throws -> any SingleValueDecodingContainer {
    SingleValueContainer(value: value, path: path)
  }

  /// Decodes any `Decodable` from `value`: scalars and ``JSONValue`` directly, everything else
  /// through a nested decoder.
  static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue, at path: CodingPath) throws -> T {
    if let scalar = try ScalarDispatch.unbox(T.self, value, at: path) { return scalar }
    if T.self == JSONValue.self, let json = value as? T { return json }
    do {
      return try T(from: JSONValueDecoder(value: value, path: path))
    } catch let error as DecodingError {
      throw JSONError(translating: error, value: value, path: path)
    }
  }
}

// MARK: - Keyed

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
  let object: JSONObject
  let path: CodingPath

  var codingPath: [any CodingKey] { path.keys }
  var allKeys: [Key] { object.keys.compactMap { Key(stringValue: $0) } }

  func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

  private func required(_ key: Key) throws(JSONError) -> JSONValue {
    guard let value = object[key.stringValue] else {
      throw JSONError(at: path, "missing required field \(JSON.serializeString(.string(key.stringValue)))")
    }
    return value
  }

  /// The value for `key`, or `nil` if it is missing or `null`.
  private func optional(_ key: Key) -> JSONValue? {
    guard let value = object[key.stringValue], !value.isNull else { return nil }
    return value
  }

  private func scalar<T: JSONScalar>(_ key: Key) throws(JSONError) -> T {
    try T.unbox(required(key), at: path.appending(key))
  }

  private func scalarIfPresent<T: JSONScalar>(_ key: Key) throws(JSONError) -> T? {
    guard let value = optional(key) else { return nil }
    return try T.unbox(value, at: path.appending(key))
  }

  /// A missing key counts as `null`, so `decodeNil` never fails.
  func decodeNil(forKey key: Key) throws -> Bool { object[key.stringValue]?.isNull ?? true }

  func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try scalar(key) }
  func decode(_ type: String.Type, forKey key: Key) throws -> String { try scalar(key) }
  func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try scalar(key) }
  func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try scalar(key) }
  func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try scalar(key) }
  func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try scalar(key) }
  func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try scalar(key) }
  func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try scalar(key) }
  func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try scalar(key) }
  func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try scalar(key) }
  func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try scalar(key) }
  func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try scalar(key) }
  func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try scalar(key) }
  func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try scalar(key) }

  func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
    try JSONValueDecoder.decode(T.self, from: required(key), at: path.appending(key))
  }

  func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try scalarIfPresent(key) }
  func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try scalarIfPresent(key) }
  func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try scalarIfPresent(key) }
  func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try scalarIfPresent(key) }
  func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try scalarIfPresent(key) }
  func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try scalarIfPresent(key) }
  func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try scalarIfPresent(key) }
  func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try scalarIfPresent(key) }
  func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try scalarIfPresent(key) }
  func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try scalarIfPresent(key) }
  func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try scalarIfPresent(key) }
  func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try scalarIfPresent(key) }
  func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try scalarIfPresent(key) }
  func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try scalarIfPresent(key) }

  func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
    guard let value = optional(key) else { return nil }
    return try JSONValueDecoder.decode(T.self, from: value, at: path.appending(key))
  }

  func nestedContainer<NestedKey: CodingKey>(
    keyedBy type: NestedKey.Type, forKey key: Key
  ) throws -> KeyedDecodingContainer<NestedKey> {
    try JSONValueDecoder(value: required(key), path: path.appending(key)).container(keyedBy: type)
  }

  func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
    try JSONValueDecoder(value: required(key), path: path.appending(key)).unkeyedContainer()
  }

  func superDecoder() throws -> any Decoder {
    JSONValueDecoder(value: object["super"] ?? .null, path: path.appending(key: "super"))
  }

  func superDecoder(forKey key: Key) throws -> any Decoder {
    JSONValueDecoder(value: object[key.stringValue] ?? .null, path: path.appending(key))
  }
}

// MARK: - Unkeyed

private struct UnkeyedContainer: UnkeyedDecodingContainer {
  let elements: [JSONValue]
  let path: CodingPath
  private(set) var currentIndex = 0

  init(elements: [JSONValue], path: CodingPath) {
    self.elements = elements
    self.path = path
  }

  var codingPath: [any CodingKey] { path.keys }
  var count: Int? { elements.count }
  var isAtEnd: Bool { currentIndex >= elements.count }

  /// The next element and its path, advancing past it.
  private mutating func next() throws(JSONError) -> (JSONValue, CodingPath) {
    guard !isAtEnd else {
      let count = elements.count
      throw JSONError(at: path, "expected more elements, the array has only \(count)")
    }
    defer { currentIndex += 1 }
    return (elements[currentIndex], path.appending(index: currentIndex))
  }

  private mutating func scalar<T: JSONScalar>() throws(JSONError) -> T {
    let (value, elementPath) = try next()
    return try T.unbox(value, at: elementPath)
  }

  mutating func decodeNil() throws -> Bool {
    guard !isAtEnd else { _ = try next(); return false }
    guard elements[currentIndex].isNull else { return false }
    currentIndex += 1
    return true
  }

  mutating func decode(_ type: Bool.Type) throws -> Bool { try scalar() }
  mutating func decode(_ type: String.Type) throws -> String { try scalar() }
  mutating func decode(_ type: Double.Type) throws -> Double { try scalar() }
  mutating func decode(_ type: Float.Type) throws -> Float { try scalar() }
  mutating func decode(_ type: Int.Type) throws -> Int { try scalar() }
  mutating func decode(_ type: Int8.Type) throws -> Int8 { try scalar() }
  mutating func decode(_ type: Int16.Type) throws -> Int16 { try scalar() }
  mutating func decode(_ type: Int32.Type) throws -> Int32 { try scalar() }
  mutating func decode(_ type: Int64.Type) throws -> Int64 { try scalar() }
  mutating func decode(_ type: UInt.Type) throws -> UInt { try scalar() }
  mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try scalar() }
  mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try scalar() }
  mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try scalar() }
  mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try scalar() }

  mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
    let (value, elementPath) = try next()
    return try JSONValueDecoder.decode(T.self, from: value, at: elementPath)
  }

  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy type: NestedKey.Type
  ) throws -> KeyedDecodingContainer<NestedKey> {
    let (value, elementPath) = try next()
    return try JSONValueDecoder(value: value, path: elementPath).container(keyedBy: type)
  }

  mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
    let (value, elementPath) = try next()
    return try JSONValueDecoder(value: value, path: elementPath).unkeyedContainer()
  }

  mutating func superDecoder() throws -> any Decoder {
    let (value, elementPath) = try next()
    return JSONValueDecoder(value: value, path: elementPath)
  }
}

// MARK: - Single value

private struct SingleValueContainer: SingleValueDecodingContainer {
  let value: JSONValue
  let path: CodingPath

  var codingPath: [any CodingKey] { path.keys }

  private func scalar<T: JSONScalar>() throws(JSONError) -> T { try T.unbox(value, at: path) }

  func decodeNil() -> Bool { value.isNull }
  func decode(_ type: Bool.Type) throws -> Bool { try scalar() }
  func decode(_ type: String.Type) throws -> String { try scalar() }
  func decode(_ type: Double.Type) throws -> Double { try scalar() }
  func decode(_ type: Float.Type) throws -> Float { try scalar() }
  func decode(_ type: Int.Type) throws -> Int { try scalar() }
  func decode(_ type: Int8.Type) throws -> Int8 { try scalar() }
  func decode(_ type: Int16.Type) throws -> Int16 { try scalar() }
  func decode(_ type: Int32.Type) throws -> Int32 { try scalar() }
  func decode(_ type: Int64.Type) throws -> Int64 { try scalar() }
  func decode(_ type: UInt.Type) throws -> UInt { try scalar() }
  func decode(_ type: UInt8.Type) throws -> UInt8 { try scalar() }
  func decode(_ type: UInt16.Type) throws -> UInt16 { try scalar() }
  func decode(_ type: UInt32.Type) throws -> UInt32 { try scalar() }
  func decode(_ type: UInt64.Type) throws -> UInt64 { try scalar() }

  func decode<T: Decodable>(_ type: T.Type) throws -> T {
    try JSONValueDecoder.decode(T.self, from: value, at: path)
  }
}

// MARK: - DecodingError translation

extension JSONError {
  /// Turns a `DecodingError` thrown by an `init(from:)` into a `JSONError`.
  ///
  /// `value` and `path` are the value that `init(from:)` was decoding and its path; the
  /// error's own coding path may point deeper, into that value.
  init(translating error: DecodingError, value: JSONValue, path: CodingPath) {
    switch error {
    case .keyNotFound(let key, let context):
      self.init(
        path: CodingPath.format(context.codingPath),
        message: "missing required field \(JSON.serializeString(.string(key.stringValue)))")
    case .typeMismatch(_, let context), .valueNotFound(_, let context):
      self.init(path: CodingPath.format(context.codingPath), message: context.debugDescription)
    case .dataCorrupted(let context):
      var message = context.debugDescription
      // The standard library's RawRepresentable init(from:) says "Cannot initialize X from
      // invalid String value foo"; a person editing config.json needs the value as written.
      if message.hasPrefix("Cannot initialize "),
        let found = JSONError.value(in: value, at: context.codingPath.dropFirst(path.depth))
      {
        message = "unknown value \(found.briefDescription)"
      }
      self.init(path: CodingPath.format(context.codingPath), message: message)
    @unknown default:
      self.init(at: path, "\(error)")
    }
  }

  /// Follows `keys` down from `value`.
  private static func value(in value: JSONValue, at keys: ArraySlice<any CodingKey>) -> JSONValue? {
    var current = value
    for key in keys {
      switch current {
      case .object(let object):
        guard let member = object[key.stringValue] else { return nil }
        current = member
      case .array(let elements):
        guard let index = key.intValue, elements.indices.contains(index) else { return nil }
        current = elements[index]
      default:
        return nil
      }
    }
    return current
  }
}
