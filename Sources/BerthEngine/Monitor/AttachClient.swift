import BerthOS
import CLinux
import Foundation

/// The client side of a monitor's attach socket (docs/monitor.md): `run`, `start -a` and
/// `attach` stream the container's stdio through it.
///
/// Frames both ways are [stream][4-byte big-endian length][payload]: 0 stdin (empty: close
/// it), 1 stdout, 2 stderr, 3 the exit code (decimal text), 4 a resize ("ROWS COLS").
public final class AttachClient {
  public enum Outcome: Equatable, Sendable {
    /// The container exited with this code.
    case exited(Int32)
    /// The user typed the detach keys.
    case detached
    /// The monitor closed the connection without an exit code (it was killed).
    case disconnected
  }

  private let socket: OwnedFD
  private var input: [UInt8] = []

  /// Connects and asks for the streams.
  public init(socketPath: String, stdin: Bool, stdout: Bool, stderr: Bool) throws {
    socket = try UnixSocket.connect(socketPath, what: "attach to the container's monitor")
    try socket.writeAll(Array("attach stdin=\(stdin ? 1 : 0) stdout=\(stdout ? 1 : 0) stderr=\(stderr ? 1 : 0)\n".utf8))
  }

  /// One request on its own connection ("start", "resize R C"), answered "ok" or "error …".
  public static func request(socketPath: String, _ line: String) throws {
    let connection = try UnixSocket.connect(socketPath, what: "reach the container's monitor")
    try connection.writeAll(Array((line + "\n").utf8))
    let reply = String(decoding: try connection.readAll(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    if reply == "ok" { return }
    if reply.hasPrefix("error ") { throw BerthError(.commandFailed, String(reply.dropFirst(6))) }
    throw BerthError(.commandFailed, "the container's monitor did not answer \(quoted(line)) (it may have ended)")
  }

  /// Pumps stdio until the container exits, the user detaches, or the monitor goes.
  /// - Parameters:
  ///   - stdinFD: forwarded as the container's stdin (nil: none). End of file closes it.
  ///   - tty: the local terminal goes raw; its size follows SIGWINCH; `detachKeys` apply.
  ///   - onSignal: called with each proxied signal (non-tty `run` forwards INT, TERM, …).
  public func pump(stdinFD: Int32?, tty: Bool, detachKeys: [UInt8] = [16, 17], proxySignals: Bool,
                   onSignal: (Int32) -> Void = { _ in }) -> Outcome {
    SignalPipe.install(winch: tty, proxy: proxySignals)
    defer { SignalPipe.uninstall() }
    var saved = termios()
    let rawTerminal = tty && stdinFD != nil && isatty(stdinFD ?? -1) != 0 && berth_tty_make_raw(stdinFD ?? 0, &saved) == 0
    defer { if rawTerminal { _ = berth_tty_restore(stdinFD ?? 0, &saved) } }
    if tty { sendResize() }

    var stdinOpen = stdinFD != nil
    var matched = 0  // how much of the detach sequence has been typed
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
      var fds = [
        pollfd(fd: socket.raw, events: Int16(POLLIN), revents: 0),
        pollfd(fd: SignalPipe.readEnd, events: Int16(POLLIN), revents: 0),
        pollfd(fd: stdinOpen ? (stdinFD ?? -1) : -1, events: Int16(POLLIN), revents: 0),
      ]
      if poll(&fds, 3, -1) < 0 {
        if errno == EINTR { continue }
        return .disconnected
      }
      if fds[1].revents != 0 {
        for signal in SignalPipe.drain() {
          if signal == SIGWINCH { sendResize() } else { onSignal(signal) }
        }
      }
      if fds[2].revents != 0, let stdinFD {
        let count = buffer.withUnsafeMutableBytes { read(stdinFD, $0.baseAddress, $0.count) }
        if count > 0 {
          var chunk = Array(buffer[0..<count])
          if tty && !detachKeys.isEmpty {
            // The detach sequence is held back until it is complete or broken.
            var forward: [UInt8] = []
            for byte in chunk {
              if byte == detachKeys[matched] {
                matched += 1
                if matched == detachKeys.count { return .detached }
              } else {
                forward += detachKeys[0..<matched]
                matched = byte == detachKeys[0] ? 1 : 0
                if matched == 0 { forward.append(byte) }
              }
            }
            chunk = forward
          }
          if !chunk.isEmpty { send(0, chunk) }
        } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
          stdinOpen = false
          send(0, [])
        }
      }
      if fds[0].revents != 0 {
        let count = buffer.withUnsafeMutableBytes { read(socket.raw, $0.baseAddress, $0.count) }
        if count <= 0 {
          if count < 0 && errno == EINTR { continue }
          return .disconnected
        }
        input += buffer[0..<count]
        if let code = deliverFrames() { return .exited(code) }
      }
    }
  }

  /// Writes complete frames to stdout and stderr; the exit code when one came.
  private func deliverFrames() -> Int32? {
    var offset = 0
    defer { if offset > 0 { input.removeFirst(offset) } }
    while input.count - offset >= 5 {
      let length = Int(input[offset + 1]) << 24 | Int(input[offset + 2]) << 16 | Int(input[offset + 3]) << 8 | Int(input[offset + 4])
      guard input.count - offset - 5 >= length else { break }
      let stream = input[offset]
      let payload = input[(offset + 5)..<(offset + 5 + length)]
      offset += 5 + length
      switch stream {
      case 1: try? writeAllBytes(1, payload)
      case 2: try? writeAllBytes(2, payload)
      case 3: return Int32(String(decoding: payload, as: UTF8.self).trimmingCharacters(in: .whitespaces)) ?? 255
      default: break
      }
    }
    return nil
  }

  private func send(_ stream: UInt8, _ payload: [UInt8]) {
    let length = UInt32(payload.count)
    let header: [UInt8] = [stream, UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff), UInt8(length & 0xff)]
    try? socket.writeAll(header + payload)
  }

  /// Ends the connection now: after claiming a `--rm` container's removal, so that the
  /// monitor (which waits for attached clients to hang up) does not also start one.
  public func hangUp() { _ = shutdown(socket.raw, Int32(SHUT_RDWR)) }

  /// Sends this terminal's size (a foreground `run -t` does it before the start, so the
  /// container's first `stty size` sees it).
  public func sendTerminalSize() { sendResize() }

  private func sendResize() {
    var rows: UInt16 = 0, columns: UInt16 = 0
    if berth_get_winsize(1, &rows, &columns) == 0 || berth_get_winsize(0, &rows, &columns) == 0, rows > 0 {
      send(4, Array("\(rows) \(columns)".utf8))
    }
  }
}

/// Signals turned into bytes on a pipe, so that a poll loop can see them (the handler only
/// calls write(2), which is async-signal-safe).
public enum SignalPipe {
  nonisolated(unsafe) public static var readEnd: Int32 = -1
  nonisolated(unsafe) static var writeEnd: Int32 = -1
  static let proxied: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]

  public static func install(winch: Bool, proxy: Bool) {
    if readEnd < 0 {
      var fds: [Int32] = [0, 0]
      guard berth_pipe2(&fds, O_CLOEXEC | O_NONBLOCK) == 0 else { return }
      readEnd = fds[0]
      writeEnd = fds[1]
    }
    let handler: @convention(c) (Int32) -> Void = { signal in
      var byte = UInt8(truncatingIfNeeded: signal)
      _ = write(SignalPipe.writeEnd, &byte, 1)
    }
    var signals: [Int32] = []
    if winch { signals.append(SIGWINCH) }
    if proxy { signals += proxied }
    for signal in signals {
      var action = sigaction()
      action.__sigaction_handler.sa_handler = handler
      action.sa_flags = SA_RESTART
      sigaction(signal, &action, nil)
    }
  }

  public static func uninstall() {
    for signal in [SIGWINCH] + proxied { Glibc.signal(signal, SIG_DFL) }
  }

  public static func drain() -> [Int32] {
    var result: [Int32] = []
    var buffer = [UInt8](repeating: 0, count: 64)
    while true {
      let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
      if count <= 0 { break }
      result += buffer[0..<count].map { Int32($0) }
    }
    return result
  }
}
