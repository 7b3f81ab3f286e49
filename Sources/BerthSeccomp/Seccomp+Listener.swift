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
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let pathBytes = Array(path.utf8)
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard !pathBytes.isEmpty, pathBytes.count < capacity, !pathBytes.contains(0) else {
      throw BerthError(.invalidArgument, "\(field): a unix socket path has 1 to \(capacity - 1) bytes and no NUL")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: pathBytes)
    }

    let socketFD = OwnedFD(try check("\(field): create a unix socket") {
      socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    })
    let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + 1)
    try check("\(field): connect") {
      withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socketFD.raw, $0, length) }
      }
    }

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
