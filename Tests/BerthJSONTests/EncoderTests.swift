import BerthJSON
import Testing

@Suite("Encoder")
struct EncoderTests {
  struct Ordered: Encodable {
    var zebra = 1
    var apple = "a"
    var mango: Bool? = nil
    var kiwi: [Int] = []
    var fig: [String: Int] = [:]
  }

  @Test func keysFollowDeclarationOrderAndNilIsOmitted() throws {
    #expect(try JSON.encodeString(Ordered()) == #"{"zebra":1,"apple":"a","kiwi":[],"fig":{}}"#)
    var withMango = Ordered()
    withMango.mango = false
    #expect(try JSON.encodeString(withMango) == #"{"zebra":1,"apple":"a","mango":false,"kiwi":[],"fig":{}}"#)
  }

  @Test func sortedKeys() throws {
    let value = Ordered(kiwi: [3, 1], fig: ["b": 2, "a": 1])
    #expect(
      try JSON.encodeString(value, options: .sortedKeys)
        == #"{"apple":"a","fig":{"a":1,"b":2},"kiwi":[3,1],"zebra":1}"#)
  }

  @Test("dictionaries are always written with sorted keys, by UTF-8 bytes")
  func dictionariesAreSorted() throws {
    let dictionary = ["b": 1, "a": 2, "B": 3, "é": 4, "aa": 5, "10": 6, "9": 7]
    #expect(try JSON.encodeString(dictionary) == #"{"10":6,"9":7,"B":3,"a":2,"aa":5,"b":1,"é":4}"#)
    #expect(try JSON.encodeString(["m": ["y": 1, "x": 2]]) == #"{"m":{"x":2,"y":1}}"#)
    // Integer keys become strings and sort as strings, as in Go.
    let integers = Dictionary(uniqueKeysWithValues: (0..<12).map { ($0, $0) })
    #expect(
      try JSON.encodeString(integers)
        == #"{"0":0,"1":1,"10":10,"11":11,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9}"#)
  }

  struct Nested: Encodable {
    var name = "web"
    var ports: [Int] = [80, 443]
    var labels: [String: String] = ["tier": "front", "app": "shop"]
    var empty: [String] = []
    var none: [String: String] = [:]
    var inner = Inner()
    var matrix: [[Int]] = [[1, 2], []]
    struct Inner: Encodable {
      var on = true
      var ratio = 0.25
    }
  }

  @Test("pretty printing matches Go's json.MarshalIndent(v, \"\", \"  \")")
  func prettyPrinted() throws {
    let expected = """
      {
        "name": "web",
        "ports": [
          80,
          443
        ],
        "labels": {
          "app": "shop",
          "tier": "front"
        },
        "empty": [],
        "none": {},
        "inner": {
          "on": true,
          "ratio": 0.25
        },
        "matrix": [
          [
            1,
            2
          ],
          []
        ]
      }
      """
    #expect(try JSON.encodeString(Nested(), options: .prettyPrinted) == expected)
  }

  @Test func prettyAndSorted() throws {
    let value: JSONValue = ["b": [["d": 1, "c": nil]], "a": "x"]
    let expected = """
      {
        "a": "x",
        "b": [
          {
            "c": null,
            "d": 1
          }
        ]
      }
      """
    #expect(JSON.serializeString(value, options: [.prettyPrinted, .sortedKeys]) == expected)
  }

  @Test func prettyScalarsAndEmptyContainers() throws {
    #expect(JSON.serializeString(1, options: .prettyPrinted) == "1")
    #expect(JSON.serializeString([], options: .prettyPrinted) == "[]")
    #expect(JSON.serializeString([:], options: .prettyPrinted) == "{}")
    #expect(JSON.serializeString(["a": [:]], options: .prettyPrinted) == "{\n  \"a\": {}\n}")
  }

  struct StringCase: Sendable, CustomTestStringConvertible {
    var input: String
    var expected: String
    var options: JSONEncodingOptions = []
    var testDescription: String { expected }
  }

  static let stringCases: [StringCase] = [
    .init(input: "plain", expected: #""plain""#),
    .init(input: "quote\" backslash\\", expected: #""quote\" backslash\\""#),
    .init(input: "\n\r\t\u{8}\u{C}", expected: #""\n\r\t\b\f""#),
    .init(input: "\u{0}\u{1}\u{1B}\u{1F}", expected: #""\u0000\u0001\u001b\u001f""#),
    .init(input: "\u{7F}", expected: "\"\u{7F}\""),
    // Unlike Go, no HTML escaping; slashes stay plain by default, as in Go.
    .init(input: "<a href=\"/x\">&</a>", expected: #""<a href=\"/x\">&</a>""#),
    .init(input: "a/b", expected: #""a/b""#, options: .withoutEscapingSlashes),
    .init(input: "a/b", expected: #""a\/b""#, options: .escapingSlashes),
    .init(input: "héllo 😀 \u{2028}", expected: "\"héllo 😀 \u{2028}\""),
  ]

  @Test("string escaping", arguments: stringCases)
  func strings(_ testCase: StringCase) throws {
    #expect(try JSON.encodeString(testCase.input, options: testCase.options) == testCase.expected)
    // And it reads back unchanged.
    #expect(try JSON.decode(String.self, from: testCase.expected) == testCase.input)
  }

  @Test func keysAreEscapedToo() throws {
    #expect(try JSON.encodeString(["a\"b\n": 1]) == #"{"a\"b\n":1}"#)
  }

  struct DoubleCase: Sendable, CustomTestStringConvertible {
    var value: Double
    var expected: String
    var testDescription: String { expected }
  }

  static let doubleCases: [DoubleCase] = [
    .init(value: 1.0, expected: "1"),
    .init(value: -3, expected: "-3"),
    .init(value: 0, expected: "0"),
    .init(value: -0.0, expected: "-0"),
    .init(value: 0.1, expected: "0.1"),
    .init(value: 1.5, expected: "1.5"),
    .init(value: 1.0 / 3, expected: "0.3333333333333333"),
    .init(value: 9_007_199_254_740_991, expected: "9007199254740991"),
    .init(value: 9_007_199_254_740_992, expected: "9007199254740992"),
    .init(value: 1e16, expected: "1e+16"),
    .init(value: 1e20, expected: "1e+20"),
    .init(value: 1e-7, expected: "1e-07"),
    .init(value: .greatestFiniteMagnitude, expected: "1.7976931348623157e+308"),
    .init(value: .leastNonzeroMagnitude, expected: "5e-324"),
  ]

  @Test("doubles print in the shortest form that reads back exactly", arguments: doubleCases)
  func doubles(_ testCase: DoubleCase) throws {
    let text = try JSON.encodeString(testCase.value)
    #expect(text == testCase.expected)
    let back = try JSON.decode(Double.self, from: text)
    #expect(back == testCase.value)
    #expect(back.sign == testCase.value.sign)
  }

  @Test func floatsUseTheirOwnShortestForm() throws {
    #expect(try JSON.encodeString([Float(0.1), 2, 3.4e38]) == "[0.1,2,3.4e+38]")
  }

  @Test func integersAtTheLimits() throws {
    struct Limits: Codable, Equatable {
      var min = Int64.min
      var max = Int64.max
      var umax = UInt64.max
      var small = Int8.min
    }
    let text = try JSON.encodeString(Limits())
    #expect(text == #"{"min":-9223372036854775808,"max":9223372036854775807,"umax":18446744073709551615,"small":-128}"#)
    #expect(try JSON.decode(Limits.self, from: text) == Limits())
  }

  struct Measurement: Encodable {
    var name: String
    var values: [Double]
  }

  @Test("non-finite doubles throw, naming the path", arguments: [Double.nan, .infinity, -.infinity])
  func nonFinite(_ bad: Double) {
    let error = #expect(throws: JSONError.self) {
      try JSON.encode(["m": [Measurement(name: "x", values: [1, bad])]])
    }
    #expect(error?.path == "m[0].values[1]")
    #expect(error?.message == "cannot encode \(bad): JSON has no infinities or NaN")

    let single = #expect(throws: JSONError.self) { try JSON.encode(Float(bad)) }
    #expect(single?.path == "")
  }

  /// Writes through nested containers and super encoders.
  struct Manual: Encodable {
    enum Keys: String, CodingKey { case info, list, parent }
    enum InfoKeys: String, CodingKey { case x, y }
    func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: Keys.self)
      var info = container.nestedContainer(keyedBy: InfoKeys.self, forKey: .info)
      try info.encode(1, forKey: .x)
      var list = container.nestedUnkeyedContainer(forKey: .list)
      try list.encode("a")
      try list.encodeNil()
      var inner = list.nestedContainer(keyedBy: InfoKeys.self)
      var innerList = list.nestedUnkeyedContainer()
      try innerList.encode(true)
      // Filled after its siblings were created: the references must still land.
      try inner.encode(2.5, forKey: .y)
      let parent = container.superEncoder(forKey: .parent)
      var single = parent.singleValueContainer()
      try single.encode("p")
      let base = container.superEncoder()
      var baseContainer = base.container(keyedBy: InfoKeys.self)
      try baseContainer.encode(UInt8(7), forKey: .x)
      try info.encode(-1, forKey: .y)
    }
  }

  @Test func handWrittenContainers() throws {
    #expect(
      try JSON.encodeString(Manual())
        == #"{"info":{"x":1,"y":-1},"list":["a",null,{"y":2.5},[true]],"parent":"p","super":{"x":7}}"#)
  }

  struct Broken: Encodable {
    func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: StringCodingKey.self)
      try container.encode(1, forKey: StringCodingKey("ok"))
      throw EncodingError.invalidValue(
        self, .init(codingPath: encoder.codingPath, debugDescription: "cannot encode a broken value"))
    }
  }

  struct StringCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  @Test func userEncodingErrorsBecomeJSONErrors() {
    let error = #expect(throws: JSONError.self) { try JSON.encode(["x": [Broken()]]) }
    #expect(error?.description == "x[0]: cannot encode a broken value")
  }

  struct Empty: Encodable {
    func encode(to encoder: any Encoder) throws {}
  }

  @Test func typesThatEncodeNothingBecomeEmptyObjects() throws {
    #expect(try JSON.encodeString([Empty()]) == "[{}]")
  }

  @Test func encodeValueGivesTheTree() throws {
    let value = try JSON.encodeValue(Ordered())
    #expect(value.objectValue?.keys == ["zebra", "apple", "kiwi", "fig"])
    #expect(value["zebra"] == 1)
  }

  @Test func optionalsInsideCollectionsBecomeNull() throws {
    #expect(try JSON.encodeString([1, nil, 3] as [Int?]) == "[1,null,3]")
    #expect(try JSON.encodeString(["a": nil] as [String: String?]) == #"{"a":null}"#)
  }
}
