import BerthOS
import Testing

@testable import BerthEngine

#if canImport(Glibc)
import Glibc
#endif

@Suite("LogReader: the past")
struct LogReaderTests {
  private func read(_ fixture: LogFixture, _ options: LogReader.Options = .init()) throws -> ArraySink {
    var sink = ArraySink()
    try LogReader(path: fixture.log, options: options).read(into: &sink)
    return sink
  }

  /// line 1-3 in .2, 4-6 in .1, 7-9 in the current file.
  private func rotatedFixture() throws -> LogFixture {
    let fixture = try LogFixture()
    try fixture.append(lines: 1...3)
    try fixture.rotate()
    try fixture.append(lines: 4...6)
    try fixture.rotate()
    try fixture.append(lines: 7...9)
    return fixture
  }

  @Test("a log that does not exist reads as empty, following or not")
  func missing() throws {
    let fixture = try LogFixture()
    let sink = try read(fixture)
    #expect(sink.entries.isEmpty)
    var following = ArraySink()
    try LogReader(path: fixture.log, options: .init(follow: true)).read(into: &following) { false }
    #expect(following.entries.isEmpty)
  }

  @Test("rotated files come first, oldest first")
  func allInOrder() throws {
    let fixture = try rotatedFixture()
    #expect(try read(fixture).texts == lineTexts(1...9))
  }

  @Test(
    "--tail counts lines from the end, across rotated files",
    arguments: [
      (0, [Int]()),
      (1, [9]),
      (3, [7, 8, 9]),
      (4, [6, 7, 8, 9]),
      (7, Array(3...9)),
      (9, Array(1...9)),
      (100, Array(1...9)),
    ] as [(Int, [Int])])
  func tail(_ count: Int, _ expected: [Int]) throws {
    let fixture = try rotatedFixture()
    #expect(try read(fixture, .init(tail: count)).texts == expected.map { "line \($0)\n" })
  }

  @Test("--tail all, a negative number, or a word mean all; numbers are counts")
  func tailText() {
    #expect(LogReader.Options.tail("all") == nil)
    #expect(LogReader.Options.tail("-1") == nil)
    #expect(LogReader.Options.tail("ten") == nil)
    #expect(LogReader.Options.tail("0") == 0)
    #expect(LogReader.Options.tail("25") == 25)
  }

  @Test(
    "a line split into entries counts once; unfinished output is the last line",
    arguments: [
      (1, ["dd"]),
      (2, ["ccc\n", "dd"]),
      (3, ["aa", "a2", "bbb\n", "ccc\n", "dd"]),
      (4, ["x\n", "aa", "a2", "bbb\n", "ccc\n", "dd"]),
    ] as [(Int, [String])])
  func tailSplitLines(_ count: Int, _ expected: [String]) throws {
    let fixture = try LogFixture()
    try fixture.append(["x\n", "aa", "a2", "bbb\n", "ccc\n", "dd"].map { logEntry($0) })
    #expect(try read(fixture, .init(tail: count)).texts == expected)
  }

  @Test("--tail of a split line whose pieces straddle a rotation")
  func tailAcrossRotation() throws {
    let fixture = try LogFixture()
    try fixture.append(["one\n", "two-a"].map { logEntry($0) })
    try fixture.rotate()
    try fixture.append(["two-b\n", "three\n"].map { logEntry($0) })
    #expect(try read(fixture, .init(tail: 2)).texts == ["two-a", "two-b\n", "three\n"])
  }

  @Test("--tail reads backwards: the last lines of a log after a 64 GiB hole come at once")
  func tailIsCheap() throws {
    let fixture = try LogFixture()
    // A sparse file: reading it from the start would take most of a minute; backwards, a
    // few reads. The bound leaves room for a busy machine.
    let fd = try OwnedFD.open(fixture.log, O_WRONLY | O_CREAT)
    try check("ftruncate") { ftruncate(fd.raw, 64 << 30) }
    try fixture.append(lines: 1...50)
    let start = ContinuousClock.now
    let sink = try read(fixture, .init(tail: 10))
    #expect(ContinuousClock.now - start < .seconds(5))
    #expect(sink.texts == lineTexts(41...50))
  }

  @Test("long lines (beyond the backward reader's 64 KiB blocks) are tailed whole")
  func tailLongLines() throws {
    let fixture = try LogFixture()
    let long = String(repeating: "é\"x", count: 60_000) + "\n"  // 300 KB escaped
    try fixture.append([logEntry("first\n"), logEntry(long), logEntry("last\n")])
    #expect(try read(fixture, .init(tail: 2)).texts == [long, "last\n"])
    #expect(try read(fixture, .init(tail: 3)).texts == ["first\n", long, "last\n"])
  }

  @Test(
    "--since keeps entries at or after it, --until those at or before it",
    arguments: [
      (Int64?.some(1005), Int64?.none, Array(5...9)),
      (1004, nil, Array(4...9)),  // an entry exactly at --since is kept
      (nil, 1003, Array(1...3)),  // and exactly at --until too
      (1003, 1006, Array(3...6)),
      (1010, nil, []),
      (nil, 900, []),
    ] as [(Int64?, Int64?, [Int])])
  func sinceUntil(_ since: Int64?, _ until: Int64?, _ expected: [Int]) throws {
    let fixture = try rotatedFixture()
    let options = LogReader.Options(since: since.map { DockerTime(seconds: $0) }, until: until.map { DockerTime(seconds: $0) })
    #expect(try read(fixture, options).texts == expected.map { "line \($0)\n" })
  }

  @Test("--since with a fraction compares nanoseconds")
  func sinceNanoseconds() throws {
    let fixture = try LogFixture()
    try fixture.append([
      logEntry("a\n", at: 1000, nanoseconds: 499_999_999), logEntry("b\n", at: 1000, nanoseconds: 500_000_000),
    ])
    let options = LogReader.Options(since: try DockerTime.parse("1000.5"))
    #expect(try read(fixture, options).texts == ["b\n"])
  }

  @Test("--tail applies before --since, as in Docker")
  func tailThenSince() throws {
    let fixture = try rotatedFixture()
    #expect(try read(fixture, .init(tail: 4, since: DockerTime(seconds: 1008))).texts == lineTexts(8...9))
    #expect(try read(fixture, .init(tail: 2, since: DockerTime(seconds: 1002))).texts == lineTexts(8...9))
  }

  @Test("bad lines are skipped; a line cut short at the end (being written) is not delivered")
  func badLines() throws {
    let fixture = try LogFixture()
    try fixture.append(lines: 1...1)
    try fixture.appendRaw(Array("garbage\n\n{\"log\":1}\n".utf8))
    try fixture.append(lines: 2...2)
    let half = logEntry("line 3\n").jsonLine().prefix(20)
    try fixture.appendRaw(Array(half))
    #expect(try read(fixture).texts == lineTexts(1...2))
    #expect(try read(fixture, .init(tail: 1)).texts == lineTexts(2...2))
  }

  @Test("a last entry without its newline is still delivered")
  func lastLineWithoutNewline() throws {
    let fixture = try LogFixture()
    try fixture.append(lines: 1...1)
    try fixture.appendRaw(logEntry("tail").jsonLine().dropLast())
    #expect(try read(fixture).texts == ["line 1\n", "tail"])
    #expect(try read(fixture, .init(tail: 1)).texts == ["tail"])
  }

  @Test("streams and bytes reach the sink as written")
  func streams() throws {
    let fixture = try LogFixture()
    let entries = [logEntry("out\n"), logEntry("err\n", .stderr), LogEntry(stream: .stdout, bytes: [0xFF, 0x00, 0x0A], time: DockerTime(seconds: 1))]
    try fixture.append(entries)
    #expect(try read(fixture).entries == entries)
  }
}
