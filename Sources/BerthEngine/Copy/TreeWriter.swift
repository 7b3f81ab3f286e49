import BerthArchive
import BerthOS
import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// Writes copy entries into a ``ContainerTree``, as tar extraction does: directories merge
/// with existing ones, other files replace what has their name, and missing parents are made
/// (0755, as Docker makes them). A directory is never replaced by a file or the reverse.
///
/// Each entry's directory is resolved inside the tree (symlinks followed, but only within
/// it); the entry itself is made with O_EXCL/O_NOFOLLOW relative to that directory, and its
/// owner, mode and times are set through its own descriptor or without following it. So
/// neither a hostile tar stream nor a container changing its files meanwhile can make the
/// copy touch anything outside the tree.
final class TreeWriter: CopySink {
  private let tree: ContainerTree
  /// The container path of the directory that receives the top entry.
  private let base: [[UInt8]]
  /// The top entry's name in `base`; nil when the top entry is `base` itself (a directory's
  /// contents copied into it, or a tar stream extracted into it).
  private let topName: [UInt8]?
  /// Owner for everything written; nil keeps the entries' own (`cp -a`).
  private let owner: (uid: uid_t, gid: gid_t)?
  /// Directories by their path in the tree (before symlinks), open O_PATH.
  private var directories: [[[UInt8]]: Descriptor] = [:]
  /// Directory times are set last: writing their children changes them.
  private var directoryTimes: [(parent: Descriptor, name: [UInt8], mtime: timespec)] = []
  private(set) var bytes: Int64 = 0

  init(tree: ContainerTree, base: [[UInt8]], topName: [UInt8]?, owner: (uid: uid_t, gid: gid_t)?) {
    self.tree = tree
    self.base = base
    self.topName = topName
    self.owner = owner
  }

  /// Where an entry goes: its path in the tree.
  private func target(_ path: [[UInt8]]) -> [[UInt8]] {
    base + (topName.map { [$0] } ?? []) + path
  }

  func add(_ entry: CopyEntry, content: CopyContent?) throws {
    let path = target(entry.path)
    let what = ContainerTree.display(path)
    guard !path.isEmpty else {
      // The tree's root ("/"): it is there already; nothing replaces it.
      return
    }
    let (parent, name) = try place(path)
    var existing = stat()
    let exists = withCName(name, { fstatat(parent.raw, $0, &existing, AT_SYMLINK_NOFOLLOW) }) == 0
    let existingIsDirectory = exists && existing.st_mode & S_IFMT == S_IFDIR
    let uid = owner?.uid ?? entry.uid
    let gid = owner?.gid ?? entry.gid
    let mtime = timespec(tv_sec: Int(entry.mtime), tv_nsec: Int(entry.mtimeNanoseconds))

    if entry.kind == .directory {
      if exists && !existingIsDirectory {
        throw BerthError(.invalidArgument, "cannot overwrite non-directory \(quoted(what)) with directory \(quoted(what))")
      }
      if !exists { try check("mkdir \(what)") { withCName(name) { mkdirat(parent.raw, $0, 0o700) } } }
      let directory = try open(name, in: parent, O_RDONLY | O_DIRECTORY, what: what)
      try apply(fd: directory.raw, uid: uid, gid: gid, mode: entry.mode, xattrs: entry.xattrs, what: what)
      directories[path] = try open(name, in: parent, BERTH_O_PATH | O_DIRECTORY, what: what)
      directoryTimes.append((parent, name, mtime))
      return
    }
    if existingIsDirectory {
      throw BerthError(.invalidArgument, "cannot overwrite directory \(quoted(what)) with non-directory \(quoted(what))")
    }
    if exists { try check("remove \(what)") { withCName(name) { unlinkat(parent.raw, $0, 0) } } }

    switch entry.kind {
    case .regular:
      let file = try open(name, in: parent, O_WRONLY | O_CREAT | O_EXCL, what: what)
      switch content {
      case .file(let source)?: try TreeCopy.copyData(from: source, to: file.raw, what: what)
      case .tar(let reader)?: try reader.readContents { try writeAllBytes(file.raw, $0) }
      case nil: break
      }
      bytes += entry.size
      try apply(fd: file.raw, uid: uid, gid: gid, mode: entry.mode, xattrs: entry.xattrs, what: what)
      var times = [mtime, mtime]
      try check("set the times of \(what)") { futimens(file.raw, &times) }
    case .hardlink:
      let linked = target((entry.linkTarget ?? []).split(separator: UInt8(ascii: "/")).map(Array.init))
      let (linkedParent, linkedName) = try place(linked)
      let status = withCName(linkedName) { from in withCName(name) { to in linkat(linkedParent.raw, from, parent.raw, to, 0) } }
      if status != 0 { throw BerthError.system("link \(what) to \(ContainerTree.display(linked))") }
    case .symlink:
      let status = withCName(entry.linkTarget ?? []) { target in withCName(name) { symlinkat(target, parent.raw, $0) } }
      if status != 0 { throw BerthError.system("symlink \(what)") }
      try check("chown \(what)") { withCName(name) { fchownat(parent.raw, $0, uid, gid, AT_SYMLINK_NOFOLLOW) } }
      try setTimes(parent: parent, name: name, mtime)
    case .characterDevice, .blockDevice, .fifo:
      let type: mode_t = entry.kind == .fifo ? S_IFIFO : entry.kind == .characterDevice ? S_IFCHR : S_IFBLK
      let device = berth_makedev(UInt(entry.deviceMajor), UInt(entry.deviceMinor))
      try check("mknod \(what)") { withCName(name) { mknodat(parent.raw, $0, type | 0o600, device) } }
      try check("chown \(what)") { withCName(name) { fchownat(parent.raw, $0, uid, gid, AT_SYMLINK_NOFOLLOW) } }
      // No descriptor for a device or a FIFO (opening either has effects): chmod through an
      // O_PATH descriptor of the node itself, as glibc's lchmod does.
      let node = try open(name, in: parent, BERTH_O_PATH, what: what)
      guard try node.stat().st_mode & S_IFMT == type else { throw BerthError(.invalidState, "\(what) changed while it was copied") }
      try check("chmod \(what)") { chmod("/proc/self/fd/\(node.raw)", mode_t(entry.mode & 0o7777)) }
      try setTimes(parent: parent, name: name, mtime)
    case .directory:
      break
    }
  }

  func finish() throws {
    for (parent, name, mtime) in directoryTimes.reversed() {
      try setTimes(parent: parent, name: name, mtime)
    }
  }

  // MARK: places in the tree

  /// The directory an entry goes in, and its name there. A mount's destination (in a stopped
  /// container) is the mount's host side.
  private func place(_ path: [[UInt8]]) throws -> (Descriptor, [UInt8]) {
    if tree.mounts[path] != nil {
      let location = try tree.resolve(path, followFinal: false, what: ContainerTree.display(path))
      return (location.parent, location.name)
    }
    return (try directory(Array(path.dropLast())), path[path.count - 1])
  }

  /// The directory at `path`, made (with its missing parents) when it does not exist.
  private func directory(_ path: [[UInt8]]) throws -> Descriptor {
    if let cached = directories[path] { return cached }
    let what = ContainerTree.display(path)
    let location: ContainerTree.Location
    do {
      location = try tree.resolve(path, followFinal: true, what: what)
    } catch let error as BerthError where error.errno == ENOENT && !path.isEmpty {
      _ = try directory(Array(path.dropLast()))
      location = try tree.resolve(path, followFinal: true, what: what)
    }
    let result: Descriptor
    if let entry = location.entry {
      guard try entry.stat().st_mode & S_IFMT == S_IFDIR else {
        throw BerthError(.invalidArgument, "\(what) is not a directory", errno: ENOTDIR)
      }
      result = entry
    } else {
      try check("mkdir \(what)") { withCName(location.name) { mkdirat(location.parent.raw, $0, 0o755) } }
      let made = try open(location.name, in: location.parent, O_RDONLY | O_DIRECTORY, what: what)
      try check("chown \(what)") { fchown(made.raw, owner?.uid ?? 0, owner?.gid ?? 0) }
      result = try open(location.name, in: location.parent, BERTH_O_PATH | O_DIRECTORY, what: what)
    }
    directories[path] = result
    return result
  }

  // MARK: attributes

  private func open(_ name: [UInt8], in directory: Descriptor, _ flags: Int32, what: String) throws -> Descriptor {
    switch Descriptor.open(name, in: directory.raw, flags | O_NOFOLLOW) {
    case .success(let descriptor): return descriptor
    case .failure(let error): throw BerthError.system("open \(what)", errno: error.errno)
    }
  }

  /// Owner first: chown clears the setuid and setgid bits that chmod then sets.
  private func apply(fd: Int32, uid: uid_t, gid: gid_t, mode: UInt32, xattrs: [String: [UInt8]], what: String) throws {
    try check("chown \(what)") { fchown(fd, uid, gid) }
    try check("chmod \(what)") { fchmod(fd, mode_t(mode & 0o7777)) }
    for (name, value) in xattrs.sorted(by: { $0.key < $1.key }) {
      if ExtendedAttributes.set(.fd(fd), name: Array(name.utf8), value: value) != 0 {
        // The target keeps no attributes of this kind: the content is what matters.
        if errno == EOPNOTSUPP || errno == EPERM { continue }
        throw BerthError.system("set extended attribute \(name) on \(what)")
      }
    }
  }

  private func setTimes(parent: Descriptor, name: [UInt8], _ mtime: timespec) throws {
    var times = [mtime, mtime]
    let status = withCName(name) { utimensat(parent.raw, $0, &times, AT_SYMLINK_NOFOLLOW) }
    if status != 0 { throw BerthError.system("set the times of \(String(decoding: name, as: UTF8.self))") }
  }
}
