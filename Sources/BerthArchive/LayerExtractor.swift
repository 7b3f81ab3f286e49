import BerthOS
import CArchive
import CLinux

#if canImport(Glibc)
  import Glibc
#endif

/// File types as libarchive reports them (the header's AE_IF* macros carry casts that Swift
/// does not import).
enum FileTypeBits {
  static let mask: mode_t = 0o170000
  static let regular: mode_t = 0o100000
  static let directory: mode_t = 0o040000
  static let symlink: mode_t = 0o120000
  static let characterDevice: mode_t = 0o020000
  static let blockDevice: mode_t = 0o060000
  static let fifo: mode_t = 0o010000
  static let socket: mode_t = 0o140000
}

/// utimensat(2)'s "leave this time alone".
private let utimeOmit = (1 << 30) - 2
private let whiteoutPrefix = Array(".wh.".utf8)
private let opaqueMarker = Array(".wh..wh..opq".utf8)
private let overlayXattrPrefix = Array("trusted.overlay.".utf8)
private let userXattrPrefix = Array("user.".utf8)

/// Writes the entries of a layer tar under a destination directory: the last stage of the
/// unpack pipeline, on its own thread.
///
/// Every path is resolved under the destination with openat2(RESOLVE_IN_ROOT): a symlink in
/// the layer (`etc -> /etc`, `x -> ../../..`) resolves inside the destination as it would
/// inside the container, so no entry reaches the host's files. The entry itself is created
/// with O_EXCL/O_NOFOLLOW relative to its parent's descriptor (an existing entry is removed
/// first, as tar does), so a symlink at the final name is never followed either. Parent
/// directories stay open in a small cache: tars list a directory's files together, so most
/// entries cost one openat plus the calls that set their metadata.
final class LayerExtractor {
  private let root: Int32
  private let options: UnpackOptions
  /// Open descriptors of directories, by cleaned path.
  private var directories: [[UInt8]: Int32] = [:]
  /// Something was removed: cached descriptors may name replaced directories. The cache is
  /// dropped before the next entry (not at once: the current entry may still use them).
  private var directoriesStale = false
  /// Directory times to set once all entries are written (creating children changes them).
  private var directoryTimes: [[UInt8]: (access: timespec, modification: timespec)] = [:]
  private(set) var entryCount = 0

  init(destination: String, options: UnpackOptions) throws {
    root = try check("open destination \(destination)") {
      open(destination, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    }
    self.options = options
  }

  deinit {
    for fd in directories.values { close(fd) }
    close(root)
  }

  /// Extracts every entry of `archive`, then sets the directories' times.
  func extractAll(from archive: OpaquePointer) throws {
    var entry: OpaquePointer?
    var lastName: String?
    while true {
      let status = archive_read_next_header(archive, &entry)
      if status == ARCHIVE_EOF { break }
      guard succeeded(status), let entry else {
        let place = lastName.map { "after entry \(quoted($0))" } ?? "at the start"
        throw BerthError.libarchive(archive, "layer tar is invalid \(place)")
      }
      entryCount += 1
      guard let rawPath = archive_entry_pathname(entry) ?? archive_entry_pathname_utf8(entry) else {
        throw BerthError(.invalidArchive, "layer tar entry \(entryCount) has no name")
      }
      let path = try EntryPath(cleaning: cStringBytes(rawPath), entry: String(cString: rawPath))
      do {
        try extract(entry, at: path, from: archive)
      } catch let error as BerthError {
        throw error.prefixed("entry \(quoted(path.display))")
      }
      lastName = path.display
    }
    dropStaleDirectories(force: true)
    try applyDirectoryTimes()
  }

  // MARK: entries

  private func extract(_ entry: OpaquePointer, at path: EntryPath, from archive: OpaquePointer) throws {
    dropStaleDirectories(force: false)
    let type = archive_entry_filetype(entry) & FileTypeBits.mask
    if path.isRoot {
      // "./": the layer's root directory. Its metadata goes to the destination itself.
      if type == FileTypeBits.directory && archive_entry_hardlink(entry) == nil {
        try setMetadata(fd: root, entry)
        directoryTimes[[]] = times(entry)
      }
      return
    }
    if options.overlayWhiteouts && path.name.starts(with: whiteoutPrefix) {
      try whiteout(path)
      return
    }
    if let target = archive_entry_hardlink(entry) {
      try hardlink(path, target: target)
      return
    }
    let parent = try directory(path.parent)
    switch type {
    case FileTypeBits.regular:
      try regularFile(entry, path, parent: parent, archive: archive)
    case FileTypeBits.directory:
      try makeDirectory(entry, path, parent: parent)
    case FileTypeBits.symlink:
      try symlink(entry, path, parent: parent)
    case FileTypeBits.characterDevice, FileTypeBits.blockDevice, FileTypeBits.fifo:
      try node(entry, path, parent: parent, type: type)
    default:
      // Sockets and unknown types: tar skips them too.
      break
    }
  }

  private func regularFile(_ entry: OpaquePointer, _ path: EntryPath, parent: Int32, archive: OpaquePointer) throws {
    let name = path.name
    let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
    var fd = withCPath(name) { name in retryOnInterrupt { openat(parent, name, flags, 0o600) } }
    if fd < 0 && errno == EEXIST {
      _ = try removeExisting(path, parent: parent, keepDirectory: false)
      fd = withCPath(name) { name in retryOnInterrupt { openat(parent, name, flags, 0o600) } }
    }
    if fd < 0 { throw BerthError.system("create file") }
    defer { close(fd) }

    var end: Int64 = 0
    var block: UnsafeRawPointer?
    var size = 0
    var offset: la_int64_t = 0
    while true {
      let status = archive_read_data_block(archive, &block, &size, &offset)
      if status == ARCHIVE_EOF { break }
      if !succeeded(status) { throw BerthError.libarchive(archive, "read file content") }
      guard let block, size > 0 else { continue }
      var done = 0
      while done < size {
        let n = pwrite(fd, block + done, size - done, off_t(offset) + off_t(done))
        if n < 0 {
          if errno == EINTR { continue }
          throw BerthError.system("write")
        }
        done += n
      }
      end = offset + Int64(size)
    }
    // A sparse file's last hole, or a file that ends in one: the size comes from the header.
    let fileSize = archive_entry_size(entry)
    if end < fileSize {
      try check("truncate to \(fileSize) bytes") { ftruncate(fd, off_t(fileSize)) }
    }
    try setMetadata(fd: fd, entry)
    var stamps = times(entry)
    let status = withUnsafePointer(to: &stamps) { pointer in
      pointer.withMemoryRebound(to: timespec.self, capacity: 2) { futimens(fd, $0) }
    }
    if status != 0 { throw BerthError.system("set times") }
  }

  private func makeDirectory(_ entry: OpaquePointer, _ path: EntryPath, parent: Int32) throws {
    let name = path.name
    if withCPath(name, { mkdirat(parent, $0, 0o700) }) != 0 {
      guard errno == EEXIST else { throw BerthError.system("create directory") }
      // A directory that exists (made for an earlier entry's sake, or listed twice) stays;
      // anything else is replaced.
      if try !removeExisting(path, parent: parent, keepDirectory: true) {
        try check("create directory") { withCPath(name) { mkdirat(parent, $0, 0o700) } }
      }
    }
    let fd = try check("open directory") {
      withCPath(name) { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
    }
    do {
      try setMetadata(fd: fd, entry)
    } catch {
      close(fd)
      throw error
    }
    if directories[path.bytes] == nil {
      directories[path.bytes] = fd
    } else {
      close(fd)
    }
    directoryTimes[path.bytes] = times(entry)
  }

  private func symlink(_ entry: OpaquePointer, _ path: EntryPath, parent: Int32) throws {
    guard let target = archive_entry_symlink(entry) ?? archive_entry_symlink_utf8(entry) else {
      throw BerthError(.invalidArchive, "symbolic link without a target")
    }
    let name = path.name
    if withCPath(name, { symlinkat(target, parent, $0) }) != 0 {
      guard errno == EEXIST else { throw BerthError.system("create symbolic link") }
      _ = try removeExisting(path, parent: parent, keepDirectory: false)
      try check("create symbolic link") { withCPath(name) { symlinkat(target, parent, $0) } }
    }
    try setMetadata(parent: parent, name: name, entry, changeMode: false)
  }

  private func node(_ entry: OpaquePointer, _ path: EntryPath, parent: Int32, type: mode_t) throws {
    let device = type == FileTypeBits.fifo
      ? dev_t(0) : berth_makedev(UInt(archive_entry_rdevmajor(entry)), UInt(archive_entry_rdevminor(entry)))
    let name = path.name
    if withCPath(name, { mknodat(parent, $0, type | 0o600, device) }) != 0 {
      guard errno == EEXIST else { throw BerthError.system("create device node") }
      _ = try removeExisting(path, parent: parent, keepDirectory: false)
      try check("create device node") { withCPath(name) { mknodat(parent, $0, type | 0o600, device) } }
    }
    try setMetadata(parent: parent, name: name, entry, changeMode: true)
  }

  private func hardlink(_ path: EntryPath, target rawTarget: UnsafePointer<CChar>) throws {
    let target = try EntryPath(cleaning: cStringBytes(rawTarget), entry: String(cString: rawTarget))
    if target.isRoot { throw BerthError(.unsafeArchiveEntry, "hard link to the layer's root directory") }
    // Both parents resolve inside the destination; linkat does not follow a symlink at the
    // target's name. So the link can only ever name a file of this layer.
    let targetParent: Int32
    do {
      targetParent = try directory(target.parent, create: false)
    } catch let error as BerthError where error.errno == ENOENT || error.errno == ENOTDIR {
      throw BerthError(.invalidArchive, "hard link target \(quoted(target.display)) is not in the layer before it")
    }
    let parent = try directory(path.parent)
    let link: () -> Int32 = {
      withCPath(target.name) { targetName in
        withCPath(path.name) { name in linkat(targetParent, targetName, parent, name, 0) }
      }
    }
    if link() == 0 { return }
    if errno == EEXIST {
      if try sameInode(targetParent, target.name, parent, path.name) { return }
      _ = try removeExisting(path, parent: parent, keepDirectory: false)
      if link() == 0 { return }
    }
    if errno == ENOENT {
      throw BerthError(.invalidArchive, "hard link target \(quoted(target.display)) is not in the layer before it")
    }
    throw BerthError.system("hard link to \(quoted(target.display))")
  }

  private func whiteout(_ path: EntryPath) throws {
    let name = path.name
    if name.elementsEqual(opaqueMarker) {
      let directory = try directory(path.parent)
      let status = ExtendedAttributes.set(.fd(directory), name: Array("trusted.overlay.opaque".utf8), value: Array("y".utf8))
      if status != 0 { throw BerthError.system("mark directory opaque (trusted.overlay.opaque)") }
      return
    }
    let hidden = name.dropFirst(whiteoutPrefix.count)
    // ".wh..wh.*" other than the opaque marker: aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs), not content.
    if hidden.starts(with: whiteoutPrefix) { return }
    if hidden.isEmpty || hidden.elementsEqual([UInt8(ascii: ".")]) || hidden.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
      throw BerthError(.unsafeArchiveEntry, "a whiteout must name a file")
    }
    let directory = try directory(path.parent)
    let status = withCPath(hidden) { mknodat(directory, $0, FileTypeBits.characterDevice, berth_makedev(0, 0)) }
    // EEXIST: this layer has an entry of that name. A whiteout hides files of lower layers
    // only, so the entry stays.
    if status != 0 && errno != EEXIST { throw BerthError.system("create whiteout") }
  }

  // MARK: metadata

  /// Owner, mode and extended attributes through an open descriptor (regular files and
  /// directories), in that order: chown clears setuid/setgid bits and file capabilities.
  private func setMetadata(fd: Int32, _ entry: OpaquePointer) throws {
    if options.preserveOwners {
      let (uid, gid) = try owner(entry)
      try check("change owner to \(uid):\(gid)") { fchown(fd, uid, gid) }
    }
    try check("change mode") { fchmod(fd, mode_t(archive_entry_perm(entry) & 0o7777)) }
    try applyXattrs(entry, to: .fd(fd))
  }

  /// The same for symlinks and device nodes, by name relative to `parent`, plus the times.
  private func setMetadata(parent: Int32, name: ArraySlice<UInt8>, _ entry: OpaquePointer, changeMode: Bool) throws {
    try withCPath(name) { cName in
      if options.preserveOwners {
        let (uid, gid) = try owner(entry)
        try check("change owner to \(uid):\(gid)") { fchownat(parent, cName, uid, gid, AT_SYMLINK_NOFOLLOW) }
      }
      if changeMode {
        // Follows symlinks, but this name was just created as a device node or fifo.
        try check("change mode") { fchmodat(parent, cName, mode_t(archive_entry_perm(entry) & 0o7777), 0) }
      }
      if archive_entry_xattr_count(entry) > 0 {
        // No fd-based call sets an xattr on a symlink or device node without opening it:
        // go through an O_PATH descriptor's /proc/self/fd link, which names the inode itself.
        let fd = try check("open") { openat(parent, cName, BERTH_O_PATH | O_NOFOLLOW | O_CLOEXEC) }
        defer { close(fd) }
        // The kernel allows user.* attributes on regular files and directories only.
        try applyXattrs(entry, to: .followedPath(Array("/proc/self/fd/\(fd)".utf8CString)), userNamespace: false)
      }
      var stamps = times(entry)
      let status = withUnsafePointer(to: &stamps) { pointer in
        pointer.withMemoryRebound(to: timespec.self, capacity: 2) { utimensat(parent, cName, $0, AT_SYMLINK_NOFOLLOW) }
      }
      if status != 0 { throw BerthError.system("set times") }
    }
  }

  private func owner(_ entry: OpaquePointer) throws -> (uid_t, gid_t) {
    let uid = archive_entry_uid(entry), gid = archive_entry_gid(entry)
    guard let u = uid_t(exactly: uid), let g = gid_t(exactly: gid), u != uid_t.max, g != gid_t.max else {
      throw BerthError(.invalidArchive, "owner \(uid):\(gid) is out of range")
    }
    return (u, g)
  }

  /// Sets the entry's extended attributes (SCHILY.xattr.* in pax headers) with `set`. Skips
  /// those the file system does not support, `user.*` where the kernel never allows them
  /// (`userNamespace` false: symlinks, devices), and `trusted.overlay.*`: those steer
  /// overlayfs (redirects, metacopy) and only whiteout conversion may set them.
  private func applyXattrs(_ entry: OpaquePointer, to target: ExtendedAttributes.Target, userNamespace: Bool = true) throws {
    if archive_entry_xattr_reset(entry) == 0 { return }
    var name: UnsafePointer<CChar>?
    var value: UnsafeRawPointer?
    var size = 0
    while archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK {
      guard let name else { continue }
      let nameBytes = cStringBytes(name)
      if nameBytes.starts(with: overlayXattrPrefix) { continue }
      if !userNamespace && nameBytes.starts(with: userXattrPrefix) { continue }
      let valueBytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
      if ExtendedAttributes.set(target, name: Array(nameBytes), value: valueBytes) != 0 {
        if errno == EOPNOTSUPP { continue }
        throw BerthError.system("set extended attribute \(String(cString: name))")
      }
    }
  }

  /// (atime, mtime) for utimensat: a time the tar does not record is left alone.
  private func times(_ entry: OpaquePointer) -> (access: timespec, modification: timespec) {
    let omit = timespec(tv_sec: 0, tv_nsec: utimeOmit)
    let modification = archive_entry_mtime_is_set(entry) != 0
      ? timespec(tv_sec: Int(archive_entry_mtime(entry)), tv_nsec: Int(archive_entry_mtime_nsec(entry))) : omit
    let access = archive_entry_atime_is_set(entry) != 0
      ? timespec(tv_sec: Int(archive_entry_atime(entry)), tv_nsec: Int(archive_entry_atime_nsec(entry))) : omit
    return (access, modification)
  }

  private func applyDirectoryTimes() throws {
    for (path, stamps) in directoryTimes {
      var fd = root
      var opened = false
      if !path.isEmpty {
        if let cached = directories[path] {
          fd = cached
        } else {
          fd = openInRoot(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
          // Gone or replaced by a non-directory since: its times no longer matter.
          if fd < 0 { continue }
          opened = true
        }
      }
      var pair = stamps
      let status = withUnsafePointer(to: &pair) { pointer in
        pointer.withMemoryRebound(to: timespec.self, capacity: 2) { futimens(fd, $0) }
      }
      let savedErrno = errno
      if opened { close(fd) }
      if status != 0 {
        throw BerthError.system("set times of directory \(quoted(String(decoding: path, as: UTF8.self)))", errno: savedErrno)
      }
    }
  }

  // MARK: directories

  /// An open descriptor of the directory `path` (relative to the destination, resolved
  /// inside it), creating missing directories (mode 0755) as tar does when `create`.
  private func directory(_ path: ArraySlice<UInt8>, create: Bool = true) throws -> Int32 {
    if path.isEmpty { return root }
    let key = Array(path)
    if let fd = directories[key] { return fd }
    let fd = openInRoot(key, O_RDONLY | O_DIRECTORY)
    if fd >= 0 {
      directories[key] = fd
      return fd
    }
    if errno == ENOENT && create { return try createDirectories(key) }
    throw BerthError.system("open directory \(quoted(String(decoding: key, as: UTF8.self)))")
  }

  /// Creates the missing directories of `path` one component at a time, each resolved
  /// inside the destination.
  private func createDirectories(_ path: [UInt8]) throws -> Int32 {
    var current = root
    var prefix: [UInt8] = []
    for component in path.split(separator: UInt8(ascii: "/")) {
      if !prefix.isEmpty { prefix.append(UInt8(ascii: "/")) }
      prefix.append(contentsOf: component)
      if let cached = directories[prefix] {
        current = cached
        continue
      }
      var fd = openInRoot(prefix, O_RDONLY | O_DIRECTORY)
      if fd < 0 && errno == ENOENT {
        let parent = current
        let made = withCPath(component) { mkdirat(parent, $0, 0o755) }
        if made != 0 && errno != EEXIST {
          throw BerthError.system("create directory \(quoted(String(decoding: prefix, as: UTF8.self)))")
        }
        fd = withCPath(component) { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        if fd < 0 && (errno == ELOOP || errno == ENOTDIR) {
          throw BerthError(
            .invalidArchive,
            "cannot create directory \(quoted(String(decoding: prefix, as: UTF8.self))): a symbolic link to a missing directory is in the way")
        }
      }
      if fd < 0 { throw BerthError.system("open directory \(quoted(String(decoding: prefix, as: UTF8.self)))") }
      directories[prefix] = fd
      current = fd
    }
    return current
  }

  /// openat2(destination, path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): symlinks, ".." and
  /// absolute targets all stay under the destination. -1 with errno on failure.
  private func openInRoot(_ path: some Collection<UInt8>, _ flags: Int32) -> Int32 {
    let root = self.root
    return withCPath(path) { cPath in
      while true {
        let fd = berth_openat2(
          root, cPath, UInt64(flags | O_CLOEXEC), 0, UInt64(BERTH_RESOLVE_IN_ROOT | BERTH_RESOLVE_NO_MAGICLINKS))
        // EAGAIN: a concurrent rename raced with ".." resolution; try again.
        if fd >= 0 || (errno != EINTR && errno != EAGAIN) { return fd }
      }
    }
  }

  private func dropStaleDirectories(force: Bool) {
    guard directoriesStale || (!force && directories.count > 256) else { return }
    for fd in directories.values { close(fd) }
    directories.removeAll(keepingCapacity: true)
    directoriesStale = false
  }

  // MARK: replacing

  /// Makes room for an entry whose name exists: returns true (and keeps it) when it is a
  /// directory and `keepDirectory`; otherwise removes it (a directory with all it holds).
  private func removeExisting(_ path: EntryPath, parent: Int32, keepDirectory: Bool) throws -> Bool {
    var info = stat()
    let status = withCPath(path.name) { fstatat(parent, $0, &info, AT_SYMLINK_NOFOLLOW) }
    if status != 0 {
      if errno == ENOENT { return false }
      throw BerthError.system("inspect existing file")
    }
    if info.st_mode & FileTypeBits.mask == FileTypeBits.directory {
      if keepDirectory { return true }
      try removeTree(parent: parent, name: path.name)
      let prefix = path.bytes + [UInt8(ascii: "/")]
      directoryTimes = directoryTimes.filter { key, _ in key != path.bytes && !key.starts(with: prefix) }
    } else {
      try check("remove existing file") { withCPath(path.name) { unlinkat(parent, $0, 0) } }
    }
    directoriesStale = true
    return false
  }

  private func removeTree(parent: Int32, name: some Collection<UInt8>) throws {
    let fd = try check("open directory to remove") {
      withCPath(name) { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
    }
    guard let stream = fdopendir(fd) else {
      close(fd)
      throw BerthError.system("read directory to remove")
    }
    defer { closedir(stream) }
    while let item = readdir(stream) {
      let childName: [UInt8] = withUnsafeBytes(of: item.pointee.d_name) { raw in
        Array(raw.prefix { $0 != 0 })
      }
      if childName == [UInt8(ascii: ".")] || childName == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
      if item.pointee.d_type == UInt8(DT_DIR) {
        try removeTree(parent: fd, name: childName)
      } else {
        try check("remove") { withCPath(childName) { unlinkat(fd, $0, 0) } }
      }
    }
    try check("remove directory") { withCPath(name) { unlinkat(parent, $0, AT_REMOVEDIR) } }
  }

  private func sameInode(_ dirA: Int32, _ nameA: ArraySlice<UInt8>, _ dirB: Int32, _ nameB: ArraySlice<UInt8>) throws -> Bool {
    var a = stat(), b = stat()
    guard withCPath(nameA, { fstatat(dirA, $0, &a, AT_SYMLINK_NOFOLLOW) }) == 0,
          withCPath(nameB, { fstatat(dirB, $0, &b, AT_SYMLINK_NOFOLLOW) }) == 0 else { return false }
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino
  }
}
