/// An `Encoder` that builds a ``JSONValue``.
///
/// Containers hand out references into a small tree of boxes, because Codable lets a caller
/// keep filling a container after the call that created it has returned. The tree becomes a
/// `JSONValue` once the top-level `encode(to:)` is done.
///
/// Object members keep the order in which they were encoded (declaration order for synthesized
/// conformances), except that dictionaries are written with sorted keys, as Go does, so the
/// output does not depend on hashing.
final class JSONValueEncoder: Encoder {
  let path: CodingPath
  private(set) var node: EncodedNode?

  init(path: CodingPath) {
    self.path = path
  }

  private init(probe: ()) {
    path = .root
    isProbe = true
  }

  var codingPath: [any CodingKey] { path.keys }
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
    let box: ObjectBox
    if case .object(let existing)? = node {
      box = existing  // a type and its superclass may share one container
    } else {
      box = ObjectBox()
      node = .object(box)
    }
    if isProbe {
      keyTypeSeen = ObjectIdentifier(type)
    } else if JSONValueEncoder.isDictionaryKey(type) {
      box.sortKeys = true
    }
    return KeyedEncodingContainer(KeyedContainer(box: box, path: path))
  }

  func unkeyedContainer() -> any UnkeyedEncodingContainer {
    let box: ArrayBox
    if case .array(let existing)? = node {
      box = existing
    } else {
      box = ArrayBox()
      node = .array(box)
    }
    return UnkeyedContainer(box: box, path: path)
  }

  func singleValueContainer() -> any SingleValueEncodingContainer {
    SingleValueContainer(encoder: self)
  }

  fileprivate func set(_ node: EncodedNode) {
    self.node = node
  }

  /// Stores an already-built value (how ``JSONValue`` encodes itself).
  func store(_ value: JSONValue) {
    node = .value(value)
  }

  /// The finished value; a type that encoded nothing becomes `{}`.
  var result: JSONValue { node?.resolve() ?? .object(JSONObject()) }

  /// Encodes any `Encodable`: scalars and ``JSONValue`` directly, everything else through a
  /// nested encoder.
  static func encode<T: Encodable>(_ value: T, at path: CodingPath) throws -> EncodedNode {
    if let scalar = try ScalarDispatch.box(value, at: path) { return .value(scalar) }
    if T.self == JSONValue.self, let json = value as? JSONValue { return .value(json) }
    let encoder = JSONValueEncoder(path: path)
    do {
      try value.encode(to: encoder)
    } catch let error as EncodingError {
      throw JSONError(translating: error)
    }
    return encoder.node ?? .object(ObjectBox())
  }

  /// The coding key type that `Dictionary` uses for its keyed container (a standard-library
  /// internal type), found once by encoding a one-entry dictionary. Its members come out in
  /// hash order, so containers keyed by it are sorted. Comparing metatypes avoids a protocol
  /// cast per value, which costs a scan of all conformance records on first use.
  private static let dictionaryKeyType: ObjectIdentifier? = {
    let probe = JSONValueEncoder(probe: ())
    try? ["": 0].encode(to: probe)
    return probe.keyTypeSeen
  }()

  /// Set on the probe above, which must not consult `dictionaryKeyType` while computing it.
  private var isProbe = false
  /// The key type of the first keyed container asked of the probe.
  private var keyTypeSeen: ObjectIdentifier?

  fileprivate static func isDictionaryKey<Key: CodingKey>(_ type: Key.Type) -> Bool {
    ObjectIdentifier(type) == dictionaryKeyType
  }
}

/// A value under construction.
enum EncodedNode {
  case value(JSONValue)
  case object(ObjectBox)
  case array(ArrayBox)
  /// A `superEncoder()`, read when the tree is resolved.
  case deferred(JSONValueEncoder)

  func resolve() -> JSONValue {
    switch self {
    case .value(let value):
      return value
    case .object(let box):
      var object = JSONObject()
      for (key, node) in box.members.elements { object.members.set(node.resolve(), for: key) }
      if box.sortKeys { object.members.sortByKey() }
      return .object(object)
    case .array(let box):
      return .array(box.elements.map { $0.resolve() })
    case .deferred(let encoder):
      return encoder.result
    }
  }
}

final class ObjectBox {
  var members = OrderedPairs<EncodedNode>()
  var sortKeys = false
}

final class ArrayBox {
  var elements: [EncodedNode] = []
}

// MARK: - Keyed

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
  let box: ObjectBox
  let path: CodingPath

  var codingPath: [any CodingKey] { path.keys }

  private func set(_ value: JSONValue, _ key: Key) {
    box.members.set(.value(value), for: key.stringValue)
  }

  private func scalar(_ value: some JSONScalar, _ key: Key) throws(JSONError) {
    set(try value.box(at: path.appending(key)), key)
  }

  mutating func encodeNil(forKey key: Key) throws { set(.null, key) }
  mutating func encode(_ value: Bool, forKey key: Key) throws { try scalar(value, key) }
  mutating func encode(_ value: String, forKey key: Key) throws { try scalar(value, key) }
  mutating func encode(_ value: Double, forKey key: Key) throws { try scalar(value, key) }
  mutating func encode(_ value: Float, forKey key: Key) throws { try scalar(value, key) }
  mutating func encode(_ value: Int, forKey key: Key) throws { try scalar(value, key) }
  mutating func encode(_ value: Int8, forKey key: Key) throws { try scalar(value, key) }
  mutating func encode(_ value: Int16, forKey key: Key) throws { try scalar(value, key) }
  mutating func encode(_ value: Int32, forKey key: Key) throws { try scalar(value, key) }
  mutating func encode(_ value: Int64, forKey key: Key) throws { try scalar(value, key) }
  mutating func encode(_ value: UInt, forKey key: Key) throws { try scalar(value, key) }
  mutating func encode(_ value: UInt8, forKey key: Key) throws { try scalar(value, key) }
  mutating func encode(_ value: UInt16, forKey key: Key) throws { try scalar(value, key) }
  mutating func encode(_ value: UInt32, forKey key: Key) throws { try scalar(value, key) }
  mutating func encode(_ value: UInt64, forKey key: Key) throws { try scalar(value, key) }

  mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
    box.members.set(try JSONValueEncoder.encode(value, at: path.appending(key)), for: key.stringValue)
  }

  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type, forKey key: Key
  ) -> KeyedEncodingContainer<NestedKey> {
    let nested = ObjectBox()
    box.members.set(.object(nested), for: key.stringValue)
    return KeyedEncodingContainer(KeyedContainer<NestedKey>(box: nested, path: path.appending(key)))
  }

  mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
    let nested = ArrayBox()
    box.members.set(.array(nested), for: key.stringValue)
    return UnkeyedContainer(box: nested, path: path.appending(key))
  }

  mutating func superEncoder() -> any Encoder {
    let encoder = JSONValueEncoder(path: path.appending(key: "super"))
    box.members.set(.deferred(encoder), for: "super")
    return encoder
  }

  mutating func superEncoder(forKey key: Key) -> any Encoder {
    let encoder = JSONValueEncoder(path: path.appending(key))
    box.members.set(.deferred(encoder), for: key.stringValue)
    return encoder
  }
}

// MARK: - Unkeyed

private struct UnkeyedContainer: UnkeyedEncodingContainer {
  let box: ArrayBox
  let path: CodingPath

  var codingPath: [any CodingKey] { path.keys }
  var count: Int { box.elements.count }

  private func scalar(_ value: some JSONScalar) throws(JSONError) {
    box.elements.append(.value(try value.box(at: path.appending(index: count))))
  }

  mutating func encodeNil() throws { box.elements.append(.value(.null)) }
  mutating func encode(_ value: Bool) throws { try scalar(value) }
  mutating func encode(_ value: String) throws { try scalar(value) }
  mutating func encode(_ value: Double) throws { try scalar(value) }
  mutating func encode(_ value: Float) throws { try scalar(value) }
  mutating func encode(_ value: Int) throws { try scalar(value) }
  mutating func encode(_ value: Int8) throws { try scalar(value) }
  mutating func encode(_ value: Int16) throws { try scalar(value) }
  mutating func encode(_ value: Int32) throws { try scalar(value) }
  mutating func encode(_ value: Int64) throws { try scalar(value) }
  mutating func encode(_ value: UInt) throws { try scalar(value) }
  mutating func encode(_ value: UInt8) throws { try scalar(value) }
  mutating func encode(_ value: UInt16) throws { try scalar(value) }
  mutating func encode(_ value: UInt32) throws { try scalar(value) }
  mutating func encode(_ value: UInt64) throws { try scalar(value) }

  mutating func encode<T: Encodable>(_ value: T) throws {
    box.elements.append(try JSONValueEncoder.encode(value, at: path.appending(index: count)))
  }

  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type
  ) -> KeyedEncodingContainer<NestedKey> {
    let nested = ObjectBox()
    let nestedPath = path.appending(index: count)
    box.elements.append(.object(nested))
    return KeyedEncodingContainer(KeyedContainer<NestedKey>(box: nested, path: nestedPath))
  }

  mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
    let nested = ArrayBox()
    let nestedPath = path.appending(index: count)
    box.elements.append(.array(nested))
    return UnkeyedContainer(box: nested, path: nestedPath)
  }

  mutating func superEncoder() -> any Encoder {
    let encoder = JSONValueEncoder(path: path.appending(index: count))
    box.elements.append(.deferred(encoder))
    return encoder
  }
}

// MARK: - Single value

private struct SingleValueContainer: SingleValueEncodingContainer {
  let encoder: JSONValueEncoder

  var codingPath: [any CodingKey] { encoder.codingPath }

  private func scalar(_ value: some JSONScalar) throws(JSONError) {
    encoder.set(.value(try value.box(at: encoder.path)))
  }

  mutating func encodeNil() throws { encoder.set(.value(.null)) }
  mutating func encode(_ value: Bool) throws { try scalar(value) }
  mutating func encode(_ value: String) throws { try scalar(value) }
  mutating func encode(_ value: Double) throws { try scalar(value) }
  mutating func encode(_ value: Float) throws { try scalar(value) }
  mutating func encode(_ value: Int) throws { try scalar(value) }
  mutating func encode(_ value: Int8) throws { try scalar(value) }
  mutating func encode(_ value: Int16) throws { try scalar(value) }
  mutating func encode(_ value: Int32) throws { try scalar(value) }
  mutating func encode(_ value: Int64) throws { try scalar(value) }
  mutating func encode(_ value: UInt) throws { try scalar(value) }
  mutating func encode(_ value: UInt8) throws { try scalar(value) }
  mutating func encode(_ value: UInt16) throws { try scalar(value) }
  mutating func encode(_ value: UInt32) throws { try scalar(value) }
  mutating func encode(_ value: UInt64) throws { try scalar(value) }

  mutating func encode<T: Encodable>(_ value: T) throws {
    encoder.set(try JSONValueEncoder.encode(value, at: encoder.path))
  }
}

// MARK: - EncodingError translation

extension JSONError {
  /// Turns an `EncodingError` thrown by an `encode(to:)` into a `JSONError`.
  init(translating error: EncodingError) {
    switch error {
    case .invalidValue(_, let context):
      self.init(path: CodingPath.format(context.codingPath), message: context.debugDescription)
    @unknown default:
      self.init(path: "", message: "\(error)")
    }
  }
}
