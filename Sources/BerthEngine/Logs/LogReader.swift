import BerthOS
import Foundation
import Synchronization

/// Reads a container's json-file log as `docker logs` does.
///
/// ```swift
/// let options = LogReader.Options(tail: LogReader.Options.tail("10"), since: try DockerTime.parse("5m"), follow: true)
/// var output = LogOutput(format: .init(timestamps: true))
/// try await LogReader(path: layout.log(id), options: options).read(into: output) { container.isRunning }
/// ```
///
/// The rotated files (`<path>.N` oldest … `<path>.1`) come first, then `<path>`. A log that
/// does not exist (a container never started) reads as empty. Lines that are not log entries
/// — garbage, or the start of a line still being written — are skipped.
public struct LogReader: Sendable {
  public struct Options: Sendable, Equatable {
    /// `--tail`: how many lines to print from the end of the log, across rotated files; nil
    /// for all, 0 for none of the past (with `follow`, only what comes next). A line is an
    /// entry ending in "\n" with the entries before it that did not, or the unfinished last.
    public var tail: Int?
    /// `--since`: entries older than this are skipped.
    public var since: DockerTime?
    /// `--until`: reading stops at the first entry newer than this, and following stops
    /// when the clock passes it.
    public var until: DockerTime?
    /// `-f`: after the past, wait for new entries until the container stops.
    public var follow: Bool

    public init(tail: Int? = nil, since: DockerTime? = nil, until: DockerTime? = nil, follow: Bool = false) {
      self.tail = tail
      self.since = since
      self.until = until
      self.follow = follow
    }

    /// A `--tail` value as Docker reads it: a number ≥ 0, or all (nil) for `all` and for
    /// anything else — a negative number or a non-integer is not an error.
    public static func tail(_ text: String) -> Int? {
      guard let count = Int(text), count >= 0 else { return nil }
      return count
    }
  }

  /// The current log file, `<containerDir>/<id>-json.log`.
  public let path: String
  public var options: Options

  /// How often following checks `isActive` and the clock when no output arrives.
  static let checkMilliseconds = 250

  public init(path: String, options: Options = Options()) {
    self.path = path
    self.options = options
  }

  /// Delivers the log to `sink`, then (with `follow`) new entries as the monitor appends
  /// them, until `isActive` returns false — after what is left in the file is delivered — or
  /// `until` passes. Blocks the calling thread; does not spin (inotify, else polling at
  /// 100 ms).
  ///
  /// - Parameter isActive: whether the container can still write output; called about every
  ///   250 ms while following, never without `follow`.
  /// - Throws: `BerthError` when a file cannot be read; whatever `sink` throws.
  public func read(into sink: inout some LogSink, isActive: () -> Bool = { false }) throws {
    var session = LogReadSession(sink: sink, since: options.since, until: options.until)
    defer { sink = session.sink }
    try session.run(path: path, tail: options.tail, follow: options.follow, isActive: isActive)
  }

  /// ``read(into:isActive:)-(LogSink,_)`` on a thread of its own, so that following does not
  /// hold one of the cooperative pool's threads. Cancelling the task ends following as a
  /// stopped container would.
  ///
  /// - Returns: the sink, after the last entry.
  @discardableResult
  public func read<Sink: LogSink & Sendable>(
    into sink: Sink, isActive: @escaping @Sendable () -> Bool = { false }
  ) async throws -> Sink {
    let cancelled = CancellationFlag()
    return try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Sink, any Error>) in
        let thread = Thread { [self] in
          var sink = sink
          do {
            try read(into: &sink) { !cancelled.isSet && isActive() }
            continuation.resume(returning: sink)
          } catch {
            continuation.resume(throwing: error)
          }
        }
        thread.name = "berth-logs"
        thread.start()
      }
    } onCancel: {
      cancelled.set()
    }
  }
}

/// Set once by a task's cancellation handler, read by the reading thread.
private final class CancellationFlag: Sendable {
  private let value = Atomic<Bool>(false)
  var isSet: Bool { value.load(ordering: .relaxed) }
  func set() { value.store(true, ordering: .relaxed) }
}
