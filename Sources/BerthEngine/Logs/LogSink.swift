/// Where a ``LogReader`` delivers entries, in log order.
public protocol LogSink {
  /// Takes one entry. An error stops the reader, which rethrows it.
  mutating func write(_ entry: LogEntry) throws
  /// Called when the reader has delivered all it has for now: at the end, and before it
  /// waits for more output while following. Buffering sinks write out what they hold.
  mutating func flush() throws
}

extension LogSink {
  public mutating func flush() throws {}
}
