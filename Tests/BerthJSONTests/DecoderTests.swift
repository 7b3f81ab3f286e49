import BerthJSON
import Testing

@Suite("Decoder")
struct DecoderTests {
  @Test func decodesTheSampleConfig() throws {
    let spec = try JSON.decode(Spec.self, from: Array(sampleConfig.utf8))
    #expect(spec.ociVersion == "1.0.2-dev")
    #expect(spec.process?.terminal == true)
    #expect(spec.process?.args == ["sh", "-c", "echo \"hello\" > /tmp/out\n"])
    #expect(spec.process?.user.additionalGids == [10, UInt32.max])
    #expect(spec.process?.rlimits?.last?.hard == UInt64.max)
    #expect(spec.process?.oomScoreAdj == -500)
    #expect(spec.process?.capabilities?.permitted == [])
    #expect(spec.annotations?["io.kubernetes.cri.sandbox-id"] == "0123456789abcdef")
    #expect(spec.linux?.sysctl?["net.ipv4.ip_forward"] == "1")
    #expect(spec.linux?.resources?.memory?.swap == Int64.max)
    #expect(spec.linux?.resources?.memory?.reservation == -1)
    #expect(spec.linux?.resources?.unified == ["memory.high": "max", "io.weight": "default 100"])
    #expect(spec.linux?.namespaces?.map(\.type) == [.pid, .network, .ipc, .uts, .mount, .cgroup])
    #expect(spec.linux?.namespaces?[1].path == "/var/run/netns/test")
    #expect(spec.linux?.resources?.devices?.first?.major == nil)
    #expect(spec.mounts?.count == 4)
    #expect(spec.mounts?.first?.options == nil)
  }

  struct ErrorCase: Sendable, CustomTestStringConvertible {
    var json: String
    var path: String
    var message: String
    var testDescription: String { path.isEmpty ? message : "\(path): \(message)" }
  }

  static let errorCases: [ErrorCase] = [
    .init(
      json: #"{"ociVersion": "1", "process": {"terminal": "yes", "user": {"uid": 0, "gid": 0}, "args": [], "cwd": "/"}}"#,
      path: "process.terminal", message: "expected a boolean, found a string"),
    .init(
      json: #"{"ociVersion": "1", "process": {"user": {"uid": 0, "gid": 0}, "cwd": "/"}}"#,
      path: "process", message: #"missing required field "args""#),
    .init(json: #"{"hostname": "x"}"#, path: "", message: #"missing required field "ociVersion""#),
    .init(json: #"{"ociVersion": null}"#, path: "ociVersion", message: "expected a string, found null"),
    .init(json: #"[]"#, path: "", message: "expected an object, found an array"),
    .init(
      json: #"{"ociVersion": "1", "linux": {"namespaces": [{"type": "foo"}]}}"#,
      path: "linux.namespaces[0].type", message: #"unknown value "foo""#),
    .init(
      json: #"{"ociVersion": "1", "linux": {"namespaces": [{"type": "pid"}, {"type": 7}]}}"#,
      path: "linux.namespaces[1].type", message: "expected a string, found a number"),
    .init(
      json: #"{"ociVersion": "1", "linux": {"namespaces": {"type": "pid"}}}"#,
      path: "linux.namespaces", message: "expected an array, found an object"),
    .init(
      json: #"{"ociVersion": "1", "linux": {"resources": {"memory": {"limit": 1.5}}}}"#,
      path: "linux.resources.memory.limit", message: "1.5 is not a valid Int64"),
    .init(
      json: #"{"ociVersion": "1", "linux": {"resources": {"memory": {"limit": 9223372036854775808}}}}"#,
      path: "linux.resources.memory.limit", message: "9223372036854775808 is out of range for Int64"),
    .init(
      json: #"{"ociVersion": "1", "linux": {"resources": {"pids": {}}}}"#,
      path: "linux.resources.pids", message: #"missing required field "limit""#),
    .init(
      json: #"{"ociVersion": "1", "process": {"user": {"uid": -1, "gid": 0}, "args": [], "cwd": "/"}}"#,
      path: "process.user.uid", message: "-1 is out of range for UInt32"),
    .init(
      json: #"{"ociVersion": "1", "process": {"user": {"uid": 0, "gid": 0, "additionalGids": [1, 4294967296]}, "args": [], "cwd": "/"}}"#,
      path: "process.user.additionalGids[1]", message: "4294967296 is out of range for UInt32"),
    .init(
      json: #"{"ociVersion": "1", "process": {"user": {"uid": 0, "gid": 0}, "args": [], "cwd": "/", "capabilities": {"bounding": ["A", "B", "C", 4]}}}"#,
      path: "process.capabilities.bounding[3]", message: "expected a string, found a number"),
    .init(
      json: #"{"ociVersion": "1", "process": {"user": {"uid": 0, "gid": 0}, "args": [], "cwd": "/", "rlimits": [{"type": "RLIMIT_CORE", "hard": 1e20, "soft": 0}]}}"#,
      path: "process.rlimits[0].hard", message: "1e20 is out of range for UInt64"),
    .init(
      json: #"{"ociVersion": "1", "annotations": {"a": "b", "io.kubernetes.cri.sandbox-id": 12}}"#,
      path: #"annotations["io.kubernetes.cri.sandbox-id"]"#, message: "expected a string, found a number"),
    .init(
      json: #"{"ociVersion": "1", "linux": {"sysctl": []}}"#,
      path: "linux.sysctl", message: "expected an object, found an array"),
    .init(
      json: #"{"ociVersion": "1", "linux": {"resources": {"devices": [{"allow": true}, {"allow": "true"}]}}}"#,
      path: "linux.resources.devices[1].allow", message: "expected a boolean, found a string"),
  ]

  @Test("errors name the path, what was expected and what was found", arguments: errorCases)
  func errors(_ testCase: ErrorCase) {
    let error = #expect(throws: JSONError.self) { try JSON.decode(Spec.self, from: testCase.json) }
    #expect(error?.path == testCase.path)
    #expect(error?.message == testCase.message)
    #expect(error?.isSyntaxError == false)
  }

  @Test func errorDescriptionJoinsPathAndMessage() {
    let json = #"{"ociVersion": "1", "linux": {"namespaces": [{"type": "pid"}, {"type": "foo"}]}}"#
    let error = #expect(throws: JSONError.self) { try JSON.decode(Spec.self, from: json) }
    #expect(error?.description == #"linux.namespaces[1].type: unknown value "foo""#)

    let topLevel = #expect(throws: JSONError.self) { try JSON.decode(Spec.self, from: "{}") }
    #expect(topLevel?.description == #"missing required field "ociVersion""#)
  }

  @Test func syntaxErrorsSurfaceFromDecode() {
    let error = #expect(throws: JSONError.self) { try JSON.decode(Spec.self, from: #"{"ociVersion": "1",}"#) }
    #expect(error?.message == "trailing comma before '}'")
    #expect(error?.line == 1)
  }

  @Test func unknownKeysAreIgnored() throws {
    let spec = try JSON.decode(
      Spec.self, from: #"{"ociVersion": "1", "vendorExtension": {"deep": [1, 2]}, "root": {"path": "r", "x": 1}}"#)
    #expect(spec == Spec(ociVersion: "1", root: Root(path: "r")))
  }

  @Test func optionalsAreNilWhenMissingOrNull() throws {
    let missing = try JSON.decode(Root.self, from: #"{"path": "r"}"#)
    let null = try JSON.decode(Root.self, from: #"{"path": "r", "readonly": null}"#)
    let present = try JSON.decode(Root.self, from: #"{"path": "r", "readonly": false}"#)
    #expect(missing.readonly == nil)
    #expect(null.readonly == nil)
    #expect(present.readonly == false)
  }

  // MARK: Integers

  @Test("integers at the limits of every width")
  func integerLimits() throws {
    #expect(try JSON.decode(Int8.self, from: "-128") == Int8.min)
    #expect(try JSON.decode(Int8.self, from: "127") == Int8.max)
    #expect(try JSON.decode(UInt8.self, from: "255") == UInt8.max)
    #expect(try JSON.decode(Int16.self, from: "-32768") == Int16.min)
    #expect(try JSON.decode(UInt16.self, from: "65535") == UInt16.max)
    #expect(try JSON.decode(Int32.self, from: "-2147483648") == Int32.min)
    #expect(try JSON.decode(UInt32.self, from: "4294967295") == UInt32.max)
    #expect(try JSON.decode(Int64.self, from: "-9223372036854775808") == Int64.min)
    #expect(try JSON.decode(Int64.self, from: "9223372036854775807") == Int64.max)
    #expect(try JSON.decode(UInt64.self, from: "18446744073709551615") == UInt64.max)
    #expect(try JSON.decode(Int.self, from: "-9223372036854775808") == Int.min)
    #expect(try JSON.decode(UInt.self, from: "18446744073709551615") == UInt.max)
  }

  struct IntegerErrorCase: Sendable, CustomTestStringConvertible {
    var json: String
    var decode: @Sendable (JSONValue) throws -> Void
    var message: String
    var testDescription: String { message }
  }

  static let integerErrors: [IntegerErrorCase] = [
    .init(json: "128", decode: { _ = try JSON.decode(Int8.self, from: $0) }, message: "128 is out of range for Int8"),
    .init(json: "-129", decode: { _ = try JSON.decode(Int8.self, from: $0) }, message: "-129 is out of range for Int8"),
    .init(json: "256", decode: { _ = try JSON.decode(UInt8.self, from: $0) }, message: "256 is out of range for UInt8"),
    .init(json: "-1", decode: { _ = try JSON.decode(UInt16.self, from: $0) }, message: "-1 is out of range for UInt16"),
    .init(json: "2147483648", decode: { _ = try JSON.decode(Int32.self, from: $0) }, message: "2147483648 is out of range for Int32"),
    .init(
      json: "-9223372036854775809", decode: { _ = try JSON.decode(Int64.self, from: $0) },
      message: "-9223372036854775809 is out of range for Int64"),
    .init(
      json: "18446744073709551616", decode: { _ = try JSON.decode(UInt64.self, from: $0) },
      message: "18446744073709551616 is out of range for UInt64"),
    .init(json: "1e400", decode: { _ = try JSON.decode(Int.self, from: $0) }, message: "1e400 is out of range for Int"),
    .init(json: "0.5", decode: { _ = try JSON.decode(Int.self, from: $0) }, message: "0.5 is not a valid Int"),
    .init(json: "12e-1", decode: { _ = try JSON.decode(Int.self, from: $0) }, message: "12e-1 is not a valid Int"),
    .init(json: "1e-400", decode: { _ = try JSON.decode(Int.self, from: $0) }, message: "1e-400 is not a valid Int"),
    .init(json: "\"1\"", decode: { _ = try JSON.decode(Int.self, from: $0) }, message: "expected a number, found a string"),
    .init(json: "true", decode: { _ = try JSON.decode(UInt.self, from: $0) }, message: "expected a number, found a boolean"),
  ]

  @Test("integer errors name the value and the type", arguments: integerErrors)
  func integerError(_ testCase: IntegerErrorCase) throws {
    let value = try JSON.parse(testCase.json)
    let error = #expect(throws: JSONError.self) { try testCase.decode(value) }
    #expect(error?.message == testCase.message)
    #expect(error?.path == "")
  }

  @Test("integral values written with a fraction or exponent are accepted exactly")
  func integralSpellings() throws {
    #expect(try JSON.decode(Int.self, from: "1.0") == 1)
    #expect(try JSON.decode(Int.self, from: "1e3") == 1000)
    #expect(try JSON.decode(Int.self, from: "1.5e1") == 15)
    #expect(try JSON.decode(Int.self, from: "-2.50E+1") == -25)
    #expect(try JSON.decode(UInt64.self, from: "1.8446744073709551615e19") == UInt64.max)
    #expect(try JSON.decode(UInt8.self, from: "-0") == 0)
    #expect(try JSON.decode(Int.self, from: "0e999999999999") == 0)
  }

  // MARK: Floating point

  @Test func doubles() throws {
    #expect(try JSON.decode(Double.self, from: "0.1") == 0.1)
    #expect(try JSON.decode(Double.self, from: "-12") == -12)
    #expect(try JSON.decode(Double.self, from: "1.7976931348623157e308") == .greatestFiniteMagnitude)
    #expect(try JSON.decode(Double.self, from: "5e-324") == .leastNonzeroMagnitude)
    #expect(try JSON.decode(Double.self, from: "-0.0").sign == .minus)
    // Underflow rounds to zero, as every JSON parser does.
    #expect(try JSON.decode(Double.self, from: "1e-400") == 0)
    #expect(try JSON.decode(Float.self, from: "0.1") == Float(0.1))
    #expect(try JSON.decode([Double].self, from: "[1, 2.5, 1e2]") == [1, 2.5, 100])
  }

  @Test("numbers beyond Double's range are an error, not infinity")
  func doubleOverflow() throws {
    let error = #expect(throws: JSONError.self) { try JSON.decode([Double].self, from: "[1, 1e400]") }
    #expect(error?.path == "[1]")
    #expect(error?.message == "1e400 is out of range for Double")

    let floatError = #expect(throws: JSONError.self) { try JSON.decode(Float.self, from: "3.5e38") }
    #expect(floatError?.message == "3.5e38 is out of range for Float")

    // The document itself is valid JSON and keeps the text.
    #expect(try JSON.parse("1e400").numberValue?.text == "1e400")
  }

  // MARK: Collections, dictionaries, opaque values

  @Test func dictionariesWithDottedKeys() throws {
    let json = #"{"io.kubernetes.cri.sandbox-id": "abc", "a/b": "c", "": "empty"}"#
    let decoded = try JSON.decode([String: String].self, from: json)
    #expect(decoded == ["io.kubernetes.cri.sandbox-id": "abc", "a/b": "c", "": "empty"])
  }

  @Test func dictionariesWithIntegerKeys() throws {
    let decoded = try JSON.decode([Int: String].self, from: #"{"1": "one", "20": "twenty"}"#)
    #expect(decoded == [1: "one", 20: "twenty"])
  }

  @Test func nestedCollections() throws {
    let decoded = try JSON.decode([[String: [Int?]]].self, from: #"[{"a": [1, null, 3]}, {}]"#)
    #expect(decoded == [["a": [1, nil, 3]], [:]])
  }

  struct Opaque: Codable, Equatable {
    var name: String
    var unified: [String: String]?
    var extra: JSONValue?
    var anything: [JSONValue]?
  }

  @Test func jsonValueFields() throws {
    let json = #"{"name": "n", "unified": {"memory.max": "1G"}, "extra": {"z": [1, {"y": null}], "a": 1.50}, "anything": [null, true, "s"]}"#
    let decoded = try JSON.decode(Opaque.self, from: json)
    #expect(decoded.unified == ["memory.max": "1G"])
    #expect(decoded.extra?.objectValue?.keys == ["z", "a"])
    #expect(decoded.extra?["a"]?.numberValue?.text == "1.50")
    #expect(decoded.anything == [nil, true, "s"])
    let missing = try JSON.decode(Opaque.self, from: #"{"name": "n"}"#)
    #expect(missing.extra == nil)
  }

  @Test func decodesFromAValue() throws {
    let value: JSONValue = ["path": "/", "readonly": true]
    #expect(try JSON.decode(Root.self, from: value) == Root(path: "/", readonly: true))
  }

  // MARK: Hand-written Codable

  /// Uses nested keyed and unkeyed containers and a super decoder.
  struct Manual: Decodable, Equatable {
    var x: Int
    var coordinates: [Double]
    var parentName: String
    var flags: [Bool]

    enum Keys: String, CodingKey { case info, coordinates, parent, flags }
    enum InfoKeys: String, CodingKey { case x }

    init(x: Int, coordinates: [Double], parentName: String, flags: [Bool]) {
      self.x = x
      self.coordinates = coordinates
      self.parentName = parentName
      self.flags = flags
    }

    init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: Keys.self)
      x = try container.nestedContainer(keyedBy: InfoKeys.self, forKey: .info).decode(Int.self, forKey: .x)
      var list = try container.nestedUnkeyedContainer(forKey: .coordinates)
      coordinates = []
      while !list.isAtEnd { coordinates.append(try list.decode(Double.self)) }
      parentName = try container.superDecoder(forKey: .parent).singleValueContainer().decode(String.self)
      var flagList = try container.nestedUnkeyedContainer(forKey: .flags)
      #expect(flagList.count == 3)
      flags = []
      while !flagList.isAtEnd {
        if try flagList.decodeNil() { continue }
        flags.append(try flagList.decode(Bool.self))
      }
    }
  }

  @Test func handWrittenContainers() throws {
    let json = #"{"info": {"x": 3}, "coordinates": [1.5, -2], "parent": "p", "flags": [true, null, false]}"#
    #expect(try JSON.decode(Manual.self, from: json) == Manual(x: 3, coordinates: [1.5, -2], parentName: "p", flags: [true, false]))

    let bad = #"{"info": {"x": "3"}, "coordinates": [], "parent": "p", "flags": []}"#
    let error = #expect(throws: JSONError.self) { try JSON.decode(Manual.self, from: bad) }
    #expect(error?.description == "info.x: expected a number, found a string")
  }

  /// Decodes a fixed number of elements from an array.
  struct Pair: Decodable {
    var first: Int
    var second: Int
    init(from decoder: any Decoder) throws {
      var container = try decoder.unkeyedContainer()
      first = try container.decode(Int.self)
      second = try container.decode(Int.self)
    }
  }

  @Test func unkeyedContainerRunsOut() {
    let error = #expect(throws: JSONError.self) { try JSON.decode([Pair].self, from: "[[1, 2], [3]]") }
    #expect(error?.path == "[1]")
    #expect(error?.message == "expected more elements, the array has only 1")
  }

  /// Validates in `init(from:)` the way real model types do.
  struct Port: Decodable {
    var number: UInt16
    init(from decoder: any Decoder) throws {
      let container = try decoder.singleValueContainer()
      number = try container.decode(UInt16.self)
      guard number != 0 else {
        throw DecodingError.dataCorruptedError(in: container, debugDescription: "port 0 is reserved")
      }
    }
  }

  struct Service: Decodable {
    var ports: [String: Port]
  }

  @Test func userDecodingErrorsBecomeJSONErrors() {
    let error = #expect(throws: JSONError.self) {
      try JSON.decode(Service.self, from: #"{"ports": {"http": 80, "bad": 0}}"#)
    }
    #expect(error?.path == "ports.bad")
    #expect(error?.message == "port 0 is reserved")
  }

  struct NeedsKey: Decodable {
    enum Keys: String, CodingKey { case id }
    init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: Keys.self)
      throw DecodingError.keyNotFound(
        Keys.id, .init(codingPath: container.codingPath, debugDescription: "no id"))
    }
  }

  @Test func userKeyNotFoundBecomesMissingField() {
    let error = #expect(throws: JSONError.self) { try JSON.decode([NeedsKey].self, from: "[{}]") }
    #expect(error?.description == #"[0]: missing required field "id""#)
  }

  enum Level: Int, Codable { case low = 1, high = 2 }

  @Test func integerRawValueEnums() throws {
    #expect(try JSON.decode([Level].self, from: "[2, 1]") == [.high, .low])
    let error = #expect(throws: JSONError.self) { try JSON.decode([String: Level].self, from: #"{"a": 1, "b": 7}"#) }
    #expect(error?.description == #"b: unknown value 7"#)
  }

  final class Base: Decodable {
    let id: String
    enum Keys: String, CodingKey { case id }
    init(from decoder: any Decoder) throws {
      id = try decoder.container(keyedBy: Keys.self).decode(String.self, forKey: .id)
    }
  }

  struct Derived: Decodable {
    var base: Base
    var name: String
    enum Keys: String, CodingKey { case name }
    init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: Keys.self)
      name = try container.decode(String.self, forKey: .name)
      base = try Base(from: container.superDecoder())
    }
  }

  @Test func superDecoderReadsTheSuperKey() throws {
    let decoded = try JSON.decode(Derived.self, from: #"{"name": "n", "super": {"id": "i"}}"#)
    #expect(decoded.base.id == "i")
    let error = #expect(throws: JSONError.self) { try JSON.decode(Derived.self, from: #"{"name": "n"}"#) }
    #expect(error?.description == "super: expected an object, found null")
  }

  @Test func codingPathIsVisibleToUserCode() throws {
    struct Probe: Decodable {
      var path: String
      init(from decoder: any Decoder) throws {
        path = decoder.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: "/")
      }
    }
    let decoded = try JSON.decode([String: [Probe]].self, from: #"{"a": [{}, {}]}"#)
    #expect(decoded["a"]?.map(\.path) == ["a/[0]", "a/[1]"])
  }
}
