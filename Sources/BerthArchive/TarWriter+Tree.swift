import BerthOS
import CLinux

#if canImport(Glibc)
  import Glibc
#endif

extension TarWriter {
  /// How `addTree` turns a directory into members.
  public struct TreeOptions: Sendable, Equatable {
    /// Put members under this path in the archive ("" for the top level).
    public var prefix: String
    /// Clamp modification times to at most this (seconds since the epoch), as
    /// SOURCE_DATE_EPOCH asks for reproducible builds.
    public var mtimeClamp: Int64?
    /// The directory is an overlayfs upper directory: 0:0 character devices become OCI
    /// whiteouts (`.wh.NAME`) and directories with `trusted.overlay.opaque="y"` get an opaque
    /// marker (`.wh..wh..opq`).
    public var overlayWhiteouts: Bool
    /// Record extended attributes (SCHILY.xattr.*), such as `security.capability`. The host's
    /// `security.selinux` labels and overlayfs' own `trusted.overlay.*` are never recorded.
    public var xattrs: Bool
    /// Paths left out, with everything under them, as named in the archive ("etc/hosts"):
    /// the mountpoints a container's runtime made in its upper directory.
    public var excluded: Set<String> = []

    public init(prefix: String = "", mtimeClamp: Int64? = nil, overlayWhiteouts: Bool = false, xattrs: Bool = true) {
      self.prefix = prefix
      self.mtimeClamp = mtimeClamp
      self.overlayWhiteouts = overlayWhiteouts
      self.xattrs = xattrs
    }
  }

  private struct InodeKey: Hashable {
    var device: UInt64
    var inode: UInt64
  }

  /// Adds everything under `directory` (not the directory itself), depth first with names in
  /// byte order, so the same tree always gives the same stream. Numeric owners, modes, times
  /// (whole seconds), hard links among the files, devices, fifos, symlinks as they are.
  /// Sockets are skipped, as tar skips them.
  public func addTree(_ directory: String, options: TreeOptions = .init()) throws {
    guard FS.isDirectory(directory) else {
      throw BerthError(.notFound, "\(directory) is not a directory")
    }
    let prefix = try EntryPath(cleaning: options.prefix).bytes
    var links: [InodeKey: [UInt8]] = [:]
    try addDirectoryContents(disk: Array(directory.utf8), archive: prefix, options: options, links: &links)
  }

  private func addDirectoryContents(
    disk: [UInt8], archive: [UInt8], options: TreeOptions, links: inout [InodeKey: [UInt8]]
  ) throws {
    let slash = UInt8(ascii: "/")
    for name in try directoryNames(disk).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
      let diskPath = disk + [slash] + name
      let archivePath = archive.isEmpty ? name : archive + [slash] + name
      if !options.excluded.isEmpty && options.excluded.contains(String(decoding: archivePath, as: UTF8.self)) { continue }
      let display = String(decoding: diskPath, as: UTF8.self)
      do {
        try addTreeMember(disk: diskPath, archive: archivePath, name: name, parent: archive, options: options, links: &links)
      } catch let error as BerthError {
        throw error.prefixed("add \(display)")
      }
    }
  }

  private func addTreeMember(
    disk: [UInt8], archive: [UInt8], name: [UInt8], parent: [UInt8], options: TreeOptions,
    links: inout [InodeKey: [UInt8]]
  ) throws {
    var info = stat()
    try check("lstat") { withCPath(disk) { lstat($0, &info) } }
    let diskString = String(decoding: disk, as: UTF8.self)
    let type = info.st_mode & FileTypeBits.mask
    var mtime = Int64(info.st_mtim.tv_sec)
    if let clamp = options.mtimeClamp { mtime = min(mtime, clamp) }
    var entry = TarEntry(
      path: String(decoding: archive, as: UTF8.self), kind: .regular, mode: UInt32(info.st_mode & 0o7777),
      uid: info.st_uid, gid: info.st_gid, mtime: mtime)

    if options.overlayWhiteouts && type == FileTypeBits.characterDevice && info.st_rdev == 0 {
      let whiteout = (parent.isEmpty ? [] : parent + [UInt8(ascii: "/")]) + Array(".wh.".utf8) + name
      try writeHeader(TarEntry(path: "", kind: .regular, mode: 0, mtime: mtime), path: whiteout)
      return
    }
    if options.xattrs && type != FileTypeBits.socket {
      entry.xattrs = try treeXattrs(diskString, overlay: options.overlayWhiteouts)
    }
    let key = InodeKey(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    if type != FileTypeBits.directory && info.st_nlink > 1 {
      if let first = links[key] {
        entry.kind = .hardlink
        entry.xattrs = [:]
        try writeHeader(entry, path: archive, linkTarget: first)
        return
      }
      links[key] = archive
    }
    switch type {
    case FileTypeBits.directory:
      entry.kind = .directory
      let opaque = try options.overlayWhiteouts
        && ExtendedAttributes.value(.path(Array(diskString.utf8CString)), name: Array("trusted.overlay.opaque".utf8), of: diskString)
          == Array("y".utf8)
      try writeHeader(entry, path: archive)
      if opaque {
        try writeHeader(TarEntry(path: "", kind: .regular, mode: 0, mtime: mtime), path: archive + Array("/.wh..wh..opq".utf8))
      }
      try addDirectoryContents(disk: disk, archive: archive, options: options, links: &links)
    case FileTypeBits.regular:
      let fd = try check("open") { withCPath(disk) { open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) } }
      defer { close(fd) }
      entry.size = Int64(info.st_size)
      try writeHeader(entry, path: archive)
      try copyContent(from: fd, size: entry.size, path: diskString)
    case FileTypeBits.symlink:
      entry.kind = .symlink
      var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
      let n = withCPath(disk) { cPath in buffer.withUnsafeMutableBufferPointer { buf in
        buf.baseAddress.map { base in
          base.withMemoryRebound(to: CChar.self, capacity: buf.count) { readlink(cPath, $0, buf.count) }
        } ?? -1
      } }
      if n < 0 { throw BerthError.system("readlink") }
      try writeHeader(entry, path: archive, linkTarget: Array(buffer[0..<n]))
    case FileTypeBits.characterDevice, FileTypeBits.blockDevice:
      entry.kind = type == FileTypeBits.characterDevice ? .characterDevice : .blockDevice
      entry.deviceMajor = UInt32(truncatingIfNeeded: berth_major(info.st_rdev))
      entry.deviceMinor = UInt32(truncatingIfNeeded: berth_minor(info.st_rdev))
      try writeHeader(entry, path: archive)
    case FileTypeBits.fifo:
      entry.kind = .fifo
      try writeHeader(entry, path: archive)
    default:
      // Sockets: tar cannot hold them.
      break
    }
  }

  /// The extended attributes to record for a file of the tree.
  private func treeXattrs(_ path: String, overlay: Bool) throws -> [String: [UInt8]] {
    var result: [String: [UInt8]] = [:]
    let file = ExtendedAttributes.Target.path(Array(path.utf8CString))
    for name in try ExtendedAttributes.names(file, of: path).map({ String(decoding: $0, as: UTF8.self) }) {
      if name.hasPrefix("trusted.overlay.") {
        if overlay && (name == "trusted.overlay.redirect" || name == "trusted.overlay.metacopy") {
          throw BerthError(
            .unsupported,
            "overlayfs \(name) found: the upper directory does not hold the whole content (mount without redirect_dir and metacopy)")
        }
        continue
      }
      if name == "security.selinux" { continue }
      if let value = try ExtendedAttributes.value(file, name: Array(name.utf8), of: path) { result[name] = value }
    }
    return result
  }

  /// The names in a directory as bytes (without "." and "..").
  private func directoryNames(_ path: [UInt8]) throws -> [[UInt8]] {
    guard let stream = withCPath(path, { opendir($0) }) else {
      throw BerthError.system("open directory \(String(decoding: path, as: UTF8.self))")
    }
    defer { closedir(stream) }
    var names: [[UInt8]] = []
    while let item = readdir(stream) {
      let name: [UInt8] = withUnsafeBytes(of: item.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
      if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
      names.append(name)
    }
    return names
  }
}
