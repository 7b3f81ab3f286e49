import CMonitor

/// Frame streams of the attach protocol (docs/monitor.md).
enum Stream {
  static let stdin: UInt8 = 0
  static let stdout: UInt8 = 1
  static let stderr: UInt8 = 2
  static let exit: UInt8 = 3
  static let resize: UInt8 = 4
}

/// One connection on the attach socket.
///
/// It starts by sending one request line. `attach` turns it into a stream of frames both
/// ways; `start` and `resize` get a one-line reply and the connection is closed.
final class Client {
  enum Phase {
    /// Waiting for the request line.
    case request
    /// Attached: frames flow.
    case attached
    /// Replying, then closing.
    case closing
  }

  /// A client whose unsent output exceeds this is disconnected: a slow reader never blocks
  /// the container or the other clients.
  static let maxBufferedOutput = 1 << 20
  static let maxRequestLine = 1024
  static let maxFrame = 1 << 20

  var fd: Int32
  var phase = Phase.request
  var wantsStdin = false
  var wantsStdout = false
  var wantsStderr = false
  /// Received bytes not yet consumed (the request line, then frames).
  var input: [UInt8] = []
  /// Bytes to send, from `outputStart` on.
  private(set) var output: [UInt8] = []
  private var outputStart = 0
  /// Set when the connection must go (error, hang-up, overflow).
  var dead = false
  /// The client shut down its sending side.
  var inputClosed = false

  init(fd: Int32) { self.fd = fd }

  deinit { closeFD(&fd) }

  var hasPendingOutput: Bool { outputStart < output.count }

  /// Queues a frame: stream, 4-byte big-endian length, payload.
  func sendFrame(_ stream: UInt8, _ payload: UnsafeBufferPointer<UInt8>) {
    guard !dead else { return }
    if output.count - outputStart + payload.count + 5 > Self.maxBufferedOutput {
      dead = true
      return
    }
    let length = UInt32(payload.count)
    output.append(stream)
    output.append(UInt8(truncatingIfNeeded: length >> 24))
    output.append(UInt8(truncatingIfNeeded: length >> 16))
    output.append(UInt8(truncatingIfNeeded: length >> 8))
    output.append(UInt8(truncatingIfNeeded: length))
    output.append(contentsOf: payload)
    flushOutput()
  }

  /// Queues raw bytes (a reply line).
  func sendRaw(_ bytes: [UInt8]) {
    guard !dead else { return }
    output.append(contentsOf: bytes)
    flushOutput()
  }

  /// Sends what the socket takes now, without blocking.
  func flushOutput() {
    while outputStart < output.count && !dead {
      let n = output.withUnsafeBytes { raw in
        cmonitor_send(fd, raw.baseAddress! + outputStart, raw.count - outputStart)
      }
      if n > 0 {
        outputStart += n
        continue
      }
      if n < 0 && (lastErrno() == EAGAIN || lastErrno() == EWOULDBLOCK) { break }
      dead = true
    }
    if outputStart == output.count {
      // Everything went: release the memory of a burst, keep a small buffer.
      if output.count > 64 * 1024 { output = [] } else { output.removeAll(keepingCapacity: true) }
      outputStart = 0
    } else if outputStart > 256 * 1024 {
      output.removeFirst(outputStart)
      outputStart = 0
    }
  }
}
