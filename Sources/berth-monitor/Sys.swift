import CLinux
import CMonitor

// Thin wrappers over the C library: descriptors, files, clocks, processes.
// berth-monitor is single threaded and blocks every signal, so nothing here needs to worry
// about reentrancy; EINTR is still retried where a call can be interrupted by a stop signal.

/// The current errno.
@inline(__always) func lastErrno() -> Int32 { cmonitor_errno() }

/// strerror(errno) as text.
func errnoText(_ code: Int32 = cmonitor_errno()) -> String {
  guard let message = strerror(code) else { return "errno \(code)" }
  return String(cString: message)
}

/// Closes a descriptor if it is open and marks the variable closed (-1).
func closeFD(_ fd: inout Int32) {
  if fd >= 0 { _ = close(fd) }
  fd = -1
}

/// Writes every byte to a (blocking or non-blocking) descriptor; gives up on an error other
/// than EINTR/EAGAIN (waiting for writability on EAGAIN). Returns whether all was written.
@discardableResult
func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Bool {
  guard fd >= 0, let base = buffer.baseAddress else { return buffer.isEmpty }
  var done = 0
  while done < buffer.count {
    let n = write(fd, base + done, buffer.count - done)
    if n > 0 {
      done += n
      continue
    }
    let err = lastErrno()
    if n < 0 && err == EINTR { continue }
    if n < 0 && err == EAGAIN {
      var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
      if poll(&pfd, 1, 1000) <= 0 { return false }
      continue
    }
    return false
  }
  return true
}

@discardableResult
func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
  bytes.withUnsafeBytes { writeAll(fd, $0) }
}

@discardableResult
func writeAll(_ fd: Int32, _ text: String) -> Bool {
  var copy = text
  return copy.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0)) }
}

/// Reads a whole (small) file; nil when it cannot be opened.
func readFile(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
  let fd = path.withCString { cmonitor_open($0, O_RDONLY, 0) }
  guard fd >= 0 else { return nil }
  defer { _ = close(fd) }
  var result: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 4096)
  while result.count < limit {
    let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    if n < 0 && lastErrno() == EINTR { continue }
    if n <= 0 { break }
    result.append(contentsOf: chunk[0..<n])
  }
  return result
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then rename(2).
@discardableResult
func writeFileAtomically(_ path: String, _ bytes: [UInt8]) -> Bool {
  let temporary = path + ".tmp"
  let fd = temporary.withCString { cmonitor_open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
  guard fd >= 0 else { return false }
  let ok = writeAll(fd, bytes)
  _ = close(fd)
  guard ok else {
    _ = temporary.withCString { unlink($0) }
    return false
  }
  return temporary.withCString { from in path.withCString { to in rename(from, to) } } == 0
}

func fileExists(_ path: String) -> Bool {
  path.withCString { cmonitor_exists($0) } != 0
}

func removeFile(_ path: String) {
  _ = path.withCString { unlink($0) }
}

func renameFile(_ from: String, _ to: String) -> Bool {
  from.withCString { f in to.withCString { t in rename(f, t) } } == 0
}

/// A pipe, both ends close-on-exec: (read, write).
func makePipe() -> (read: Int32, write: Int32)? {
  var fds: [Int32] = [-1, -1]
  let rc = fds.withUnsafeMutableBufferPointer { berth_pipe2($0.baseAddress, O_CLOEXEC) }
  guard rc == 0 else { return nil }
  return (fds[0], fds[1])
}

/// CLOCK_MONOTONIC, nanoseconds.
@inline(__always) func monotonicNow() -> Int64 { cmonitor_monotonic_ns() }

/// The wall clock.
struct WallTime {
  var seconds: Int64
  var nanoseconds: Int32

  static func now() -> WallTime {
    var seconds: Int64 = 0
    var nanoseconds: Int32 = 0
    cmonitor_realtime(&seconds, &nanoseconds)
    return WallTime(seconds: seconds, nanoseconds: nanoseconds)
  }

  /// Nanoseconds since the epoch.
  var totalNanoseconds: Int64 { seconds &* 1_000_000_000 &+ Int64(nanoseconds) }
}

/// The exit status of a wait(2) status word, shell style: the code, or 128 + the signal.
func shellCode(ofWaitStatus status: Int32) -> Int {
  let signal = status & 0x7f
  if signal == 0 { return Int((status >> 8) & 0xff) }
  return 128 + Int(signal)
}

/// Sleeps in poll(2) (no signals are delivered: they are all blocked).
func sleepMilliseconds(_ ms: Int32) {
  _ = poll(nil, 0, ms)
}
