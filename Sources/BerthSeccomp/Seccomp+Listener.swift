#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import CLinux

extension Seccomp {
  /// Sends a seccomp user-notification listener to the agent at `linux.seccomp.listenerPath`.
  ///
  /// Connects a unix stream socket to `path` and sends `payload` (the JSON of the spec's
  /// container process state: `ContainerProcessState`, whose `fds` is `["seccompFd"]`) with
  /// `fd` attached as SCM_RIGHTS in the same message, then closes the connection. The caller
  /// keeps `fd` and closes it afterwards.
  public static func sendListener(fd: Int32, to path: String, payload: [UInt8]) throws {
    let field = "linux.seccomp.listenerPath \(quoted(path))"
    let socketFD = try UnixSocket.connect(path, what: field)
    var fds = [fd]
    let sent = payload.withUnsafeBytes { raw in
      berth_send_fds(socketFD.raw, &fds, 1, raw.baseAddress, raw.count)
    }
    if sent < 0 { throw BerthError.system("\(field): send the seccomp listener") }
    // A stream socket may take a large state in more than one send; the fd went with the first.
    var offset = sent
    while offset < payload.count {
      let n = payload.withUnsafeBytes { raw -> Int in
        guard let base = raw.baseAddress else { return 0 }
        return send(socketFD.raw, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
      }
      if n < 0 {
        if errno == EINTR { continue }
        throw BerthError.system("\(field): send the container state")
      }
      offset += n
    }
  }
}
