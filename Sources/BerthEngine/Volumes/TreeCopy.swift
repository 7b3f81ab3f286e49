import BerthOS
import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// Copies a directory tree between open directories with descriptor-relative calls only: no
/// path is resolved from the host's root, and no symlink is followed in the source or in the
/// target, so a tree from a container (whose symlinks point wherever its author liked) cannot
/// make the copy read or write host files. Keeps file types (directories, regular files,
/// symlinks, device nodes, FIFOs, sockets), modes with setuid/setgid/sticky bits, owners,
/// extended attributes (file capabilities included), timestamps and hard links within the
/// copied tree.
///
/// Used to fill a new volume from an image (``VolumeStore/populate(_:rootfs:path:)``), and
/// meant for `cp` between containers and the host.
public final class TreeCopy {
  public struct Options: Sendable {
    /// Give copies the source's owner and group. Needs CAP_CHOWN: the default is on for root.
    public var ownership: Bool
    public var extendedAttributes: Bool
    public var timestamps: Bool
    /// Link a copy to the first copy of the same source file instead of copying it again.
    public var hardLinks: Bool

    public init(ownership: Bool = geteuid() == 0, extendedAttributes: Bool = true, timestamps: Bool = true, hardLinks: Bool = true) {
      self.ownership = ownership
      self.extendedAttributes = extendedAttributes
      self.timestamps = timestamps
      self.hardLinks = hardLinks
    }
  }

  /// Attributes that describe another file system's internals, never a file's content.
  static let skippedAttributePrefixes: [[UInt8]] = [Array("trusted.overlay.".utf8), Array("user.overlay.".utf8)]

  private let options: Options
  private let targetRoot: Int32
  /// Copies of source files with more than one link: (device, inode) → where the first went,
  /// relative to `targetRoot`.
  private var linked: [FileID: (parent: [UInt8], name: [CChar])] = [:]

  private struct FileID: Hashable {
    var device: UInt64
    var inode: UInt64
  }

  private init(targetRoot: Int32, options: Options) {
    self.targetRoot = targetRoot
    self.options = options
  }

  /// Copies everything in the directory `source` into the directory `target`. A name that
  /// exists in `target` already is an error (EEXIST).
  public static func copyContents(of source: Int32, into target: Int32, options: Options = Options()) throws {
    try TreeCopy(targetRoot: target, options: options).copyDirectoryContents(source, target, relative: [])
  }

  /// Copies the entry `name` of the directory `sourceDirectory` (a whole tree when it is a
  /// directory) to `newName` in `targetDirectory`.
  public static func copyEntry(
    _ name: String, in sourceDirectory: Int32, to newName: String, in targetDirectory: Int32, options: Options = Options()
  ) throws {
    let copier = TreeCopy(targetRoot: targetDirectory, options: options)
    try copier.copy(Array(name.utf8CString), from: sourceDirectory, as: Array(newName.utf8CString), to: targetDirectory, relative: [])
  }

  /// Gives the open file `target` the owner, mode, extended attributes and times of the open
  /// file `source` (a volume's `_data` takes those of the image directory it is filled from).
  public static func copyAttributes(from source: Int32, to target: Int32, options: Options = Options()) throws {
    var info = stat()
    try check("stat the source") { fstat(source, &info) }
    try TreeCopy(targetRoot: target, options: options).applyAttributes(info, source: .fd(source), target: .fd(target), what: ".")
  }

  // MARK: walking

  private func copyDirectoryContents(_ source: Int32, _ target: Int32, relative: [UInt8]) throws {
    for name in try Self.names(in: source, what: Self.text(relative)) {
      try copy(name, from: source, as: name, to: target, relative: relative)
    }
  }

  /// Copies one entry; `relative` is the target directory's path below `targetRoot`.
  private func copy(_ name: [CChar], from source: Int32, as newName: [CChar], to target: Int32, relative: [UInt8]) throws {
    let path = Self.join(relative, newName)
    let what = Self.text(path)
    var info = stat()
    try check("stat \(what)") { fstatat(source, name, &info, AT_SYMLINK_NOFOLLOW) }
    let type = info.st_mode & S_IFMT
    let id = FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    if type != S_IFDIR, options.hardLinks, info.st_nlink > 1, let first = linked[id], try link(first, as: newName, in: target, what: what) {
      return
    }
    switch type {
    case S_IFDIR:
      try check("mkdir \(what)") { mkdirat(target, newName, 0o700) }
      let from = try Self.open(name, in: source, O_RDONLY | O_DIRECTORY, what: what)
      let to = try Self.open(newName, in: target, O_RDONLY | O_DIRECTORY, what: what)
      try copyDirectoryContents(from.raw, to.raw, relative: path)
      try applyAttributes(info, source: .fd(from.raw), target: .fd(to.raw), what: what)
    case S_IFREG:
      // O_NOFOLLOW: if the name became a symlink since fstatat, the open fails (ELOOP).
      let from = try Self.open(name, in: source, O_RDONLY, what: what)
      let to = try OwnedFD(check("create \(what)") { openat(target, newName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) })
      try Self.copyData(from: from.raw, to: to.raw, what: what)
      try applyAttributes(info, source: .fd(from.raw), target: .fd(to.raw), what: what)
    case S_IFLNK:
      let linkTarget = try Self.readLink(name, in: source, size: Int(info.st_size), what: what)
      try check("symlink \(what)") { symlinkat(linkTarget, target, newName) }
      try applyAttributes(info, source: .path(Self.procPath(source, name)), target: .path(Self.procPath(target, newName)), at: (target, newName), what: what)
    default:
      // Device nodes, FIFOs, sockets: made, never opened (opening a FIFO blocks).
      try check("mknod \(what)") { mknodat(target, newName, type | 0o600, info.st_rdev) }
      try applyAttributes(info, source: .path(Self.procPath(source, name)), target: .path(Self.procPath(target, newName)), at: (target, newName), what: what)
    }
    if type != S_IFDIR, options.hardLinks, info.st_nlink > 1 {
      linked[id] = (relative, newName)
    }
  }

  /// Links `newName` in `target` to an earlier copy; false when the link cannot be made (the
  /// file system's link limit): the caller copies instead.
  private func link(_ first: (parent: [UInt8], name: [CChar]), as newName: [CChar], in target: Int32, what: String) throws -> Bool {
    // The earlier copy's directory, found below the target root without following symlinks.
    let parentFD: OwnedFD
    if first.parent.isEmpty {
      parentFD = try OwnedFD(check("open the target") { openat(targetRoot, ".", BERTH_O_PATH | O_DIRECTORY | O_CLOEXEC) })
    } else {
      let parent = first.parent.map { CChar(bitPattern: $0) } + [0]
      parentFD = try OwnedFD(check("open \(Self.text(first.parent))") {
        berth_openat2(targetRoot, parent, UInt64(BERTH_O_PATH | O_DIRECTORY | O_CLOEXEC), 0,
                      UInt64(BERTH_RESOLVE_BENEATH | BERTH_RESOLVE_NO_SYMLINKS | BERTH_RESOLVE_NO_MAGICLINKS))
      })
    }
    if linkat(parentFD.raw, first.name, target, newName, 0) == 0 { return true }
    if errno == EMLINK { return false }
    throw BerthError.system("link \(what) to \(Self.text(Self.join(first.parent, first.name)))")
  }

  // MARK: attributes

  /// Owner, then mode (chown clears setuid and setgid bits), then extended attributes (chown
  /// clears security.capability), then times (last: everything before changes ctime only, but
  /// creating children changed a directory's mtime). `at` names a symlink or node to set
  /// through its directory; without it `target` is an open descriptor.
  private func applyAttributes(
    _ info: stat, source: ExtendedAttributes.Target, target: ExtendedAttributes.Target, at entry: (Int32, [CChar])? = nil,
    what: String
  ) throws {
    let isLink = info.st_mode & S_IFMT == S_IFLNK
    if options.ownership {
      if let (directory, name) = entry {
        try check("chown \(what)") { fchownat(directory, name, info.st_uid, info.st_gid, AT_SYMLINK_NOFOLLOW) }
      } else if case .fd(let fd) = target {
        try check("chown \(what)") { fchown(fd, info.st_uid, info.st_gid) }
      }
    }
    if !isLink {
      let mode = info.st_mode & 0o7777
      if let (directory, name) = entry {
        // Not a symlink (the type was made above), but it could have been replaced since:
        // AT_SYMLINK_NOFOLLOW refuses to follow one.
        try check("chmod \(what)") { fchmodat(directory, name, mode, AT_SYMLINK_NOFOLLOW) }
      } else if case .fd(let fd) = target {
        try check("chmod \(what)") { fchmod(fd, mode) }
      }
    }
    if options.extendedAttributes { try copyExtendedAttributes(source, target, what: what) }
    if options.timestamps {
      var times = [info.st_atim, info.st_mtim]
      if let (directory, name) = entry {
        try check("set the times of \(what)") { utimensat(directory, name, &times, AT_SYMLINK_NOFOLLOW) }
      } else if case .fd(let fd) = target {
        try check("set the times of \(what)") { futimens(fd, &times) }
      }
    }
  }

  private func copyExtendedAttributes(_ source: ExtendedAttributes.Target, _ target: ExtendedAttributes.Target, what: String) throws {
    for name in try ExtendedAttributes.names(source) {
      if Self.skippedAttributePrefixes.contains(where: { name.starts(with: $0) }) { continue }
      guard let value = try ExtendedAttributes.value(source, name: name) else { continue }
      if ExtendedAttributes.set(target, name: name, value: value) != 0 {
        // The target's file system keeps no attributes (or none of this namespace): the
        // content is what matters, as with Docker's copy.
        if errno == EOPNOTSUPP { continue }
        throw BerthError.system("set extended attribute \(String(decoding: name, as: UTF8.self)) on \(what)")
      }
    }
  }

  // MARK: helpers

  private static func open(_ name: [CChar], in directory: Int32, _ flags: Int32, what: String) throws -> OwnedFD {
    try OwnedFD(check("open \(what)") { openat(directory, name, flags | O_NOFOLLOW | O_CLOEXEC) })
  }

  /// The data of a regular file: copy_file_range (in-kernel, reflinks where the file system
  /// can), else read and write.
  static func copyData(from source: Int32, to target: Int32, what: String) throws {
    var inKernel = true
    while inKernel {
      // The files' own offsets: they move with what the kernel copies.
      let n = berth_copy_file_range(source, target, 1 << 30)
      if n == 0 { return }
      if n > 0 { continue }
      if errno == EINTR { continue }
      // Another file system type, or none of this: copy through user space from where the
      // kernel stopped (the file offsets moved with what it did copy).
      guard [EXDEV, EINVAL, ENOSYS, EOPNOTSUPP, EBADF, EPERM].contains(errno) else {
        throw BerthError.system("copy \(what)")
      }
      inKernel = false
    }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let n = buffer.withUnsafeMutableBytes { raw in retryOnInterrupt { read(source, raw.baseAddress, raw.count) } }
      if n < 0 { throw BerthError.system("read \(what)") }
      if n == 0 { return }
      do { try writeAllBytes(target, buffer[0..<n]) } catch let error as BerthError { throw error.prefixed(what) }
    }
  }

  private static func readLink(_ name: [CChar], in directory: Int32, size: Int, what: String) throws -> [CChar] {
    var capacity = max(size, 255) + 1
    while true {
      var buffer = [CChar](repeating: 0, count: capacity)
      let n = readlinkat(directory, name, &buffer, capacity)
      if n < 0 { throw BerthError.system("readlink \(what)") }
      if n < capacity { return Array(buffer[0..<n]) + [0] }
      capacity *= 2
    }
  }

  /// The names in a directory, as bytes with their NUL, without "." and "..".
  static func names(in directory: Int32, what: String) throws -> [[CChar]] {
    let copy = openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if copy < 0 { throw BerthError.system("open directory \(what)") }
    guard let stream = fdopendir(copy) else {
      close(copy)
      throw BerthError.system("read directory \(what)")
    }
    defer { closedir(stream) }
    var names: [[CChar]] = []
    while true {
      errno = 0
      guard let entry = readdir(stream) else {
        if errno != 0 { throw BerthError.system("read directory \(what)") }
        return names
      }
      let name = withUnsafePointer(to: entry.pointee.d_name) {
        $0.withMemoryRebound(to: CChar.self, capacity: 256) { Array(UnsafeBufferPointer(start: $0, count: strlen($0) + 1)) }
      }
      if name == [46, 0] || name == [46, 46, 0] { continue }
      names.append(name)
    }
  }

  /// A path through /proc/self/fd for calls that have no *at form (the l*xattr calls): the
  /// directory descriptor pins the directory, and the last component is not followed.
  private static func procPath(_ directory: Int32, _ name: [CChar]) -> [CChar] {
    Array("/proc/self/fd/\(directory)/".utf8CString.dropLast()) + name
  }

  private static func join(_ relative: [UInt8], _ name: [CChar]) -> [UInt8] {
    let bytes = name.dropLast().map { UInt8(bitPattern: $0) }
    return relative.isEmpty ? bytes : relative + [UInt8(ascii: "/")] + bytes
  }

  /// A name from ``names(in:what:)`` as text, for messages.
  static func display(_ name: [CChar]) -> String {
    String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  private static func text(_ bytes: [UInt8]) -> String {
    bytes.isEmpty ? "." : String(decoding: bytes, as: UTF8.self)
  }
}
