#if canImport(Glibc)
import Glibc
#endif
import BerthOS

/// An flock(2) on a file: serializes parallel `berth` processes that change network state.
/// Blocking (the network API is synchronous); released by `withLock` or at process exit.
struct NetworkLock {
  /// Runs `body` holding an exclusive lock on `path` (created with its directory).
  static func withLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
    try FS.makeDirectories(Path.dirname(path), mode: 0o700)
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    if fd < 0 { throw BerthError.system("open the lock \(path)") }
    defer { close(fd) }
    try check("lock \(path)") { flock(fd, LOCK_EX) }
    defer { flock(fd, LOCK_UN) }
    return try body()
  }
}
