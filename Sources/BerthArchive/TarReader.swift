import BerthOCI
import BerthOS
import CArchive

#if canImport(Glibc)
  import Glibc
#endif

/// Reads the members of a tar stream one after the other without extracting anything: for
/// `berth load` to find `manifest.json`, `index.json`, `oci-layout` and blobs in a
/// `docker save` or OCI archive.
///
/// ```swift
/// let reader = try TarReader(file: "image.tar")
/// while let entry = try reader.next() {
///   if entry.path == "manifest.json" { manifest = try reader.readContents() }
/// }
/// ```
///
/// Content is read from the current entry only; `next()` skips what was not read.
public final class TarReader {
  private let archive: OpaquePointer
  private let file: Int32?
  private var current: TarEntry?

  /// Opens a tar file; `compression` nil accepts gzip, zstd or none, recognized by content.
  public convenience init(file path: String, compression: LayerCompression? = nil) throws {
    let fd = try check("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
    try self.init(descriptor: fd, owned: true, compression: compression, name: path)
  }

  /// Reads from `fd` (not closed by the reader) from its current offset.
  /// `name` is what messages call the input (a path, "stdin").
  public convenience init(fileDescriptor fd: Int32, compression: LayerCompression? = nil, name: String? = nil) throws {
    try self.init(descriptor: fd, owned: false, compression: compression, name: name ?? "fd \(fd)")
  }

  /// Takes `fd` (closed by deinit when `owned`, also when this throws).
  private init(descriptor fd: Int32, owned: Bool, compression: LayerCompression?, name: String) throws {
    guard let archive = archive_read_new() else {
      if owned { close(fd) }
      throw BerthError(.internalError, "archive_read_new failed")
    }
    self.archive = archive
    file = owned ? fd : nil
    // From here on, deinit frees the archive and closes an owned descriptor.
    archive_read_support_format_tar(archive)
    if compression == nil || compression == .gzip { archive_read_support_filter_gzip(archive) }
    if compression == nil || compression == .zstd { archive_read_support_filter_zstd(archive) }
    let status = withUTF8Locale { archive_read_open_fd(archive, fd, 128 << 10) }
    if status != ARCHIVE_OK {
      throw BerthError.libarchive(archive, "\(name) is not a tar archive")
    }
    if let compression {
      let found = archive_filter_code(archive, 0)
      let expected = compression == .gzip ? ARCHIVE_FILTER_GZIP : compression == .zstd ? ARCHIVE_FILTER_ZSTD : ARCHIVE_FILTER_NONE
      if found != expected {
        throw BerthError(.invalidArchive, "\(name) is not \(compression == .none ? "an uncompressed" : "a \(compression.rawValue)-compressed") tar")
      }
    }
  }

  deinit {
    archive_read_free(archive)
    if let file { close(file) }
  }

  /// The next member, or nil at the end of the archive.
  public func next() throws -> TarEntry? {
    var entry: OpaquePointer?
    let status = withUTF8Locale { archive_read_next_header(archive, &entry) }
    if status == ARCHIVE_EOF {
      current = nil
      return nil
    }
    guard succeeded(status), let entry else {
      let place = current.map { "after \(quoted($0.path))" } ?? "at the start"
      throw BerthError.libarchive(archive, "read tar header \(place)")
    }
    let converted = withUTF8Locale { TarEntry(archiveEntry: entry) }
    current = converted
    return converted
  }

  /// Reads up to `buffer.count` bytes of the current member's content; 0 at its end.
  public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
    let n = archive_read_data(archive, base, buffer.count)
    if n < 0 { throw BerthError.libarchive(archive, "read \(quoted(current?.path ?? "?"))") }
    return n
  }

  /// Streams the current member's content to `body` in pieces.
  public func readContents(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
    var block: UnsafeRawPointer?
    var size = 0
    var offset: la_int64_t = 0
    var position: Int64 = 0
    let zeros = [UInt8](repeating: 0, count: 64 << 10)
    while true {
      let status = archive_read_data_block(archive, &block, &size, &offset)
      if status == ARCHIVE_EOF { break }
      if !succeeded(status) { throw BerthError.libarchive(archive, "read \(quoted(current?.path ?? "?"))") }
      // Holes of a sparse member read as zeros.
      while position < offset {
        let gap = Int(min(Int64(zeros.count), offset - position))
        try zeros.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<gap])) }
        position += Int64(gap)
      }
      if let block, size > 0 {
        try body(UnsafeRawBufferPointer(start: block, count: size))
        position += Int64(size)
      }
    }
    if let size = current?.size {
      while position < size {
        let gap = Int(min(Int64(zeros.count), size - position))
        try zeros.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<gap])) }
        position += Int64(gap)
      }
    }
  }

  /// The current member's whole content. Refuses members larger than `maximumSize`, so a
  /// hostile archive cannot make a small JSON file take all memory.
  public func readContents(maximumSize: Int64 = 64 << 20) throws -> [UInt8] {
    let size = current?.size ?? 0
    if size > maximumSize {
      throw BerthError(.invalidArchive, "\(quoted(current?.path ?? "?")) is \(size) bytes, more than the \(maximumSize) allowed")
    }
    var result: [UInt8] = []
    result.reserveCapacity(Int(size))
    try readContents { result.append(contentsOf: $0) }
    return result
  }
}

extension TarEntry {
  /// Converts a libarchive entry header.
  init(archiveEntry entry: OpaquePointer) {
    let rawPath = archive_entry_pathname(entry) ?? archive_entry_pathname_utf8(entry)
    let path = rawPath.map { String(decoding: cStringBytes($0), as: UTF8.self) } ?? ""
    let type = archive_entry_filetype(entry) & FileTypeBits.mask
    var kind: Kind
    var linkTarget: String?
    if let hardlink = archive_entry_hardlink(entry) {
      kind = .hardlink
      linkTarget = String(decoding: cStringBytes(hardlink), as: UTF8.self)
    } else {
      switch type {
      case FileTypeBits.directory: kind = .directory
      case FileTypeBits.symlink: kind = .symlink
      case FileTypeBits.characterDevice: kind = .characterDevice
      case FileTypeBits.blockDevice: kind = .blockDevice
      case FileTypeBits.fifo: kind = .fifo
      default: kind = .regular
      }
      if kind == .symlink, let target = archive_entry_symlink(entry) ?? archive_entry_symlink_utf8(entry) {
        linkTarget = String(decoding: cStringBytes(target), as: UTF8.self)
      }
    }
    var xattrs: [String: [UInt8]] = [:]
    if archive_entry_xattr_reset(entry) > 0 {
      var name: UnsafePointer<CChar>?
      var value: UnsafeRawPointer?
      var size = 0
      while archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK {
        guard let name else { continue }
        xattrs[String(cString: name)] = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
      }
    }
    self.init(
      path: path, kind: kind, size: kind == .regular ? archive_entry_size(entry) : 0,
      mode: UInt32(archive_entry_perm(entry) & 0o7777),
      uid: UInt32(truncatingIfNeeded: archive_entry_uid(entry)), gid: UInt32(truncatingIfNeeded: archive_entry_gid(entry)),
      mtime: Int64(archive_entry_mtime(entry)), mtimeNanoseconds: Int32(truncatingIfNeeded: archive_entry_mtime_nsec(entry)),
      linkTarget: linkTarget,
      deviceMajor: UInt32(truncatingIfNeeded: archive_entry_rdevmajor(entry)),
      deviceMinor: UInt32(truncatingIfNeeded: archive_entry_rdevminor(entry)), xattrs: xattrs)
  }
}
