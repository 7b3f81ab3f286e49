import BerthJSON
import Testing

@Suite("Parser")
struct ParserTests {
  struct ValidCase: Sendable, CustomTestStringConvertible {
    var input: String
    var expected: JSONValue
    var testDescription: String { input }
  }

  static let validCases: [ValidCase] = [
    .init(input: "null", expected: .null),
    .init(input: "true", expected: true),
    .init(input: " false ", expected: false),
    .init(input: "0", expected: .number(JSONNumber(0))),
    .init(input: "-0", expected: 0),
    .init(input: "\"\"", expected: ""),
    .init(input: "[]", expected: []),
    .init(input: "{}", expected: [:]),
    .init(input: "\t[ 1 , \"a\" ,null,\r\n true ]\n", expected: [1, "a", nil, true]),
    .init(input: #"{"a": {"b": [1, {"c": []}]}}"#, expected: ["a": ["b": [1, ["c": []]]]]),
    .init(input: #"{"":""}"#, expected: ["": ""]),
    .init(input: #""\/\\\"""#, expected: #"/\""#),
    .init(input: "\"héllo wörld 😀\"", expected: "héllo wörld 😀"),
  ]

  @Test("valid documents", arguments: validCases)
  func valid(_ testCase: ValidCase) throws {
    #expect(try JSON.parse(testCase.input) == testCase.expected)
    #expect(try JSON.parse(Array(testCase.input.utf8)) == testCase.expected)
  }

  struct InvalidCase: Sendable, CustomTestStringConvertible {
    var input: String
    var message: String
    var line: Int
    var column: Int
    var testDescription: String { input.debugDescription }
  }

  static let invalidCases: [InvalidCase] = [
    .init(input: "", message: "the input is empty", line: 1, column: 1),
    .init(input: "  \n ", message: "the input is empty", line: 2, column: 2),
    .init(input: "{", message: "unexpected end of input", line: 1, column: 2),
    .init(input: "[1,", message: "unexpected end of input", line: 1, column: 4),
    .init(input: "[1,]", message: "trailing comma before ']'", line: 1, column: 4),
    .init(input: #"{"a":1,}"#, message: "trailing comma before '}'", line: 1, column: 8),
    .init(input: #"{"a" 1}"#, message: "expected ':' after the key", line: 1, column: 6),
    .init(input: #"{"a":1 "b":2}"#, message: "expected ',' or '}'", line: 1, column: 8),
    .init(input: "[1 2]", message: "expected ',' or ']'", line: 1, column: 4),
    .init(input: "{a:1}", message: "expected a quoted key or '}'", line: 1, column: 2),
    .init(input: #"{"a":1,b:2}"#, message: "expected a quoted key", line: 1, column: 8),
    .init(input: #"{"a":}"#, message: "expected a value, found '}'", line: 1, column: 6),
    .init(input: "[x]", message: "expected a value, found 'x'", line: 1, column: 2),
    .init(input: "[\u{1}]", message: "expected a value, found byte 0x01", line: 1, column: 2),
    .init(input: "01", message: "leading zeros are not allowed in numbers", line: 1, column: 2),
    .init(input: "-01", message: "leading zeros are not allowed in numbers", line: 1, column: 3),
    .init(input: "+1", message: "a number must start with '-' or a digit", line: 1, column: 1),
    .init(input: ".5", message: "a number must start with '-' or a digit", line: 1, column: 1),
    .init(input: "1.", message: "expected a digit after the decimal point", line: 1, column: 3),
    .init(input: "1.e5", message: "expected a digit after the decimal point", line: 1, column: 3),
    .init(input: "1e", message: "expected a digit in the exponent", line: 1, column: 3),
    .init(input: "1e+", message: "expected a digit in the exponent", line: 1, column: 4),
    .init(input: "-", message: "unexpected end of input", line: 1, column: 2),
    .init(input: "-Infinity", message: "expected a digit after '-'", line: 1, column: 2),
    .init(input: "NaN", message: "expected a value, found 'N'", line: 1, column: 1),
    .init(input: "tru", message: "unexpected end of input", line: 1, column: 4),
    .init(input: "trUe", message: "expected 'true'", line: 1, column: 1),
    .init(input: "[nul]", message: "expected 'null'", line: 1, column: 2),
    .init(input: "[1] x", message: "unexpected data after the JSON value", line: 1, column: 5),
    .init(input: "[1]]", message: "unexpected data after the JSON value", line: 1, column: 4),
    .init(input: "1 2", message: "unexpected data after the JSON value", line: 1, column: 3),
    .init(input: "\"é\" x", message: "unexpected data after the JSON value", line: 1, column: 5),
    .init(input: "\"abc", message: "unterminated string", line: 1, column: 5),
    .init(input: "\"a\tb\"", message: "unescaped control character U+0009 in string", line: 1, column: 3),
    .init(input: "\"a\nb\"", message: "unescaped control character U+000A in string", line: 1, column: 3),
    .init(input: #""\x""#, message: #"invalid escape \x in string"#, line: 1, column: 2),
    .init(input: #""\u12G4""#, message: #"expected 4 hex digits after \u"#, line: 1, column: 6),
    .init(input: #""\u12""#, message: #"expected 4 hex digits after \u"#, line: 1, column: 6),
    .init(
      input: #""\uD800""#,
      message: #"unpaired surrogate \uD800 (a high surrogate must be followed by a low one)"#,
      line: 1, column: 2),
    .init(
      input: #"["ok", "\udc00"]"#,
      message: #"unpaired surrogate \uDC00 (a low surrogate without a high one)"#,
      line: 1, column: 9),
    .init(
      input: #""\uD800\u0041""#,
      message: #"unpaired surrogate \uD800 (followed by \u0041, not a low surrogate)"#,
      line: 1, column: 2),
    .init(
      input: "{\n  \"a\": 1,\n  \"b\": [true, false\n}",
      message: "expected ',' or ']'", line: 4, column: 1),
    .init(
      input: "{\n  \"héllo\": [1,\n    2,, 3]}",
      message: "expected a value, found ','", line: 3, column: 7),
  ]

  @Test("invalid documents: message, line and column", arguments: invalidCases)
  func invalid(_ testCase: InvalidCase) {
    let error = #expect(throws: JSONError.self) { try JSON.parse(testCase.input) }
    #expect(error?.message == testCase.message)
    #expect(error?.line == testCase.line)
    #expect(error?.column == testCase.column)
    #expect(error?.path == "")
    #expect(error?.isSyntaxError == true)
  }

  @Test func syntaxErrorDescription() {
    let error = #expect(throws: JSONError.self) { try JSON.parse("{\n\n  \"a\": 1 \"b\"}") }
    #expect(error?.description == "invalid JSON at line 3, column 10: expected ',' or '}'")
  }

  @Test func escapes() throws {
    let value = try JSON.parse(#""\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC\uD83D\uDE00\u0000x""#)
    #expect(value == .string("\"\\/\u{8}\u{C}\n\r\tAé€😀\u{0}x"))
  }

  @Test func escapesInKeys() throws {
    let value = try JSON.parse(#"{"a\u002eb": 1, "\ud83d\ude00": 2}"#)
    #expect(value.objectValue?.keys == ["a.b", "😀"])
  }

  @Test func longStringWithEscapeAfterNonASCII() throws {
    let text = String(repeating: "ü", count: 100) + "\\n" + String(repeating: "x", count: 100)
    let value = try JSON.parse("\"\(text)\"")
    #expect(value == .string(String(repeating: "ü", count: 100) + "\n" + String(repeating: "x", count: 100)))
  }

  struct BytesCase: Sendable, CustomTestStringConvertible {
    var bytes: [UInt8]
    var message: String
    var column: Int
    var testDescription: String { bytes.map { String($0, radix: 16) }.joined(separator: " ") }
  }

  static let invalidUTF8: [BytesCase] = [
    .init(bytes: [0x22, 0xFF, 0x22], message: "invalid UTF-8 byte 0xFF in string", column: 2),
    .init(bytes: [0x22, 0x80, 0x22], message: "invalid UTF-8 byte 0x80 in string", column: 2),
    // Overlong encoding of "/".
    .init(bytes: [0x22, 0xC0, 0xAF, 0x22], message: "invalid UTF-8 byte 0xC0 in string", column: 2),
    .init(bytes: [0x22, 0xE0, 0x80, 0xAF, 0x22], message: "invalid UTF-8 sequence in string", column: 2),
    // A UTF-16 surrogate encoded in UTF-8.
    .init(bytes: [0x22, 0x61, 0xED, 0xA0, 0x80, 0x22], message: "invalid UTF-8 sequence in string", column: 3),
    // Above U+10FFFF.
    .init(bytes: [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], message: "invalid UTF-8 sequence in string", column: 2),
    .init(bytes: [0x22, 0xE2, 0x82, 0x22], message: "invalid UTF-8 sequence in string", column: 2),
    .init(bytes: [0x22, 0xE2, 0x82], message: "truncated UTF-8 sequence in string", column: 2),
    // Invalid UTF-8 after an escape (the slow path).
    .init(bytes: [0x22, 0x5C, 0x6E, 0xFE, 0x22], message: "invalid UTF-8 byte 0xFE in string", column: 4),
    // Outside a string, any non-ASCII byte is just unexpected.
    .init(bytes: [0x5B, 0xC3, 0xA9, 0x5D], message: "expected a value, found byte 0xC3", column: 2),
  ]

  @Test("invalid UTF-8 is rejected", arguments: invalidUTF8)
  func rejectsInvalidUTF8(_ testCase: BytesCase) {
    let error = #expect(throws: JSONError.self) { try JSON.parse(testCase.bytes) }
    #expect(error?.message == testCase.message)
    #expect(error?.column == testCase.column)
  }

  @Test func byteOrderMarkIsSkipped() throws {
    #expect(try JSON.parse([0xEF, 0xBB, 0xBF] + Array("[1]".utf8)) == [1])
    #expect(try JSON.parse("\u{FEFF}{\"a\":true}") == ["a": true])
  }

  @Test func duplicateKeysLastWinsInFirstPosition() throws {
    let value = try JSON.parse(#"{"a": 1, "b": 2, "a": 3}"#)
    let object = try #require(value.objectValue)
    #expect(object.keys == ["a", "b"])
    #expect(object["a"] == 3)
    #expect(object.count == 2)
  }

  @Test func duplicateKeysInLargeObjects() throws {
    // More members than the linear-search threshold, so the hash index is in use.
    let members = (0..<40).map { "\"k\($0)\": \($0)" }.joined(separator: ", ")
    let value = try JSON.parse("{\(members), \"k5\": \"again\"}")
    let object = try #require(value.objectValue)
    #expect(object.count == 40)
    #expect(object["k5"] == "again")
    #expect(object["k39"] == 39)
    #expect(object.keys.first == "k0")
    #expect(object.keys[5] == "k5")
  }

  @Test("nesting up to the limit parses", arguments: ["[", "{\"a\":"])
  func depthAtLimit(_ opener: String) throws {
    let closer = opener == "[" ? "]" : "}"
    let depth = JSON.maximumDepth
    let text = String(repeating: opener, count: depth) + "0" + String(repeating: closer, count: depth)
    var value = try JSON.parse(text)
    var levels = 0
    while true {
      if let next = value[0] ?? value["a"] {
        value = next
        levels += 1
      } else {
        break
      }
    }
    #expect(levels == depth)
    // Serializing the deep value works too, and gives back the same text.
    #expect(JSON.serializeString(try JSON.parse(text)) == text)
  }

  @Test func depthBeyondLimitFails() {
    let depth = JSON.maximumDepth + 1
    let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
    let error = #expect(throws: JSONError.self) { try JSON.parse(text) }
    #expect(error?.message == "nesting is deeper than 512 levels")
    #expect(error?.column == depth)
  }

  @Test func absurdDepthFailsWithoutCrashing() {
    let text = String(repeating: "[", count: 100_000)
    let error = #expect(throws: JSONError.self) { try JSON.parse(text) }
    #expect(error?.message == "nesting is deeper than 512 levels")
  }

  @Test func parsesFromUnsafeBuffer() throws {
    let bytes = Array(#"{"x": [1, 2]}"#.utf8)
    let value = try bytes.withUnsafeBufferPointer { try JSON.parse($0) }
    #expect(value["x"]?[1] == 2)
  }

  @Test func parsesFixture() throws {
    let value = try JSON.parse(sampleConfig)
    #expect(value["process"]?["env"]?[2] == "GREETING=héllo 😀")
    #expect(value["process"]?["args"]?[2] == "echo \"hello\" > /tmp/out\n")
    #expect(value["process"]?["rlimits"]?[1]?["hard"]?.numberValue?.uint64 == UInt64.max)
    #expect(value["linux"]?["namespaces"]?.arrayValue?.count == 6)
    #expect(value["annotations"]?.objectValue?.keys == [
      "io.kubernetes.cri.sandbox-id", "org.opencontainers.image.ref.name",
    ])
  }
}
