import BerthJSON
import Testing

@Suite("JSONValue, JSONObject, JSONNumber, JSONError")
struct JSONValueTests {
  @Test func objectKeepsInsertionOrder() {
    var object = JSONObject()
    object["b"] = 1
    object["a"] = 2
    object["c"] = 3
    object["a"] = 4
    #expect(object.keys == ["b", "a", "c"])
    #expect(object.values == [1, 4, 3])
    object["b"] = nil
    #expect(object.keys == ["a", "c"])
    #expect(object.removeValue(forKey: "c") == 3)
    #expect(object.removeValue(forKey: "zz") == nil)
    #expect(object.count == 1)
    #expect(object.map(\.key) == ["a"])
  }

  @Test func largeObjectLookupsAndRemovals() {
    var object = JSONObject((0..<100).map { ("key\($0)", JSONValue.number(JSONNumber($0))) })
    #expect(object.count == 100)
    #expect(object["key73"] == 73)
    object["key10"] = nil
    #expect(object["key10"] == nil)
    #expect(object["key11"] == 11)
    #expect(object["key99"] == 99)
    #expect(object.keys[10] == "key11")
    object["key10"] = "back"
    #expect(object.keys.last == "key10")
    #expect(object["key10"] == "back")
  }

  @Test func objectEqualityIgnoresOrder() {
    let a: JSONObject = ["x": 1, "y": [true]]
    let b: JSONObject = ["y": [true], "x": 1]
    let c: JSONObject = ["y": [false], "x": 1]
    #expect(a == b)
    #expect(a != c)
    #expect(a != ["x": 1])
  }

  @Test func valueAccessors() {
    let value: JSONValue = ["s": "text", "n": 2.5, "b": false, "a": [nil], "o": ["k": 1]]
    #expect(value["s"]?.stringValue == "text")
    #expect(value["n"]?.numberValue?.double == 2.5)
    #expect(value["b"]?.boolValue == false)
    #expect(value["a"]?[0]?.isNull == true)
    #expect(value["a"]?[1] == nil)
    #expect(value["o"]?["k"] == 1)
    #expect(value["missing"] == nil)
    #expect(value[0] == nil)
    #expect(value["s"]?.boolValue == nil)
    #expect(JSONValue(floatLiteral: .infinity) == .null)
    #expect(value.description == #"{"s":"text","n":2.5,"b":false,"a":[null],"o":{"k":1}}"#)
  }

  @Test("number grammar", arguments: [
    ("0", true), ("-0", true), ("12", true), ("1.5e-3", true), ("1E+2", true), ("-0.0e0", true),
    ("", false), ("-", false), ("01", false), ("+1", false), ("1.", false), (".1", false),
    ("1e", false), ("0x10", false), ("1 ", false), ("NaN", false), ("--1", false),
  ])
  func numberGrammar(_ text: String, _ valid: Bool) {
    #expect((JSONNumber(text: text) != nil) == valid)
  }

  @Test func numberEqualityIsByValue() throws {
    func number(_ text: String) throws -> JSONNumber { try #require(JSONNumber(text: text)) }
    #expect(try number("1") == number("1.0"))
    #expect(try number("1") == number("10e-1"))
    #expect(try number("-0") == number("0"))
    #expect(try number("0.5") == number("5e-1"))
    #expect(try number("1") != number("1.5"))
    #expect(try number("18446744073709551615") != number("18446744073709551614"))
    #expect(try number("1e30") == number("1000000000000000000000000000000"))
    #expect(try number("1e400") != number("2e400"))
    #expect(try number("1e400") == number("1e400"))
  }

  @Test func numberAccessors() throws {
    let big = try #require(JSONNumber(text: "9223372036854775808"))
    #expect(big.int64 == nil)
    #expect(big.uint64 == 9_223_372_036_854_775_808)
    #expect(big.integer(as: Int8.self) == nil)
    let fraction = try #require(JSONNumber(text: "2.5"))
    #expect(fraction.int64 == nil)
    #expect(fraction.double == 2.5)
    #expect(JSONNumber(text: "-128")?.integer(as: Int8.self) == -128)
    #expect(JSONNumber(text: "1e400")?.double == nil)
    #expect(JSONNumber(Double.nan) == nil)
    #expect(JSONNumber(Float.infinity) == nil)
    #expect(JSONNumber(2.0)?.text == "2")
    #expect(JSONNumber(Int8(-5)).text == "-5")
  }

  @Test func errorDescriptions() {
    #expect(JSONError(path: "a.b[1]", message: "boom").description == "a.b[1]: boom")
    #expect(JSONError(path: "", message: "boom").description == "boom")
    let syntax = JSONError(syntax: "expected ',' or '}'", line: 3, column: 14)
    #expect(syntax.description == "invalid JSON at line 3, column 14: expected ',' or '}'")
    #expect(syntax.isSyntaxError)
  }

  @Test("paths quote keys that are not plain names")
  func pathQuoting() {
    struct Wrapper: Decodable { var m: [String: [String: Int]] }
    let json = #"{"m": {"a.b": {"ok": 1, "c d": "x"}}}"#
    let error = #expect(throws: JSONError.self) { try JSON.decode(Wrapper.self, from: json) }
    #expect(error?.path == #"m["a.b"]["c d"]"#)
  }
}
