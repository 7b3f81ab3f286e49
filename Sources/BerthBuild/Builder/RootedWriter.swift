import BerthOS
import CLinux
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writes files into an image's root filesystem (a mounted step) as COPY and ADD do. Every
/// path is resolved with openat2(RESOLVE_IN_ROOT): a symlink in the image (`/app -> /srv`,
/// `x -> ../../..`) resolves inside the image, never to the host's files.
final class RootedWriter {
  private let root: Int32
  let rootPath: String

  init(root: String) throws {
    rootPath = root
    self.root = try check("open \(root)") { open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
  }

  deinit { close(root) }

  /// Opens a directory of the image (resolved inside it).
  func openDirectory(_ path: String) throws -> OwnedFD {
    let relative = Self.relative(path)
    return OwnedFD(try check("open \(path) in the image") {
      berth_openat2(root, relative, UInt64(O_RDONLY | O_DIRECTORY | O_CLOEXEC), 0, UInt64(BERTH_RESOLVE_IN_ROOT))
    })
  }

  /// What is at `path` in the image (symlinks in its parents followed inside the image, the
  /// last component not followed); nil when nothing is.
  func lstat(_ path: String) -> stat? {
    let clean = Path.clean("/" + path)
    if clean == "/" {
      var info = stat()
      return fstat(root, &info) == 0 ? info : nil
    }
    guard let parent = try? openDirectory(Path.dirname(clean)) else { return nil }
    var info = stat()
    return fstatat(parent.raw, Path.basename(clean), &info, AT_SYMLINK_NOFOLLOW) == 0 ? info : nil
  }

  /// Whether `path` is a directory in the image (symlinks followed inside the image).
  func isDirectory(_ path: String) -> Bool {
    (try? openDirectory(path)) != nil
  }

  /// mkdir -p inside the image: missing directories are made with `mode` and `owner`.
  @discardableResult
  func makeDirectories(_ path: String, mode: mode_t = 0o755, owner: (uid: UInt32, gid: UInt32)? = nil) throws -> OwnedFD {
    let clean = Path.clean("/" + path)
    if let fd = try? openDirectory(clean) { return fd }
    let parent = try makeDirectories(Path.dirname(clean), mode: mode, owner: owner)
    let name = Path.basename(clean)
    if mkdirat(parent.raw, name, mode) != 0 && errno != EEXIST {
      throw BerthError.system("make directory \(clean) in the image")
    }
    let made = try openDirectory(clean)
    try check("chmod \(clean)") { fchmod(made.raw, mode) }
    if let owner { try check("chown \(clean)") { fchown(made.raw, owner.uid, owner.gid) } }
    return made
  }

  /// Copies one entry of the host (not followed if a symlink) to `destination` in the image.
  /// Directories are made (or kept when they exist) with the source's mode; regular files and
  /// symlinks replace what is there. Owner: `owner`, else root. Times: the source's.
  func copy(
    source: String, to destination: String, owner: (uid: UInt32, gid: UInt32)?, mode: mode_t?
  ) throws {
    var info = stat()
    try check("stat \(source)") { Glibc.lstat(source, &info) }
    let clean = Path.clean("/" + destination)
    let uid = owner?.uid ?? 0, gid = owner?.gid ?? 0
    let type = info.st_mode & S_IFMT
    let permissions = mode ?? (info.st_mode & 0o7777)
    if clean == "/" {
      guard type == S_IFDIR else { throw BerthError(.invalidArgument, "cannot copy the file \(source) to / of the image") }
      return
    }
    let parent = try makeDirectories(Path.dirname(clean))
    let name = Path.basename(clean)
    var times = [info.st_atim, info.st_mtim]
    var existing = stat()
    let exists = fstatat(parent.raw, name, &existing, AT_SYMLINK_NOFOLLOW) == 0
    switch type {
    case S_IFDIR:
      if exists && (existing.st_mode & S_IFMT) == S_IFDIR { return }
      if exists { try check("replace \(clean)") { unlinkat(parent.raw, name, 0) } }
      try check("make directory \(clean)") { mkdirat(parent.raw, name, 0o700) }
      let made = try OwnedFD(check("open \(clean)") { openat(parent.raw, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) })
      try check("chown \(clean)") { fchown(made.raw, uid, gid) }
      try check("chmod \(clean)") { fchmod(made.raw, permissions) }
      let from = try OwnedFD.open(source, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
      try Self.copyExtendedAttributes(from: from.raw, to: made.raw, what: clean)
      try check("set the times of \(clean)") { futimens(made.raw, &times) }
    case S_IFREG:
      if exists {
        if (existing.st_mode & S_IFMT) == S_IFDIR {
          throw BerthError(.invalidArgument, "cannot copy the file \(source) over the directory \(clean) in the image")
        }
        try check("replace \(clean)") { unlinkat(parent.raw, name, 0) }
      }
      let from = try OwnedFD.open(source, O_RDONLY | O_NOFOLLOW)
      let to = try OwnedFD(check("create \(clean)") {
        openat(parent.raw, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
      })
      try Self.copyData(from: from.raw, to: to.raw, what: clean)
      try check("chown \(clean)") { fchown(to.raw, uid, gid) }
      try check("chmod \(clean)") { fchmod(to.raw, permissions) }
      // After chown, which clears file capabilities.
      try Self.copyExtendedAttributes(from: from.raw, to: to.raw, what: clean)
      try check("set the times of \(clean)") { futimens(to.raw, &times) }
    case S_IFLNK:
      let target = try FS.readLink(source)
      if exists {
        if (existing.st_mode & S_IFMT) == S_IFDIR {
          throw BerthError(.invalidArgument, "cannot copy the symlink \(source) over the directory \(clean) in the image")
        }
        try check("replace \(clean)") { unlinkat(parent.raw, name, 0) }
      }
      try check("make symlink \(clean)") { symlinkat(target, parent.raw, name) }
      try check("chown \(clean)") { fchownat(parent.raw, name, uid, gid, AT_SYMLINK_NOFOLLOW) }
      try check("set the times of \(clean)") { utimensat(parent.raw, name, &times, AT_SYMLINK_NOFOLLOW) }
    default:
      throw BerthError(.unsupported, "cannot copy \(source): COPY copies directories, regular files and symlinks only")
    }
  }

  /// Copies extended attributes (file capabilities, ACLs, user.*), not those that describe
  /// an overlay's internals or the host's SELinux labels.
  static func copyExtendedAttributes(from source: Int32, to target: Int32, what: String) throws {
    for name in try ExtendedAttributes.names(.fd(source), of: what) {
      if name.starts(with: Array("trusted.overlay.".utf8)) || name.starts(with: Array("user.overlay.".utf8))
        || name == Array("security.selinux".utf8)
      {
        continue
      }
      guard let value = try ExtendedAttributes.value(.fd(source), name: name, of: what) else { continue }
      if ExtendedAttributes.set(.fd(target), name: name, value: value) != 0 {
        throw BerthError.system("set extended attribute \(String(decoding: name, as: UTF8.self)) on \(what)")
      }
    }
  }

  /// Makes `destination` a hard link to `existing` (both in the image), replacing a file there.
  func link(_ existing: String, as destination: String) throws {
    let from = Path.clean("/" + existing), to = Path.clean("/" + destination)
    let fromParent = try openDirectory(Path.dirname(from))
    let toParent = try makeDirectories(Path.dirname(to))
    var info = stat()
    if fstatat(toParent.raw, Path.basename(to), &info, AT_SYMLINK_NOFOLLOW) == 0 {
      guard (info.st_mode & S_IFMT) != S_IFDIR else {
        throw BerthError(.invalidArgument, "cannot link \(to) over a directory in the image")
      }
      try check("replace \(to)") { unlinkat(toParent.raw, Path.basename(to), 0) }
    }
    try check("link \(to) to \(from)") { linkat(fromParent.raw, Path.basename(from), toParent.raw, Path.basename(to), 0) }
  }

  static func relative(_ path: String) -> String {
    let clean = Path.clean("/" + path)
    return clean == "/" ? "." : String(clean.dropFirst())
  }

  /// copy_file_range, else read and write.
  static func copyData(from source: Int32, to target: Int32, what: String) throws {
    while true {
      let n = berth_copy_file_range(source, target, 1 << 30)
      if n == 0 { return }
      if n > 0 { continue }
      if errno == EINTR { continue }
      guard [EXDEV, EINVAL, ENOSYS, EOPNOTSUPP, EBADF, EPERM].contains(errno) else { throw BerthError.system("copy \(what)") }
      break
    }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let n = buffer.withUnsafeMutableBytes { raw in retryOnInterrupt { read(source, raw.baseAddress, raw.count) } }
      if n < 0 { throw BerthError.system("read for \(what)") }
      if n == 0 { return }
      try writeAllBytes(target, buffer[0..<n])
    }
  }
}
