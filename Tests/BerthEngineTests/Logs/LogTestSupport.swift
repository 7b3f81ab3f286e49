import BerthOS
import Foundation
import Synchronization
import Testing

@testable import BerthEngine

/// A temporary container directory with a json-file log in it, written the way the monitor
/// writes it (whole lines appended; rotation by renames).
final class LogFixture: Sendable {
  let directory: String
  var log: String { directory + "/c0ffee-json.log" }

  init() throws {
    var template = Array("/tmp/berth-logs-XXXXXX".utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
      throw BerthError.system("mkdtemp")
    }
    directory = String(cString: made)
  }

  deinit { try? FS.removeTree(directory) }

  /// Appends raw bytes to `file` (default: the current log), creating it.
  func appendRaw(_ bytes: [UInt8], to file: String? = nil) throws {
    let fd = try OwnedFD.open(file ?? log, O_WRONLY | O_CREAT | O_APPEND)
    try fd.writeAll(bytes)
  }

  func append(_ entries: [LogEntry], to file: String? = nil) throws {
    try appendRaw(entries.flatMap { $0.jsonLine() }, to: file)
  }

  /// Lines "<prefix>1\n" … at one second apart from `start`.
  func append(lines range: ClosedRange<Int>, prefix: String = "line ", start: Int64 = 1_000, to file: String? = nil) throws {
    try append(range.map { logEntry("\(prefix)\($0)\n", at: start + Int64($0)) }, to: file)
  }

  /// The monitor's rotation: .N-1 → .N, …, current → .1; the next append creates a new file.
  func rotate() throws {
    let numbers = LogFiles.rotatedNumbers(of: log).sorted(by: >)
    for number in numbers {
      try check("rename") { rename("\(log).\(number)", "\(log).\(number + 1)") }
    }
    try check("rename") { rename(log, log + ".1") }
  }
}

func logEntry(_ text: String, _ stream: LogStream = .stdout, at seconds: Int64 = 1_000, nanoseconds: Int64 = 0) -> LogEntry {
  LogEntry(stream: stream, bytes: Array(text.utf8), time: DockerTime(seconds: seconds, nanoseconds: nanoseconds))
}

/// Collects entries; a plain value for the synchronous API.
struct ArraySink: LogSink {
  var entries: [LogEntry] = []
  var flushes = 0
  var texts: [String] { entries.map { String(decoding: $0.bytes, as: UTF8.self) } }
  mutating func write(_ entry: LogEntry) throws { entries.append(entry) }
  mutating func flush() throws { flushes += 1 }
}

/// Collects entries where a test can watch them arrive while a reader follows.
final class SharedLogs: LogSink, Sendable {
  private let entries = Mutex<[LogEntry]>([])
  private let flushes = Atomic<Int>(0)

  var texts: [String] { entries.withLock { $0.map { String(decoding: $0.bytes, as: UTF8.self) } } }
  var count: Int { entries.withLock { $0.count } }

  func write(_ entry: LogEntry) throws { entries.withLock { $0.append(entry) } }
  func flush() throws { flushes.add(1, ordering: .relaxed) }

  // The timeouts below only bound a failure: they are long because tests run in parallel
  // on busy 2-core machines, where a task may wait seconds for a thread.

  /// Waits until the reader has flushed once: it is done with the past and following.
  func waitForFlush(timeout: Duration = .seconds(10)) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      if flushes.load(ordering: .relaxed) > 0 { return true }
      try? await Task.sleep(for: .milliseconds(5))
    }
    return flushes.load(ordering: .relaxed) > 0
  }

  /// Waits (polling every 5 ms) until at least `count` entries arrived; false on timeout.
  func waitFor(count: Int, timeout: Duration = .seconds(10)) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      if self.count >= count { return true }
      try? await Task.sleep(for: .milliseconds(5))
    }
    return self.count >= count
  }
}

/// Whether `task` ends within `timeout`; false (and the task still running) if it does not,
/// so that a reader that fails to stop fails its test instead of hanging it.
func ends(_ task: Task<Void, any Error>, within timeout: Duration = .seconds(10)) async -> Bool {
  let ended = EndFlag()
  Task {
    _ = try? await task.value
    ended.set()
  }
  let deadline = ContinuousClock.now + timeout
  while !ended.isSet, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
  return ended.isSet
}

/// Set once a watched task has ended.
final class EndFlag: Sendable {
  private let value = Atomic<Bool>(false)
  var isSet: Bool { value.load(ordering: .relaxed) }
  func set() { value.store(true, ordering: .relaxed) }
}

/// A flag a test flips to say "the container stopped".
final class ActiveFlag: Sendable {
  private let value = Atomic<Bool>(true)
  var isActive: Bool { value.load(ordering: .relaxed) }
  func stop() { value.store(false, ordering: .relaxed) }
}

/// `lines` as "line N\n" texts, for expectations.
func lineTexts(_ range: ClosedRange<Int>, prefix: String = "line ") -> [String] {
  range.map { "\(prefix)\($0)\n" }
}
