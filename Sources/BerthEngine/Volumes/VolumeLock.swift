import BerthOS

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive flock on one volume's lock file (`<root>/volumes/.locks/<name>`), held by any
/// process that creates, removes, mounts, unmounts or fills the volume. Volume names cannot
/// start with ".", so the lock directory never collides with a volume.
///
/// Removal deletes the lock file while holding it (anonymous volumes have random names: their
/// lock files would pile up). A process that was waiting on the deleted file then holds a lock
/// nobody else can see, so acquire checks that the path still names the file it locked, and
/// starts again if not.
final class VolumeLock: @unchecked Sendable {
  private let fd: Int32
  let path: String

  private init(fd: Int32, path: String) {
    self.fd = fd
    self.path = path
  }

  /// Waits (without blocking a thread) until the lock is free.
  static func acquire(_ path: String) async throws -> VolumeLock {
    var delay: UInt64 = 2_000_000
    while true {
      if let lock = try attempt(path) { return lock }
      try await Task.sleep(nanoseconds: delay)
      delay = min(delay * 2, 100_000_000)
    }
  }

  /// One try: the lock, or nil when another process holds it (or it was deleted under us).
  private static func attempt(_ path: String) throws -> VolumeLock? {
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
    if fd < 0 {
      if errno == ENOENT {
        try FS.makeDirectories(Path.dirname(path), mode: 0o700)
        return nil
      }
      throw BerthError.system("open the lock \(path)")
    }
    if flock(fd, LOCK_EX | LOCK_NB) != 0 {
      let error = errno
      close(fd)
      if error == EWOULDBLOCK || error == EINTR { return nil }
      throw BerthError.system("lock \(path)", errno: error)
    }
    var held = stat(), current = stat()
    if fstat(fd, &held) != 0 || stat(path, &current) != 0 || held.st_ino != current.st_ino || held.st_dev != current.st_dev {
      close(fd)
      return nil
    }
    return VolumeLock(fd: fd, path: path)
  }

  /// Set when the volume is gone: the lock file is deleted (while still held) on release.
  var deleteOnRelease = false

  private func release() {
    if deleteOnRelease { unlink(path) }
    close(fd)
  }

  /// Runs `body` holding the lock at `path`.
  static func with<T>(_ path: String, _ body: (VolumeLock) async throws -> T) async throws -> T {
    let lock = try await acquire(path)
    defer { lock.release() }
    return try await body(lock)
  }
}
