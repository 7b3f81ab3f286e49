import BerthOS
import Testing

@testable import BerthEngine

#if canImport(Glibc)
import Glibc
#endif

@Suite("LogOutput")
struct LogOutputTests {
  /// Writes `entries` through a LogOutput to two files; returns what each received.
  private func render(_ entries: [LogEntry], _ format: LogOutput.Format = .init(), sameFile: Bool = false) throws -> (out: String, err: String) {
    let fixture = try LogFixture()
    let out = try OwnedFD.open(fixture.directory + "/out", O_RDWR | O_CREAT | O_TRUNC)
    let err = try OwnedFD.open(fixture.directory + "/err", O_RDWR | O_CREAT | O_TRUNC)
    var output = LogOutput(stdout: out.raw, stderr: sameFile ? out.raw : err.raw, format: format)
    for entry in entries { try output.write(entry) }
    try output.flush()
    return (try FS.readText(fixture.directory + "/out"), try FS.readText(fixture.directory + "/err"))
  }

  @Test("stdout entries go to the stdout descriptor, stderr ones to stderr")
  func streams() throws {
    let result = try render([logEntry("a\n"), logEntry("b\n", .stderr), logEntry("c\n")])
    #expect(result.out == "a\nc\n")
    #expect(result.err == "b\n")
  }

  @Test("one descriptor for both keeps the log's order across the buffer")
  func order() throws {
    let entries = (0..<2000).map { logEntry("\($0)\n", $0 % 3 == 0 ? .stderr : .stdout) }
    let result = try render(entries, sameFile: true)
    #expect(result.out == (0..<2000).map { "\($0)\n" }.joined())
  }

  @Test("-t puts Docker's fixed-width time and a space at the start of each line")
  func timestamps() throws {
    let entries = [
      logEntry("one\n", at: 1_795_248_000, nanoseconds: 120_000_000),
      logEntry("long-", at: 1_795_248_001), logEntry("line\n", at: 1_795_248_002),  // split: one prefix
      logEntry("err\n", .stderr, at: 1_795_248_003),
    ]
    let result = try render(entries, .init(timestamps: true))
    #expect(result.out == "2026-11-21T08:00:00.120000000Z one\n2026-11-21T08:00:01.000000000Z long-line\n")
    #expect(result.err == "2026-11-21T08:00:03.000000000Z err\n")
  }

  @Test("--details prints the attributes sorted and escaped, or just a space")
  func details() throws {
    var tagged = logEntry("hi\n")
    tagged.attributes = ["z": "last", "a b": "x&y=1"]
    let result = try render([tagged, logEntry("plain\n")], .init(timestamps: true, details: true))
    #expect(result.out == "1970-01-01T00:16:40.000000000Z a+b=x%26y%3D1,z=last hi\n1970-01-01T00:16:40.000000000Z  plain\n")
  }

  @Test("raw (a tty container): everything to stdout, bytes untouched")
  func raw() throws {
    let result = try render([logEntry("a\r\n"), logEntry("b", .stderr), LogEntry(stream: .stdout, bytes: [0xFF, 0x0A], time: .init(seconds: 0))], .init(raw: true))
    #expect(Array(result.out.utf8) == Array("a\r\nb".utf8) + [0xEF, 0xBF, 0xBD, 0x0A])  // readText decodes 0xFF as U+FFFD
    #expect(result.err.isEmpty)
  }

  @Test("a reader delivers a log to the descriptors end to end")
  func endToEnd() throws {
    let fixture = try LogFixture()
    try fixture.append([logEntry("out\n", at: 1_795_248_000), logEntry("err\n", .stderr, at: 1_795_248_001)])
    let out = try OwnedFD.open(fixture.directory + "/out", O_RDWR | O_CREAT | O_TRUNC)
    let err = try OwnedFD.open(fixture.directory + "/err", O_RDWR | O_CREAT | O_TRUNC)
    var output = LogOutput(stdout: out.raw, stderr: err.raw, format: .init(timestamps: true))
    try LogReader(path: fixture.log).read(into: &output)
    #expect(try FS.readText(fixture.directory + "/out") == "2026-11-21T08:00:00.000000000Z out\n")
    #expect(try FS.readText(fixture.directory + "/err") == "2026-11-21T08:00:01.000000000Z err\n")
  }
}
