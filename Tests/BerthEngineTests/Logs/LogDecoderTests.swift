import Testing

@testable import BerthEngine

@Suite("LogEntry decoding")
struct LogDecoderTests {
  private func decode(_ line: String) -> LogEntry? { LogEntry.decode(jsonLine: Array(line.utf8)) }

  @Test("a Docker json-file line gives stream, bytes and time")
  func dockerLine() throws {
    let entry = try #require(decode(#"{"log":"hello\n","stream":"stderr","time":"2026-11-21T08:00:00.123456789Z"}"#))
    #expect(entry.stream == .stderr)
    #expect(entry.bytes == Array("hello\n".utf8))
    #expect(entry.time == DockerTime(seconds: 1_795_248_000, nanoseconds: 123_456_789))
    #expect(entry.endsLine)
    #expect(entry.attributes.isEmpty)
  }

  @Test("keys in any order, unknown keys, spaces, attrs and a trailing newline")
  func lenientShape() throws {
    let line = """
       { "time" : "2026-11-21T09:00:00+01:00", "extra": {"a": [1, "}", {"b": null}]}, "n": -1.5e3,
        "attrs": {"com.example": "x y", "num": 3}, "stream": "stdout", "log": "a" }\n
      """
    let entry = try #require(decode(line))
    #expect(entry.stream == .stdout)
    #expect(entry.bytes == Array("a".utf8))
    #expect(!entry.endsLine)
    #expect(entry.time == DockerTime(seconds: 1_795_248_000))
    #expect(entry.attributes == ["com.example": "x y"])
  }

  @Test(
    "JSON string escapes become the bytes they stand for",
    arguments: [
      (#"\"quoted\""#, Array("\"quoted\"".utf8)),
      (#"back\\slash\/"#, Array("back\\slash/".utf8)),
      (#"\b\f\n\r\t"#, [0x08, 0x0C, 0x0A, 0x0D, 0x09]),
      (#"\u0041\u0000\u001b"#, [0x41, 0x00, 0x1B]),
      (#"\u00e9\u00E9"#, [0xC3, 0xA9, 0xC3, 0xA9]),
      (#"\u20ac"#, [0xE2, 0x82, 0xAC]),
      (#"\ud83d\ude00!"#, [0xF0, 0x9F, 0x98, 0x80, 0x21]),  // a surrogate pair
      (#"\ud800x"#, [0xEF, 0xBF, 0xBD, 0x78]),  // lone high surrogate
      (#"\udc00"#, [0xEF, 0xBF, 0xBD]),  // lone low surrogate
      (#"\ud800\u0041"#, [0xEF, 0xBF, 0xBD, 0x41]),  // high surrogate, then not a low one
      (#"\ud800\ud800\udc00"#, [0xEF, 0xBF, 0xBD, 0xF0, 0x90, 0x80, 0x80]),
      (#"héllo ☃"#, Array("héllo ☃".utf8)),  // raw UTF-8 passes through
      (#"\\\\"#, Array(#"\\"#.utf8)),
      (#"\\"#, [0x5C]),  // an escaped backslash right before the closing quote
    ] as [(String, [UInt8])])
  func escapes(_ escaped: String, _ expected: [UInt8]) throws {
    let entry = try #require(decode(#"{"log":""# + escaped + #"","stream":"stdout","time":"2026-11-21T08:00:00Z"}"#))
    #expect(entry.bytes == expected)
  }

  @Test("bytes that are not UTF-8 pass through unchanged")
  func invalidUTF8() throws {
    var line = Array(#"{"log":""#.utf8)
    line += [0xFF, 0xFE, 0xC3, 0x28, 0x80, 0x5C, 0x6E]  // invalid sequences, then \n
    line += Array(#"","stream":"stdout","time":"2026-11-21T08:00:00Z"}"#.utf8)
    let entry = try #require(LogEntry.decode(jsonLine: line))
    #expect(entry.bytes == [0xFF, 0xFE, 0xC3, 0x28, 0x80, 0x0A])
  }

  @Test(
    "lines that are not log entries give nil",
    arguments: [
      "",
      "   ",
      "{",
      "{}",
      "[1,2]",
      "not json at all",
      #"{"log":"x\n","time":"2026-11-21T08:00:00Z"}"#,  // no stream
      #"{"stream":"stdout","time":"2026-11-21T08:00:00Z"}"#,  // no log
      #"{"log":"x","stream":"stdin","time":"2026-11-21T08:00:00Z"}"#,  // unknown stream
      #"{"log":"x\q","stream":"stdout","time":"2026-11-21T08:00:00Z"}"#,  // invalid escape
      #"{"log":"\u12","stream":"stdout","time":"2026-11-21T08:00:00Z"}"#,  // short \u
      #"{"log":"\u12g4","stream":"stdout","time":"2026-11-21T08:00:00Z"}"#,
      #"{"log":"x","stream":"stdout","time":"yesterday"}"#,
      #"{"log":"x","stream":"stdout","time":"2026-11-21T08:00:00"}"#,  // no zone
      #"{"log":"x","stream":"stdout","time":"2026-11-21T08:00:00Z","#,  // cut after a comma
      #"{"log":"x" "stream":"stdout"}"#,  // missing comma
      #"{"log":1,"stream":"stdout"}"#,  // log is not a string
      #"{"log":"x","stream":"stdout","time":"2026-11-21T08:00:00Z","attrs":[1]}"#,
      #"{"log":"x","stream":"stdout","time":"2026-11-21T08:00:00Z","extra":{"a":"b"}"#,  // unclosed
    ])
  func rejects(_ line: String) {
    #expect(decode(line) == nil)
  }

  @Test("every truncation of a line — one being written — gives nil, not a crash")
  func truncated() {
    let line = Array(#"{"log":"h\u00e9llo \ud83d\ude00 \"q\"\n","stream":"stdout","time":"2026-11-21T08:00:00.123Z"}"#.utf8)
    #expect(LogEntry.decode(jsonLine: line) != nil)
    for length in 0..<line.count {
      #expect(LogEntry.decode(jsonLine: line[..<length]) == nil, "prefix of \(length) bytes")
    }
  }

  @Test("random bytes do not crash the decoder")
  func garbage() {
    var generator = SystemRandomNumberGenerator()
    let alphabet = Array(#"{}[]":,\u0123456789abcdefZT-+. logstreamtimeattrs"#.utf8) + [0x00, 0x0A, 0xFF, 0xC3]
    for _ in 0..<3000 {
      let length = Int.random(in: 0..<80, using: &generator)
      let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator) ?? 0 }
      _ = LogEntry.decode(jsonLine: bytes)
      _ = LogEntry.decode(jsonLine: Array(#"{"log":""#.utf8) + bytes)
    }
  }

  @Test("what jsonLine writes decodes to the same entry, for any bytes")
  func roundTrip() throws {
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<500 {
      let bytes = (0..<Int.random(in: 0..<200, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
      let entry = LogEntry(
        stream: Bool.random(using: &generator) ? .stdout : .stderr, bytes: bytes,
        time: DockerTime(seconds: Int64.random(in: 0...4_000_000_000), nanoseconds: Int64.random(in: 0..<1_000_000_000)),
        attributes: Bool.random(using: &generator) ? ["tag": "a=b,c", "name": "web"] : [:])
      var line = entry.jsonLine()
      #expect(line.last == 0x0A)
      line.removeLast()
      #expect(LogEntry.decode(jsonLine: line) == entry)
    }
  }
}
