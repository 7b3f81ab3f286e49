/// A JSON object: members in the order they were read or inserted, unique keys.
///
/// Setting an existing key replaces its value in place (so when parsing, the last duplicate
/// wins but keeps the first one's position). Two objects are equal when they have the same
/// keys with equal values, in any order, as JSON defines objects to be unordered.
public struct JSONObject: Equatable, Sendable, RandomAccessCollection, ExpressibleByDictionaryLiteral {
  public typealias Element = (key: String, value: JSONValue)

  var members: OrderedPairs<JSONValue>

  /// Creates an empty object.
  public init() {
    members = OrderedPairs()
  }

  /// Creates an object from members in order; for a repeated key the last value wins.
  public init(_ members: some Sequence<(String, JSONValue)>) {
    self.members = OrderedPairs()
    for (key, value) in members { self.members.set(value, for: key) }
  }

  public init(dictionaryLiteral elements: (String, JSONValue)...) {
    self.init(elements)
  }

  /// The value for `key`; setting `nil` removes the member.
  public subscript(key: String) -> JSONValue? {
    get { members.value(for: key) }
    set {
      if let newValue {
        members.set(newValue, for: key)
      } else {
        members.remove(key)
      }
    }
  }

  /// The keys in order.
  public var keys: [String] { members.elements.map(\.key) }

  /// The values in key order.
  public var values: [JSONValue] { members.elements.map(\.value) }

  /// Removes a member, returning its value if there was one.
  @discardableResult
  public mutating func removeValue(forKey key: String) -> JSONValue? {
    members.remove(key)
  }

  public var startIndex: Int { 0 }
  public var endIndex: Int { members.elements.count }
  public subscript(position: Int) -> Element { members.elements[position] }

  public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for (key, value) in lhs where rhs[key] != value {
      return false
    }
    return true
  }
}

/// Insertion-ordered key/value pairs with unique keys, shared by ``JSONObject`` and the encoder.
///
/// Small objects (the usual case in OCI configs) are searched linearly; a hash index is built
/// only once an object grows past `indexThreshold` members, so large maps such as annotations
/// do not make parsing or decoding quadratic.
struct OrderedPairs<Value> {
  private(set) var elements: [(key: String, value: Value)] = []
  private var index: [String: Int]?

  private static var indexThreshold: Int { 16 }

  func position(of key: String) -> Int? {
    if let index { return index[key] }
    for position in elements.indices where elements[position].key == key {
      return position
    }
    return nil
  }

  func value(for key: String) -> Value? {
    guard let position = position(of: key) else { return nil }
    return elements[position].value
  }

  mutating func set(_ value: Value, for key: String) {
    if let position = position(of: key) {
      elements[position].value = value
      return
    }
    elements.append((key, value))
    if index != nil {
      index?[key] = elements.count - 1
    } else if elements.count > Self.indexThreshold {
      rebuildIndex()
    }
  }

  @discardableResult
  mutating func remove(_ key: String) -> Value? {
    guard let position = position(of: key) else { return nil }
    let removed = elements.remove(at: position).value
    if index != nil { rebuildIndex() }
    return removed
  }

  /// Reorders the members by key, comparing UTF-8 bytes (code point order, as Go sorts).
  mutating func sortByKey() {
    elements.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    if index != nil { rebuildIndex() }
  }

  private mutating func rebuildIndex() {
    var index: [String: Int] = [:]
    index.reserveCapacity(elements.count)
    for (position, element) in elements.enumerated() { index[element.key] = position }
    self.index = index
  }
}

extension OrderedPairs: Sendable where Value: Sendable {}
