#if canImport(Glibc)
import Glibc
#endif

/// Timestamps of the container start path, printed to stderr when BERTH_TRACE_START is set:
/// how we find where the milliseconds go without a profiler.
public enum StartTrace {
  nonisolated(unsafe) static var enabled: Bool = getenv("BERTH_TRACE_START") != nil
  nonisolated(unsafe) static var start: UInt64 = Clock.monotonicNanoseconds()

  @inline(__always)
  public static func mark(_ label: @autoclosure () -> String) {
    guard enabled else { return }
    let origin = start
    let elapsed = Double(Clock.monotonicNanoseconds() &- origin) / 1_000_000
    writeToStandardError("[\(getpid())] \(elapsed) ms \(label())\n")
  }
}
