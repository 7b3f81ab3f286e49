#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import CLinux

/// The runtime's side and the container init's side of one SOCK_SEQPACKET pair: each message
/// is a tag byte and an optional payload, optionally with descriptors (SCM_RIGHTS).
///
/// The init's end is close-on-exec, so the runtime reads end-of-file exactly when the init has
/// exec'd the container's process (or died): that is how `run` knows the process started.
struct SyncChannel {
  enum Tag: UInt8 {
    /// Runtime → init: user namespace maps and cgroups are in place; payload: a `GoMessage`.
    case go = 0x47  // G
    /// Init → runtime: mounts are done, pivot_root is next: run prestart/createRuntime hooks.
    case runHooks = 0x48  // H
    /// Runtime → init: carry on (after hooks, after the seccomp listener was passed on).
    case resume = 0x43  // C
    /// Init → runtime: the seccomp listener descriptor, attached.
    case seccompListener = 0x53  // S
    /// Init → runtime: the pty master, attached (when the runtime proxies the terminal).
    case ptyMaster = 0x54  // T
    /// Init → runtime: everything is set up; the init waits for start.
    case created = 0x44  // D
    /// Runtime → init: start now (run, without the exec fifo).
    case start = 0x58  // X
    /// Either way: a failure; payload: the message.
    case error = 0x45  // E
  }

  let fd: Int32

  /// A connected pair: (runtime end, init end), both close-on-exec.
  static func makePair() throws -> (SyncChannel, SyncChannel) {
    var fds: [Int32] = [0, 0]
    try check("socketpair") { socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) }
    return (SyncChannel(fd: fds[0]), SyncChannel(fd: fds[1]))
  }

  func send(_ tag: Tag, _ payload: [UInt8] = [], fds: [Int32] = []) throws {
    var message = [tag.rawValue]
    message += payload
    let sent = message.withUnsafeBytes { bytes in
      fds.withUnsafeBufferPointer { fdBuffer in
        berth_send_fds(fd, fdBuffer.baseAddress, Int32(fds.count), bytes.baseAddress, bytes.count)
      }
    }
    if sent < 0 { throw BerthError.system("send to the container's init") }
  }

  func send(_ tag: Tag, text: String) throws { try send(tag, Array(text.utf8)) }

  /// The next message, or nil at end of file (the peer exec'd or exited).
  func receive() throws -> (tag: Tag, payload: [UInt8], fds: [Int32])? {
    var buffer = [UInt8](repeating: 0, count: 65536)
    var received = [Int32](repeating: -1, count: 4)
    var count: Int32 = 0
    let n = buffer.withUnsafeMutableBytes { bytes in
      received.withUnsafeMutableBufferPointer { fdBuffer in
        berth_recv_fds(fd, fdBuffer.baseAddress, 4, &count, bytes.baseAddress, bytes.count)
      }
    }
    if n < 0 {
      if errno == ECONNRESET { return nil }
      throw BerthError.system("read from the container's init")
    }
    if n == 0 { return nil }
    guard let tag = Tag(rawValue: buffer[0]) else {
      throw BerthError(.internalError, "unexpected message \(buffer[0]) from the container's init")
    }
    return (tag, Array(buffer[1..<n]), Array(received[0..<Int(count)]))
  }

  /// Waits for `expected`; an error message from the peer is thrown as that error, and end of
  /// file as `eofError`.
  func expect(_ expected: Tag, eofError: @autoclosure () -> BerthError) throws -> (payload: [UInt8], fds: [Int32]) {
    guard let message = try receive() else { throw eofError() }
    if message.tag == .error {
      for fd in message.fds { _ = Glibc.close(fd) }
      throw BerthError(.commandFailed, String(decoding: message.payload, as: UTF8.self))
    }
    guard message.tag == expected else {
      for fd in message.fds { _ = Glibc.close(fd) }
      throw BerthError(.internalError, "expected message \(expected) from the container's init, got \(message.tag)")
    }
    return (message.payload, message.fds)
  }

  func close() { _ = Glibc.close(fd) }
}

/// What the runtime tells the init with `go`: its pid on the host, and where the container's
/// cgroup directories are (for `cgroup` mounts), as "pid\n" then "name\tpath\n" lines.
struct GoMessage {
  var hostPID: Int
  /// By mount directory name under /sys/fs/cgroup ("memory", "cpu,cpuacct", "unified"; ""
  /// for a pure cgroup v2 host).
  var cgroupMounts: [(name: String, hostPath: String)]

  var encoded: [UInt8] {
    var text = "\(hostPID)\n"
    for mount in cgroupMounts { text += "\(mount.name)\t\(mount.hostPath)\n" }
    return Array(text.utf8)
  }

  init(hostPID: Int, cgroupMounts: [(name: String, hostPath: String)]) {
    self.hostPID = hostPID
    self.cgroupMounts = cgroupMounts
  }

  init(decoding bytes: [UInt8]) throws {
    let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    guard let first = lines.first, let pid = Int(String(decoding: first, as: UTF8.self)) else {
      throw BerthError(.internalError, "malformed go message from the runtime")
    }
    hostPID = pid
    cgroupMounts = lines.dropFirst().compactMap { line in
      guard let tab = line.firstIndex(of: UInt8(ascii: "\t")) else { return nil }
      return (String(decoding: line[..<tab], as: UTF8.self), String(decoding: line[(tab + 1)...], as: UTF8.self))
    }
  }
}
