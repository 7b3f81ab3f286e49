import BerthOS

#if canImport(Glibc)
import Glibc
#endif

/// The sink `berth logs` writes with: stdout entries to one descriptor, stderr entries to
/// another, as `docker logs` does.
///
/// Output is buffered (up to 64 KiB) and written out when the descriptor changes, so that
/// stdout and stderr stay in log order when both go to one terminal, and whenever the reader
/// flushes.
public struct LogOutput: LogSink, Sendable {
  public struct Format: Sendable, Equatable {
    /// `-t`: each line starts with its time as `docker logs -t` prints it
    /// (``DockerTime/rfc3339NanoFixed``) and a space.
    public var timestamps: Bool
    /// `--details`: each line starts with the entry's attributes (`key=value,...`, sorted,
    /// URL query escaped) and a space — just a space when there are none, as Docker does.
    public var details: Bool
    /// For containers with a tty: every entry goes to the stdout descriptor (the monitor
    /// records tty output as "stdout" anyway).
    public var raw: Bool

    public init(timestamps: Bool = false, details: Bool = false, raw: Bool = false) {
      self.timestamps = timestamps
      self.details = details
      self.raw = raw
    }
  }

  public let stdout: Int32
  public let stderr: Int32
  public var format: Format

  private var buffer: [UInt8] = []
  private var bufferFD: Int32 = -1
  /// Whether the next entry of each stream starts a line. Prefixes go at line starts only:
  /// a line the monitor split (longer than 16 KiB) keeps one timestamp, where Docker would
  /// print one in the middle of it.
  private var stdoutAtLineStart = true
  private var stderrAtLineStart = true

  private static let bufferLimit = 64 * 1024

  public init(stdout: Int32 = 1, stderr: Int32 = 2, format: Format = Format()) {
    self.stdout = stdout
    self.stderr = stderr
    self.format = format
    buffer.reserveCapacity(Self.bufferLimit)
  }

  public mutating func write(_ entry: LogEntry) throws {
    let toStderr = !format.raw && entry.stream == .stderr
    let fd = toStderr ? stderr : stdout
    if fd != bufferFD {
      try flush()
      bufferFD = fd
    }
    let atLineStart = format.raw || entry.stream == .stdout ? stdoutAtLineStart : stderrAtLineStart
    if atLineStart {
      if format.timestamps {
        entry.time.appendRFC3339(to: &buffer, trimmingZeros: false)
        buffer.append(UInt8(ascii: " "))
      }
      if format.details {
        Self.appendDetails(entry.attributes, to: &buffer)
        buffer.append(UInt8(ascii: " "))
      }
    }
    buffer.append(contentsOf: entry.bytes)
    if format.raw || entry.stream == .stdout {
      stdoutAtLineStart = entry.endsLine
    } else {
      stderrAtLineStart = entry.endsLine
    }
    if buffer.count >= Self.bufferLimit { try flush() }
  }

  public mutating func flush() throws {
    guard !buffer.isEmpty else { return }
    defer { buffer.removeAll(keepingCapacity: true) }
    do {
      try writeAllBytes(bufferFD, buffer)
    } catch let error as BerthError {
      throw error.prefixed("write logs to \(bufferFD == stderr ? "stderr" : "stdout")")
    }
  }

  /// Docker's `attrsByteSlice`: sorted by key, `url.QueryEscape`d, joined with commas.
  private static func appendDetails(_ attributes: [String: String], to out: inout [UInt8]) {
    for (index, key) in attributes.keys.sorted().enumerated() {
      if index > 0 { out.append(UInt8(ascii: ",")) }
      appendQueryEscaped(key, to: &out)
      out.append(UInt8(ascii: "="))
      appendQueryEscaped(attributes[key] ?? "", to: &out)
    }
  }

  private static func appendQueryEscaped(_ text: String, to out: inout [UInt8]) {
    let hex = Array("0123456789ABCDEF".utf8)
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
        UInt8(ascii: "~"):
        out.append(byte)
      case UInt8(ascii: " "):
        out.append(UInt8(ascii: "+"))
      default:
        out.append(UInt8(ascii: "%"))
        out.append(hex[Int(byte >> 4)])
        out.append(hex[Int(byte & 0xF)])
      }
    }
  }
}
