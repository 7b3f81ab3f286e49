/// Entry points: parse, decode, encode and serialize JSON without Foundation.
///
/// ```swift
/// let spec = try JSON.decode(Spec.self, from: bytes)
/// let text = try JSON.encodeString(state, options: .prettyPrinted)
/// ```
///
/// Every error is a ``JSONError``: syntax errors carry a line and column, decoding errors
/// the coding path of the field at fault.
public enum JSON {
  /// The deepest nesting of arrays and objects the parser accepts.
  public static let maximumDepth = 512

  // MARK: Parsing

  /// Parses a UTF-8 JSON document (RFC 8259). A leading byte order mark is skipped.
  public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
    try bytes.withUnsafeBufferPointer { (buffer) throws(JSONError) in try parse(buffer) }
  }

  /// Parses a JSON document held in a string.
  public static func parse(_ string: String) throws(JSONError) -> JSONValue {
    var string = string
    // withUTF8 only rethrows untyped errors, so carry the typed result out.
    let result = string.withUTF8 { buffer in
      Result { () throws(JSONError) in try parse(buffer) }
    }
    return try result.get()
  }

  /// Parses UTF-8 JSON from memory the caller owns (a mapped file, for instance).
  public static func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONError) -> JSONValue {
    var parser = JSONParser(buffer)
    return try parser.parseDocument()
  }

  // MARK: Decoding

  /// Parses `bytes` and decodes a `T` from them.
  ///
  /// - Throws: ``JSONError`` for syntax errors, for JSON that does not fit `T`, and for any
  ///   `DecodingError` an `init(from:)` throws. Other errors thrown by a custom `init(from:)`
  ///   pass through unchanged.
  public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
    try decode(type, from: parse(bytes))
  }

  /// Parses `string` and decodes a `T` from it.
  public static func decode<T: Decodable>(_ type: T.Type, from string: String) throws -> T {
    try decode(type, from: parse(string))
  }

  /// Decodes a `T` from an already parsed value.
  ///
  /// Unknown keys are ignored; a missing key or `null` gives `nil` for an optional property;
  /// integers must be exact and in range for their type.
  public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
    try JSONValueDecoder.decode(type, from: value, at: .root)
  }

  // MARK: Encoding

  /// Encodes `value` to UTF-8 JSON.
  ///
  /// Members come out in the order `encode(to:)` writes them (declaration order for
  /// synthesized conformances), or sorted with ``JSONEncodingOptions/sortedKeys``; dictionaries
  /// are always sorted. `nil` optionals are omitted.
  ///
  /// - Throws: ``JSONError`` for NaN or infinite floating-point values and for any
  ///   `EncodingError` an `encode(to:)` throws.
  public static func encode<T: Encodable>(_ value: T, options: JSONEncodingOptions = []) throws -> [UInt8] {
    serialize(try encodeValue(value), options: options)
  }

  /// Encodes `value` to a JSON string.
  public static func encodeString<T: Encodable>(_ value: T, options: JSONEncodingOptions = []) throws -> String {
    String(decoding: try encode(value, options: options), as: UTF8.self)
  }

  /// Encodes `value` to a ``JSONValue`` tree, for inspection or editing before serializing.
  public static func encodeValue<T: Encodable>(_ value: T) throws -> JSONValue {
    try JSONValueEncoder.encode(value, at: .root).resolve()
  }

  // MARK: Serializing

  /// Writes `value` as UTF-8 JSON text.
  public static func serialize(_ value: JSONValue, options: JSONEncodingOptions = []) -> [UInt8] {
    var serializer = JSONSerializer(options: options)
    serializer.write(value)
    return serializer.output
  }

  /// Writes `value` as a JSON string.
  public static func serializeString(_ value: JSONValue, options: JSONEncodingOptions = []) -> String {
    String(decoding: serialize(value, options: options), as: UTF8.self)
  }
}
