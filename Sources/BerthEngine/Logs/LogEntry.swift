/// Which of the container's output streams an entry came from.
public enum LogStream: String, Sendable, Hashable {
  case stdout
  case stderr
}

/// One entry of a json-file log: a line of output, or a piece of one.
///
/// The monitor writes an entry per line ending in `"\n"`; a line longer than 16 KiB becomes
/// several entries of which only the last ends in `"\n"`, and output that stops without a
/// newline gives an entry without one. ``endsLine`` tells them apart.
public struct LogEntry: Sendable, Hashable {
  public var stream: LogStream
  /// The output bytes exactly as the container wrote them (not necessarily UTF-8).
  public var bytes: [UInt8]
  /// When the monitor read them.
  public var time: DockerTime
  /// The `attrs` object Docker writes for `--log-opt labels=/env=` (what `--details`
  /// prints); empty when absent.
  public var attributes: [String: String]

  public init(stream: LogStream, bytes: [UInt8], time: DockerTime, attributes: [String: String] = [:]) {
    self.stream = stream
    self.bytes = bytes
    self.time = time
    self.attributes = attributes
  }

  /// Whether this entry ends a line (its bytes end in "\n").
  public var endsLine: Bool { bytes.last == UInt8(ascii: "\n") }
}
