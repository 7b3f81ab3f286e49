#if canImport(Glibc)
import Glibc
#endif

/// Unix stream sockets by path.
public enum UnixSocket {
  /// Connects to the socket at `path`; errors start with `what` (the flag or field that named
  /// the path).
  public static func connect(_ path: String, what: String) throws -> OwnedFD {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard !bytes.isEmpty, bytes.count < capacity, !bytes.contains(0) else {
      throw BerthError(.invalidArgument, "\(what): a unix socket path has 1 to \(capacity - 1) bytes, got \(quoted(path))")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
    let socketFD = OwnedFD(try check("\(what): create a unix socket") {
      socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    })
    let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
    try check("\(what): connect to \(path)") {
      withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socketFD.raw, $0, length) }
      }
    }
    return socketFD
  }
}
