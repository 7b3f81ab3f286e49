/// The standard-library types that map straight onto one JSON value.
///
/// Both coders handle these first (see ``ScalarDispatch``), so a `[String]` or an `Int` field
/// is converted directly instead of going through a nested `Decoder`/`Encoder`.
protocol JSONScalar {
  /// Converts `value`, or throws an error naming the path and what was found.
  static func unbox(_ value: JSONValue, at path: @autoclosure () -> CodingPath) throws(JSONError) -> Self
  /// Converts `self`; throws only for values JSON cannot hold (NaN, infinities).
  func box(at path: @autoclosure () -> CodingPath) throws(JSONError) -> JSONValue
}

extension Bool: JSONScalar {
  static func unbox(_ value: JSONValue, at path: @autoclosure () -> CodingPath) throws(JSONError) -> Bool {
    guard case .bool(let flag) = value else { throw mismatch("a boolean", value, path()) }
    return flag
  }
  func box(at path: @autoclosure () -> CodingPath) -> JSONValue { .bool(self) }
}

extension String: JSONScalar {
  static func unbox(_ value: JSONValue, at path: @autoclosure () -> CodingPath) throws(JSONError) -> String {
    guard case .string(let string) = value else { throw mismatch("a string", value, path()) }
    return string
  }
  func box(at path: @autoclosure () -> CodingPath) -> JSONValue { .string(self) }
}

extension Double: JSONScalar {
  static func unbox(_ value: JSONValue, at path: @autoclosure () -> CodingPath) throws(JSONError) -> Double {
    guard case .number(let number) = value else { throw mismatch("a number", value, path()) }
    // Beyond ±1.8e308 is an error rather than a silent infinity; underflow rounds to zero.
    guard let double = number.double else {
      throw JSONError(at: path(), "\(number.text) is out of range for Double")
    }
    return double
  }
  func box(at path: @autoclosure () -> CodingPath) throws(JSONError) -> JSONValue {
    guard let number = JSONNumber(self) else { throw nonFinite(self, path()) }
    return .number(number)
  }
}

extension Float: JSONScalar {
  static func unbox(_ value: JSONValue, at path: @autoclosure () -> CodingPath) throws(JSONError) -> Float {
    guard case .number(let number) = value else { throw mismatch("a number", value, path()) }
    guard let float = Float(number.text), float.isFinite else {
      throw JSONError(at: path(), "\(number.text) is out of range for Float")
    }
    return float
  }
  func box(at path: @autoclosure () -> CodingPath) throws(JSONError) -> JSONValue {
    guard let number = JSONNumber(self) else { throw nonFinite(self, path()) }
    return .number(number)
  }
}

/// Integers of every width: exact conversion, so a fraction or an out-of-range value is an
/// error naming the type rather than a truncation.
protocol JSONIntegerScalar: JSONScalar, FixedWidthInteger {}

extension JSONIntegerScalar {
  static func unbox(_ value: JSONValue, at path: @autoclosure () -> CodingPath) throws(JSONError) -> Self {
    guard case .number(let number) = value else { throw mismatch("a number", value, path()) }
    switch number.integerValue {
    case .exact(let negative, let magnitude):
      guard let integer = JSONNumber.convert(negative: negative, magnitude: magnitude, to: Self.self) else {
        throw JSONError(at: path(), "\(number.text) is out of range for \(Self.self)")
      }
      return integer
    case .outOfRange:
      throw JSONError(at: path(), "\(number.text) is out of range for \(Self.self)")
    case .fraction:
      throw JSONError(at: path(), "\(number.text) is not a valid \(Self.self)")
    }
  }
  func box(at path: @autoclosure () -> CodingPath) -> JSONValue { .number(JSONNumber(self)) }
}

extension Int: JSONIntegerScalar {}
extension Int8: JSONIntegerScalar {}
extension Int16: JSONIntegerScalar {}
extension Int32: JSONIntegerScalar {}
extension Int64: JSONIntegerScalar {}
extension UInt: JSONIntegerScalar {}
extension UInt8: JSONIntegerScalar {}
extension UInt16: JSONIntegerScalar {}
extension UInt32: JSONIntegerScalar {}
extension UInt64: JSONIntegerScalar {}

/// "expected a boolean, found a string"
func mismatch(_ expected: String, _ found: JSONValue, _ path: CodingPath) -> JSONError {
  JSONError(at: path, "expected \(expected), found \(found.kindDescription)")
}

private func nonFinite<F: BinaryFloatingPoint>(_ value: F, _ path: CodingPath) -> JSONError {
  JSONError(at: path, "cannot encode \(value): JSON has no infinities or NaN")
}

// MARK: - Dispatch without protocol casts

/// The scalar types in the order they are checked (most common in OCI documents first).
///
/// The coders find scalars by comparing metatypes, not by casting to `JSONScalar`: the first
/// failed protocol cast for each type scans every conformance record in the process, which
/// made a cold decode of a config.json take 0.5 ms instead of a tenth of that.
enum ScalarDispatch {
  static func unbox<T>(_ type: T.Type, _ value: JSONValue, at path: CodingPath) throws(JSONError) -> T? {
    func attempt<S: JSONScalar>(_ scalar: S.Type) throws(JSONError) -> T? {
      try S.unbox(value, at: path) as? T
    }
    if T.self == String.self { return try attempt(String.self) }
    if T.self == Bool.self { return try attempt(Bool.self) }
    if T.self == Int.self { return try attempt(Int.self) }
    if T.self == Int64.self { return try attempt(Int64.self) }
    if T.self == UInt64.self { return try attempt(UInt64.self) }
    if T.self == UInt32.self { return try attempt(UInt32.self) }
    if T.self == Int32.self { return try attempt(Int32.self) }
    if T.self == UInt16.self { return try attempt(UInt16.self) }
    if T.self == Double.self { return try attempt(Double.self) }
    if T.self == UInt.self { return try attempt(UInt.self) }
    if T.self == UInt8.self { return try attempt(UInt8.self) }
    if T.self == Int16.self { return try attempt(Int16.self) }
    if T.self == Int8.self { return try attempt(Int8.self) }
    if T.self == Float.self { return try attempt(Float.self) }
    return nil
  }

  static func box<T>(_ value: T, at path: CodingPath) throws(JSONError) -> JSONValue? {
    func attempt<S: JSONScalar>(_ scalar: S.Type) throws(JSONError) -> JSONValue? {
      guard let scalar = value as? S else { return nil }
      return try scalar.box(at: path)
    }
    if T.self == String.self { return try attempt(String.self) }
    if T.self == Bool.self { return try attempt(Bool.self) }
    if T.self == Int.self { return try attempt(Int.self) }
    if T.self == Int64.self { return try attempt(Int64.self) }
    if T.self == UInt64.self { return try attempt(UInt64.self) }
    if T.self == UInt32.self { return try attempt(UInt32.self) }
    if T.self == Int32.self { return try attempt(Int32.self) }
    if T.self == UInt16.self { return try attempt(UInt16.self) }
    if T.self == Double.self { return try attempt(Double.self) }
    if T.self == UInt.self { return try attempt(UInt.self) }
    if T.self == UInt8.self { return try attempt(UInt8.self) }
    if T.self == Int16.self { return try attempt(Int16.self) }
    if T.self == Int8.self { return try attempt(Int8.self) }
    if T.self == Float.self { return try attempt(Float.self) }
    return nil
  }
}
