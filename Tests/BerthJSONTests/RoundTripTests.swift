import BerthJSON
import Foundation
import Testing

@Suite("Round trips")
struct RoundTripTests {
  @Test("decoding the sample config and encoding it pretty gives back the same text")
  func sampleConfigRoundTripsToTheSameText() throws {
    let spec = try JSON.decode(Spec.self, from: sampleConfig)
    let encoded = try JSON.encodeString(spec, options: .prettyPrinted)
    // The fixture spells two characters as escapes; the encoder writes them as UTF-8.
    let expected = sampleConfig.replacingOccurrences(of: #"h\u00e9llo \ud83d\ude00"#, with: "héllo 😀")
    #expect(encoded == expected)
    #expect(try JSON.decode(Spec.self, from: Array(encoded.utf8)) == spec)
  }

  @Test func valueRoundTripsThroughCodable() throws {
    let original = try JSON.parse(sampleConfig)
    let decoded = try JSON.decode(JSONValue.self, from: original)
    #expect(decoded == original)
    let reencoded = try JSON.encodeValue(decoded)
    #expect(reencoded == original)
    #expect(reencoded.objectValue?.keys == original.objectValue?.keys)
  }

  @Test("the serialized value parses back to an equal value, compact and pretty",
        arguments: [JSONEncodingOptions(), .prettyPrinted, .sortedKeys, [.prettyPrinted, .sortedKeys]])
  func serializeParse(_ options: JSONEncodingOptions) throws {
    let original = try JSON.parse(sampleConfig)
    #expect(try JSON.parse(JSON.serialize(original, options: options)) == original)
  }

  @Test("64-bit integers keep their exact text")
  func extremeIntegers() throws {
    let text = "[-9223372036854775808,9223372036854775807,18446744073709551615,123456789012345678901234567890]"
    let value = try JSON.parse(text)
    #expect(JSON.serializeString(value) == text)
    #expect(value[0]?.numberValue?.int64 == Int64.min)
    #expect(value[1]?.numberValue?.int64 == Int64.max)
    #expect(value[2]?.numberValue?.uint64 == UInt64.max)
    #expect(value[2]?.numberValue?.int64 == nil)
    #expect(value[3]?.numberValue?.uint64 == nil)
    #expect(value[3]?.numberValue?.double == 1.2345678901234568e29)
  }

  struct Model: Codable, Equatable {
    enum Kind: String, Codable { case container, image }
    var id: String
    var kind: Kind
    var created: Int64
    var size: UInt64?
    var ratio: Double
    var labels: [String: String]
    var ports: [UInt16]
    var children: [Model]?
    var extra: JSONValue?
  }

  static let model = Model(
    id: "c1", kind: .container, created: -1, size: .max, ratio: 0.1,
    labels: ["com.example/a": "x\ny", "b": "\u{1}"], ports: [80, 65535],
    children: [
      Model(id: "c2", kind: .image, created: 0, size: nil, ratio: 1e-9, labels: [:], ports: [], children: [], extra: nil)
    ],
    extra: ["nested": [1, "two", nil, ["three": 3.5]]])

  @Test func modelRoundTrips() throws {
    let bytes = try JSON.encode(Self.model)
    #expect(try JSON.decode(Model.self, from: bytes) == Self.model)
    let pretty = try JSON.encode(Self.model, options: [.prettyPrinted, .sortedKeys])
    #expect(try JSON.decode(Model.self, from: pretty) == Self.model)
  }

  // MARK: Agreement with Foundation (tests only; the module itself never imports it)

  @Test("Foundation's decoder reads what we write")
  func foundationReadsOurOutput() throws {
    let spec = try JSON.decode(Spec.self, from: sampleConfig)
    let bytes = try JSON.encode(spec)
    let fromFoundation = try JSONDecoder().decode(Spec.self, from: Data(bytes))
    #expect(fromFoundation == spec)
  }

  @Test("we read what Foundation's encoder writes")
  func weReadFoundationOutput() throws {
    let spec = try JSON.decode(Spec.self, from: sampleConfig)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let data = try encoder.encode(spec)
    #expect(try JSON.decode(Spec.self, from: [UInt8](data)) == spec)
  }

  @Test("JSONValue fields also work through Foundation's coders")
  func jsonValueThroughFoundation() throws {
    struct Holder: Codable, Equatable {
      var extra: JSONValue
    }
    let holder = Holder(extra: ["a": [1, -2, 2.5, "s", true, nil, ["b": []]], "big": .number(JSONNumber(UInt64.max))])
    let data = try JSONEncoder().encode(holder)
    let back = try JSONDecoder().decode(Holder.self, from: data)
    #expect(back == holder)
    #expect(try JSON.decode(Holder.self, from: [UInt8](data)) == holder)
  }

  @Test("JSONSerialization and our parser agree on tricky strings")
  func stringsAgreeWithJSONSerialization() throws {
    let strings = ["a\"b\\c", "\u{0}\u{1F}\u{7F}", "/<>&", "é€😀\u{2028}", "\t\n\r\u{8}\u{C}"]
    let ours = try JSON.encode(strings)
    let theirs = try JSONSerialization.jsonObject(with: Data(ours)) as? [String]
    #expect(theirs == strings)

    let foundationText = try JSONSerialization.data(withJSONObject: strings)
    #expect(try JSON.decode([String].self, from: [UInt8](foundationText)) == strings)
  }

  @Test("JSONSerialization parses the fixture to the same structure")
  func fixtureAgreesWithJSONSerialization() throws {
    let foundation = try JSONSerialization.jsonObject(with: Data(sampleConfig.utf8))
    let ours = try JSON.parse(sampleConfig)
    #expect(Self.matches(ours, foundation))
  }

  /// Compares our value with a Foundation object graph.
  private static func matches(_ value: JSONValue, _ object: Any) -> Bool {
    switch value {
    case .null:
      return object is NSNull
    case .bool(let flag):
      return (object as? NSNumber).map { $0 == NSNumber(value: flag) } ?? false
    case .number(let number):
      guard let other = object as? NSNumber else { return false }
      if let integer = number.int64 { return other.int64Value == integer }
      if let integer = number.uint64 { return other.uint64Value == integer }
      return other.doubleValue == number.double
    case .string(let string):
      return (object as? String) == string
    case .array(let elements):
      guard let others = object as? [Any], others.count == elements.count else { return false }
      return zip(elements, others).allSatisfy { matches($0, $1) }
    case .object(let members):
      guard let others = object as? [String: Any], others.count == members.count else { return false }
      return members.allSatisfy { key, value in others[key].map { matches(value, $0) } ?? false }
    }
  }
}
