import BerthOS
import Foundation
import Testing

@testable import BerthEngine

/// Decoding speed on a 100 MB log. Off by default (it takes seconds and means little in a
/// debug build); run with
/// `BERTH_LOG_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter LogBenchmark`.
@Suite("LogBenchmark", .enabled(if: ProcessInfo.processInfo.environment["BERTH_LOG_BENCH"] != nil))
struct LogBenchmarkTests {
  /// Counts what it is given, so that nothing is optimized away.
  struct CountingSink: LogSink {
    var entries = 0
    var bytes = 0
    mutating func write(_ entry: LogEntry) throws {
      entries += 1
      bytes += entry.bytes.count
    }
  }

  @Test("decode 100 MB of json-file lines")
  func decode() throws {
    let fixture = try LogFixture()
    // Typical output: ~80-byte lines, some with quotes, tabs and non-ASCII text.
    var chunk: [UInt8] = []
    for index in 0..<10_000 {
      let text: String
      switch index % 4 {
      case 0: text = "2026-11-21 08:00:00,123 INFO  [main] request \(index) served in 12 ms\n"
      case 1: text = "GET /api/v1/items?id=\(index) HTTP/1.1\" 200 5123 \"-\" \"curl/8.0\"\n"
      case 2: text = "\tat com.example.Service.handle(Service.java:\(index)) — naïve café\n"
      default: text = String(repeating: "x", count: 150) + "\n"
      }
      chunk += logEntry(text, index % 5 == 0 ? .stderr : .stdout, at: 1_795_248_000 + Int64(index), nanoseconds: 123_456_789).jsonLine()
    }
    var file: [UInt8] = []
    while file.count < 100_000_000 { file += chunk }
    try FS.write(fixture.log, file)
    let megabytes = Double(file.count) / 1_000_000

    // The decoder alone, over lines in memory.
    var start = ContinuousClock.now
    var decoded = 0
    file.withUnsafeBufferPointer { bytes in
      var lineStart = 0
      for index in bytes.indices where bytes[index] == 0x0A {
        if LogEntry.decode(jsonLine: UnsafeBufferPointer(rebasing: bytes[lineStart..<index])) != nil { decoded += 1 }
        lineStart = index + 1
      }
    }
    let decodeSeconds = seconds(ContinuousClock.now - start)

    // The reader: the file, lines, decoding, a sink.
    start = ContinuousClock.now
    var counter = CountingSink()
    try LogReader(path: fixture.log).read(into: &counter)
    let readSeconds = seconds(ContinuousClock.now - start)

    // What `berth logs > /dev/null` does.
    let null = try OwnedFD.open("/dev/null", O_WRONLY)
    start = ContinuousClock.now
    var output = LogOutput(stdout: null.raw, stderr: null.raw, format: .init(timestamps: true))
    try LogReader(path: fixture.log).read(into: &output)
    let outputSeconds = seconds(ContinuousClock.now - start)

    // --tail 10 of the same file.
    start = ContinuousClock.now
    var tail = CountingSink()
    try LogReader(path: fixture.log, options: .init(tail: 10)).read(into: &tail)
    let tailSeconds = seconds(ContinuousClock.now - start)

    print(
      """
      log benchmark: \(Int(megabytes)) MB, \(decoded) lines
        decode only:        \(Int(megabytes / decodeSeconds)) MB/s
        LogReader:          \(Int(megabytes / readSeconds)) MB/s
        LogReader -t to /dev/null: \(Int(megabytes / outputSeconds)) MB/s
        --tail 10:          \(Int(tailSeconds * 1_000_000)) µs
      """)
    #expect(decoded == counter.entries)
    #expect(tail.entries == 10)
  }

  private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
  }
}
