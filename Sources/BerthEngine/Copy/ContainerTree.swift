import BerthOS
import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// An open file descriptor shared by reference: closed when the last holder lets go. Copies
/// keep many directories open at once (the path walked so far), which `OwnedFD` cannot sit in.
final class Descriptor {
  let raw: Int32

  init(_ raw: Int32) { self.raw = raw }

  /// `openat(directory, name, flags | O_CLOEXEC)`, or the errno.
  static func open(_ name: [UInt8], in directory: Int32, _ flags: Int32) -> Result<Descriptor, OpenFailure> {
    let fd = withCName(name) { openat(directory, $0, flags | O_CLOEXEC) }
    return fd >= 0 ? .success(Descriptor(fd)) : .failure(OpenFailure(errno: errno))
  }

  deinit { close(raw) }

  func stat() throws -> stat {
    var info = Glibc.stat()
    try check("stat") { fstat(raw, &info) }
    return info
  }
}

/// An open that failed, with its errno (for callers that choose their own message).
struct OpenFailure: Error, Equatable {
  var errno: Int32
}

/// Calls `body` with `name` as a NUL-terminated C string (names are bytes: they need not be
/// UTF-8).
func withCName<R>(_ name: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
  (name.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// A directory tree as a container sees it: a root, and the mounts a stopped container would
/// have (its volumes and binds), found by walking paths one component at a time.
///
/// Every path is resolved inside the root, as the kernel's openat2(RESOLVE_IN_ROOT) would:
/// an absolute symlink restarts at the tree's root, ".." stops there, and each component is
/// opened relative to its parent's descriptor without following it, so a symlink the
/// container made (`/x -> /`, `/y -> ../../..`) never leads to the host's files, even if the
/// container swaps a directory for a symlink while a copy runs. The walk is done here rather
/// than by one openat2 call because a stopped container has no mount namespace: when the path
/// walked so far is a mount's destination, the walk continues in the mount's host directory.
///
/// For a running container the root is `/proc/PID/root` and `mounts` is empty: the walk then
/// crosses the container's own mounts (volumes, tmpfs) as the kernel finds them.
final class ContainerTree {
  /// A volume or bind mount: where it is in the container, and what it shows.
  struct MountPoint {
    var destination: [[UInt8]]
    var hostPath: String
  }

  /// A resolved path: the entry (when it exists) and the directory it is (or would be) in.
  final class Location {
    /// The directory holding the entry, O_PATH.
    let parent: Descriptor
    /// The entry's name in `parent` (the host name when the entry is a mount point).
    let name: [UInt8]
    /// The entry, O_PATH and not followed; nil when nothing has that name.
    let entry: Descriptor?
    /// The path in the container, clean, with symlinks resolved.
    let components: [[UInt8]]

    init(parent: Descriptor, name: [UInt8], entry: Descriptor?, components: [[UInt8]]) {
      self.parent = parent
      self.name = name
      self.entry = entry
      self.components = components
    }

    var exists: Bool { entry != nil }
    func stat() throws -> stat? { try entry?.stat() }
  }

  let root: Descriptor
  let mounts: [[[UInt8]]: MountPoint]

  /// At most this many symlinks in one walk, as Linux's ELOOP limit.
  static let maximumLinks = 40

  init(root path: String, mounts: [MountPoint] = []) throws {
    let fd = open(path, BERTH_O_PATH | O_DIRECTORY | O_CLOEXEC)
    if fd < 0 { throw BerthError.system("open \(path)") }
    root = Descriptor(fd)
    self.mounts = Dictionary(mounts.map { ($0.destination, $0) }, uniquingKeysWith: { _, last in last })
  }

  /// Resolves `path` (absolute in the container; a relative one is taken from the root).
  /// A final symlink is followed only when `followFinal`. A missing final component gives a
  /// location without an entry; a missing directory on the way is an error (ENOENT), as is a
  /// non-directory on the way (ENOTDIR).
  func resolve(_ path: String, followFinal: Bool) throws -> Location {
    try resolve(Self.components(path), followFinal: followFinal, what: path)
  }

  func resolve(_ start: [[UInt8]], followFinal: Bool, what: String) throws -> Location {
    var pending = Array(start.reversed())
    var directories: [Descriptor] = [root]
    var walked: [[UInt8]] = []
    var links = 0
    func fail(_ code: Int32) -> BerthError {
      BerthError(code == ENOENT ? .notFound : .invalidArgument, "\(what): \(errnoDescription(code))", errno: code)
    }
    while let name = pending.popLast() {
      if name.isEmpty || name == [UInt8(ascii: ".")] { continue }
      if name == [UInt8(ascii: "."), UInt8(ascii: ".")] {
        if directories.count > 1 {
          directories.removeLast()
          walked.removeLast()
        }
        continue
      }
      let isLast = !pending.contains { !$0.isEmpty && $0 != [UInt8(ascii: ".")] }
      let parent = directories[directories.count - 1]
      let path = walked + [name]
      if let mount = mounts[path] {
        // The mount shows its host directory (or file) here.
        let fd = open(mount.hostPath, BERTH_O_PATH | O_CLOEXEC)
        if fd < 0 { throw BerthError.system("open \(mount.hostPath), mounted at \(Self.display(path))") }
        let entry = Descriptor(fd)
        if isLast {
          let hostParent = open(Path.dirname(mount.hostPath), BERTH_O_PATH | O_DIRECTORY | O_CLOEXEC)
          if hostParent < 0 { throw BerthError.system("open the directory of \(mount.hostPath)") }
          return Location(
            parent: Descriptor(hostParent), name: Array(Path.basename(mount.hostPath).utf8), entry: entry, components: path)
        }
        guard try entry.stat().st_mode & S_IFMT == S_IFDIR else { throw fail(ENOTDIR) }
        directories.append(entry)
        walked = path
        continue
      }
      var info = stat()
      if withCName(name, { fstatat(parent.raw, $0, &info, AT_SYMLINK_NOFOLLOW) }) != 0 {
        let code = errno
        if code == ENOENT && isLast { return Location(parent: parent, name: name, entry: nil, components: path) }
        throw fail(code)
      }
      let type = info.st_mode & S_IFMT
      if type == S_IFLNK && (!isLast || followFinal) {
        links += 1
        if links > Self.maximumLinks { throw fail(ELOOP) }
        let target = try Self.readLink(name, in: parent.raw, what: Self.display(path))
        if target.first == UInt8(ascii: "/") {
          directories = [root]
          walked = []
        }
        pending.append(contentsOf: target.split(separator: UInt8(ascii: "/")).map(Array.init).reversed())
        continue
      }
      if isLast && type != S_IFDIR {
        switch Descriptor.open(name, in: parent.raw, BERTH_O_PATH | O_NOFOLLOW) {
        case .success(let entry): return Location(parent: parent, name: name, entry: entry, components: path)
        case .failure(let error): throw fail(error.errno)
        }
      }
      guard type == S_IFDIR else { throw fail(ENOTDIR) }
      // O_NOFOLLOW and O_DIRECTORY: a directory swapped for a symlink since the fstatat fails.
      switch Descriptor.open(name, in: parent.raw, BERTH_O_PATH | O_DIRECTORY | O_NOFOLLOW) {
      case .success(let directory):
        directories.append(directory)
        walked = path
      case .failure(let error):
        throw fail(error.errno == ELOOP ? ENOTDIR : error.errno)
      }
    }
    // The path ends at a directory ("/", "/a/..", "/a/b"): the last one walked.
    let entry = directories[directories.count - 1]
    let parent = directories.count > 1 ? directories[directories.count - 2] : root
    return Location(parent: parent, name: walked.last ?? [], entry: entry, components: walked)
  }

  // MARK: helpers

  /// The components of a path as bytes ("/a//b/" → ["a", "b"]).
  static func components(_ path: String) -> [[UInt8]] {
    Array(path.utf8).split(separator: UInt8(ascii: "/")).map(Array.init)
  }

  static func display(_ components: [[UInt8]]) -> String {
    "/" + components.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
  }

  /// The target of the symlink `name` in `directory`.
  static func readLink(_ name: [UInt8], in directory: Int32, what: String) throws -> [UInt8] {
    var capacity = 256
    while true {
      var buffer = [UInt8](repeating: 0, count: capacity)
      let n = withCName(name) { cName in
        buffer.withUnsafeMutableBytes { readlinkat(directory, cName, $0.baseAddress!.assumingMemoryBound(to: CChar.self), capacity) }
      }
      if n < 0 { throw BerthError.system("readlink \(what)") }
      if n < capacity { return Array(buffer[0..<n]) }
      capacity *= 4
    }
  }
}
