#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import CLinux

/// Opens and creates paths inside the container's root file system so that no symlink, "..",
/// or magic link in the image can lead outside it: every lookup goes through openat2(2) with
/// RESOLVE_IN_ROOT, which treats the root directory as "/" for absolute symlinks and "..".
///
/// Mounts then target "/proc/self/fd/N" of the opened descriptor, so the path is never
/// resolved a second time (the time-of-check/time-of-use race runc's CVE-2021-30465 used).
struct InRootPath {
  /// O_PATH descriptor of the root file system.
  let rootFD: Int32
  let rootPath: String

  static let resolve = UInt64(BERTH_RESOLVE_IN_ROOT | BERTH_RESOLVE_NO_MAGICLINKS)

  /// Opens an existing path.
  func open(_ path: String, flags: Int32 = BERTH_O_PATH) throws -> OwnedFD {
    let fd = try openIfPresent(path, flags: flags)
    guard fd >= 0 else { throw BerthError(.notFound, "\(path) does not exist in the container's root file system") }
    return OwnedFD(fd)
  }

  /// The raw descriptor of an existing path, or -1 when it does not exist.
  private func openIfPresent(_ path: String, flags: Int32) throws -> Int32 {
    let fd = retryOnInterrupt {
      berth_openat2(rootFD, relative(path), UInt64(flags | O_CLOEXEC), 0, InRootPath.resolve)
    }
    if fd >= 0 || errno == ENOENT { return fd }
    throw BerthError.system("open \(path) in the container's root file system")
  }

  /// Opens a path, creating it (and its missing parents as directories) when absent.
  /// - Parameter directory: create a directory, or else an empty regular file.
  func openOrCreate(_ path: String, directory: Bool, mode: mode_t = 0o755) throws -> OwnedFD {
    try openOrCreate(path, directory: directory, mode: mode, linksFollowed: 0)
  }

  private func openOrCreate(_ path: String, directory: Bool, mode: mode_t, linksFollowed: Int) throws -> OwnedFD {
    let existing = try openIfPresent(path, flags: BERTH_O_PATH)
    if existing >= 0 { return OwnedFD(existing) }
    let parentFD = try parent(of: path)
    let name = Path.basename(path)
    if directory {
      if mkdirat(parentFD.raw, name, mode) != 0 && errno != EEXIST {
        throw BerthError.system("create directory \(path) in the container")
      }
    } else {
      // O_PATH descriptors cannot create files: open the parent for real first.
      let dirFD = retryOnInterrupt { openat(parentFD.raw, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
      if dirFD < 0 { throw BerthError.system("open the parent of \(path) in the container") }
      let file = retryOnInterrupt { openat(dirFD, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode_t(0o644)) }
      let savedErrno = errno
      close(dirFD)
      if file >= 0 {
        close(file)
      } else if savedErrno != EEXIST {
        throw BerthError.system("create file \(path) in the container", errno: savedErrno)
      }
    }
    let created = try openIfPresent(path, flags: BERTH_O_PATH)
    if created >= 0 { return OwnedFD(created) }
    // Still missing: the name is a dangling symlink. Create what it points to, as the kernel
    // would resolve it with this root as "/" (an absolute target stays inside the rootfs).
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlinkat(parentFD.raw, name, &buffer, buffer.count - 1)
    guard length > 0 else { throw BerthError.system("open \(path) in the container's root file system", errno: ENOENT) }
    guard linksFollowed < 40 else {
      throw BerthError.system("resolve \(path) in the container's root file system", errno: ELOOP)
    }
    let target = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let resolved = Path.clean(target.hasPrefix("/") ? target : Path.join(Path.dirname(path), target))
    return try openOrCreate(resolved, directory: directory, mode: mode, linksFollowed: linksFollowed + 1)
  }

  /// The O_PATH descriptor of a path's parent directory, created when missing.
  func parent(of path: String) throws -> OwnedFD {
    let parentPath = Path.dirname(path)
    if parentPath == "/" || parentPath == path { return OwnedFD(dup(rootFD)) }
    return try openOrCreate(parentPath, directory: true)
  }

  /// "a/b" for "/a/b": openat2 with RESOLVE_IN_ROOT takes paths relative to the root fd.
  private func relative(_ path: String) -> String {
    let trimmed = path.drop { $0 == "/" }
    return trimmed.isEmpty ? "." : String(trimmed)
  }
}

/// "/proc/self/fd/N": names an open descriptor's file for calls that take paths (mount(2)).
func fdPath(_ fd: Int32) -> String { "/proc/self/fd/\(fd)" }
