import BerthOCI
import BerthOS
import CArchive
import CLinux

#if canImport(Glibc)
  import Glibc
#endif

/// What a `TarWriter` wrote.
public struct TarWriteResult: Sendable, Equatable {
  /// SHA-256 of the bytes written (compressed when compression is on): the blob digest.
  public var digest: Digest
  /// Length of the bytes written.
  public var size: Int64
  /// SHA-256 of the uncompressed tar stream: the layer's diffID. Equals `digest` without
  /// compression.
  public var diffID: Digest
  /// Length of the uncompressed tar stream.
  public var uncompressedSize: Int64
}

/// Writes a tar stream (pax, with ustar headers where they suffice, as Docker and containerd
/// write layers), optionally gzip- or zstd-compressed, and computes its digests as it goes:
/// image layers from a directory (`commit`, `import`), `docker save`/OCI archives from files
/// in memory or on disk (`save`).
///
/// ```swift
/// let writer = try TarWriter(fileDescriptor: fd, compression: .gzip)
/// try writer.addTree("/var/lib/berth/containers/x/upper", options: .init(overlayWhiteouts: true))
/// let result = try writer.finish()   // result.digest, result.diffID
/// ```
///
/// Output is reproducible: the same entries give the same bytes (no timestamps in the gzip
/// header, no user or group names, no padding to 10 KiB records).
public final class TarWriter {
  /// Receives the output, in pieces.
  public typealias Sink = (UnsafeRawBufferPointer) throws -> Void

  private let tar: OpaquePointer
  /// The raw-format archive that compresses the tar stream; nil without compression.
  private let compressor: OpaquePointer?
  private let sink: Sink
  private var written = StreamingDigest()
  private var uncompressed = StreamingDigest()
  private var sinkError: (any Error)?
  private var finished = false
  private let entry: OpaquePointer

  /// Writes to `fd` (not closed by the writer).
  public convenience init(fileDescriptor fd: Int32, compression: LayerCompression = .none, compressionLevel: Int? = nil) throws {
    try self.init(compression: compression, compressionLevel: compressionLevel) { bytes in
      guard let base = bytes.baseAddress else { return }
      var offset = 0
      while offset < bytes.count {
        let n = Glibc.write(fd, base + offset, bytes.count - offset)
        if n < 0 {
          if errno == EINTR { continue }
          throw BerthError.system("write tar")
        }
        offset += n
      }
    }
  }

  /// Hands the output to `sink`. `compressionLevel`: gzip 1-9 (default 6), zstd 1-19 (default 3).
  public init(compression: LayerCompression = .none, compressionLevel: Int? = nil, sink: @escaping Sink) throws {
    self.sink = sink
    guard let tar = archive_write_new(), let entry = archive_entry_new() else {
      throw BerthError(.internalError, "archive_write_new failed")
    }
    self.tar = tar
    self.entry = entry
    if compression != .none {
      guard let compressor = archive_write_new() else {
        archive_write_free(tar)
        archive_entry_free(entry)
        throw BerthError(.internalError, "archive_write_new failed")
      }
      self.compressor = compressor
    } else {
      compressor = nil
    }
    do {
      try setUp(compression: compression, level: compressionLevel)
    } catch {
      archive_write_free(tar)
      if let compressor { archive_write_free(compressor) }
      archive_entry_free(entry)
      throw error
    }
  }

  private func setUp(compression: LayerCompression, level: Int?) throws {
    let context = Unmanaged.passUnretained(self).toOpaque()
    if let compressor {
      // The compressed side: libarchive's "raw" format writes one entry's bytes as they are,
      // through the gzip or zstd filter. The tar side feeds it, so both digests come out.
      let filterName = compression == .gzip ? "gzip" : "zstd"
      guard archive_write_set_format_raw(compressor) == ARCHIVE_OK,
            (compression == .gzip ? archive_write_add_filter_gzip(compressor) : archive_write_add_filter_zstd(compressor)) == ARCHIVE_OK,
            archive_write_set_bytes_per_block(compressor, 64 << 10) == ARCHIVE_OK,
            archive_write_set_bytes_in_last_block(compressor, 1) == ARCHIVE_OK else {
        throw BerthError.libarchive(compressor, "set up \(filterName) compression")
      }
      if compression == .gzip, archive_write_set_filter_option(compressor, "gzip", "timestamp", nil) != ARCHIVE_OK {
        throw BerthError.libarchive(compressor, "leave the gzip timestamp out")
      }
      if let level, archive_write_set_filter_option(compressor, filterName, "compression-level", String(level)) != ARCHIVE_OK {
        throw BerthError.libarchive(compressor, "set compression level \(level)")
      }
      guard archive_write_open(compressor, context, nil, { _, context, buffer, length in
        guard let context, let buffer else { return -1 }
        return Unmanaged<TarWriter>.fromOpaque(context).takeUnretainedValue()
          .emit(UnsafeRawBufferPointer(start: buffer, count: length))
      }, nil) == ARCHIVE_OK else {
        throw BerthError.libarchive(compressor, "start \(filterName) stream")
      }
      let header = archive_entry_new()
      defer { archive_entry_free(header) }
      archive_entry_set_filetype(header, FileTypeBits.regular)
      archive_entry_set_pathname(header, "layer.tar")
      guard archive_write_header(compressor, header) == ARCHIVE_OK else {
        throw BerthError.libarchive(compressor, "start \(filterName) stream")
      }
    }
    guard archive_write_set_format_pax(tar) == ARCHIVE_OK,
          archive_write_set_format_option(tar, "pax", "xattrheader", "SCHILY") == ARCHIVE_OK,
          archive_write_set_bytes_per_block(tar, 64 << 10) == ARCHIVE_OK,
          archive_write_set_bytes_in_last_block(tar, 1) == ARCHIVE_OK else {
      throw BerthError.libarchive(tar, "set up tar writing")
    }
    guard archive_write_open(tar, context, nil, { _, context, buffer, length in
      guard let context, let buffer else { return -1 }
      return Unmanaged<TarWriter>.fromOpaque(context).takeUnretainedValue()
        .tarBytes(UnsafeRawBufferPointer(start: buffer, count: length))
    }, nil) == ARCHIVE_OK else {
      throw BerthError.libarchive(tar, "start tar stream")
    }
  }

  deinit {
    archive_write_free(tar)
    if let compressor { archive_write_free(compressor) }
    archive_entry_free(entry)
  }

  // MARK: output

  /// The tar stream's bytes: hashed (diffID), then compressed or written.
  private func tarBytes(_ bytes: UnsafeRawBufferPointer) -> Int {
    uncompressed.update(bytes)
    guard let compressor else { return emit(bytes) }
    guard let base = bytes.baseAddress else { return 0 }
    var offset = 0
    while offset < bytes.count {
      let n = archive_write_data(compressor, base + offset, bytes.count - offset)
      if n <= 0 { return -1 }
      offset += n
    }
    return bytes.count
  }

  /// The final bytes: hashed (blob digest) and handed to the sink.
  private func emit(_ bytes: UnsafeRawBufferPointer) -> Int {
    if sinkError != nil { return -1 }
    written.update(bytes)
    do {
      try sink(bytes)
    } catch {
      sinkError = error
      return -1
    }
    return bytes.count
  }

  /// The error to throw after libarchive failed: the sink's own when it was the sink.
  private func failure(_ archive: OpaquePointer, _ what: String) -> any Error {
    if let sinkError { return sinkError }
    if let compressor, archive_errno(compressor) != 0 || archive_error_string(compressor) != nil {
      return BerthError.libarchive(compressor, what)
    }
    return BerthError.libarchive(archive, what)
  }

  // MARK: entries

  /// Adds a member without content: a directory, link, device, fifo, or empty file.
  public func add(_ entry: TarEntry) throws {
    guard entry.kind != .regular || entry.size == 0 else {
      throw BerthError(.invalidArgument, "tar member \(quoted(entry.path)) has size \(entry.size) but no content")
    }
    try writeHeader(entry, path: Array(entry.path.utf8))
  }

  /// Adds a regular file with `contents` (its size is taken from them).
  public func add(_ entry: TarEntry, contents: [UInt8]) throws {
    var header = entry
    header.kind = .regular
    header.size = Int64(contents.count)
    try writeHeader(header, path: Array(entry.path.utf8))
    try contents.withUnsafeBytes { try writeData($0, path: entry.path) }
  }

  /// Adds a regular file of `entry.size` bytes read from `fd` (from its current offset).
  public func add(_ entry: TarEntry, contentsOf fd: Int32) throws {
    try writeHeader(entry, path: Array(entry.path.utf8))
    try copyContent(from: fd, size: entry.size, path: entry.path)
  }

  /// Adds an OCI whiteout for `path` ("dir/name" → an empty "dir/.wh.name"): the layer deletes
  /// `path` of the layers below.
  public func addWhiteout(_ path: String, mtime: Int64 = 0) throws {
    let cleaned = try EntryPath(cleaning: path)
    guard !cleaned.isRoot else { throw BerthError(.invalidArgument, "cannot white out the root directory") }
    let bytes = Array(cleaned.parent) + (cleaned.parent.isEmpty ? [] : [UInt8(ascii: "/")]) + Array(".wh.".utf8) + Array(cleaned.name)
    try writeHeader(TarEntry(path: "", kind: .regular, mode: 0, mtime: mtime), path: bytes)
  }

  /// Adds the OCI opaque marker of `directory` ("dir/.wh..wh..opq"): the layers below
  /// contribute nothing to it.
  public func addOpaqueMarker(directory: String, mtime: Int64 = 0) throws {
    let cleaned = try EntryPath(cleaning: directory)
    let bytes = cleaned.bytes + (cleaned.isRoot ? [] : [UInt8(ascii: "/")]) + Array(".wh..wh..opq".utf8)
    try writeHeader(TarEntry(path: "", kind: .regular, mode: 0, mtime: mtime), path: bytes)
  }

  /// Ends the archive (end-of-archive blocks, compressed stream trailer) and returns the
  /// digests. The writer takes no entries after this.
  public func finish() throws -> TarWriteResult {
    try checkOpen()
    finished = true
    if archive_write_close(tar) != ARCHIVE_OK { throw failure(tar, "finish tar stream") }
    if let compressor, archive_write_close(compressor) != ARCHIVE_OK {
      throw failure(compressor, "finish compressed stream")
    }
    if let sinkError { throw sinkError }
    return TarWriteResult(
      digest: written.finalize(), size: written.byteCount,
      diffID: uncompressed.finalize(), uncompressedSize: uncompressed.byteCount)
  }

  // MARK: internals

  private func checkOpen() throws {
    if finished { throw BerthError(.invalidState, "tar writer already finished") }
  }

  /// Writes a header for `entry` named by the raw bytes `path` (file names need not be UTF-8).
  /// `linkTarget` overrides `entry.linkTarget` with raw bytes.
  func writeHeader(_ entry: TarEntry, path: [UInt8], linkTarget: [UInt8]? = nil) throws {
    try checkOpen()
    var name = path
    if entry.kind == .directory && name.last != UInt8(ascii: "/") { name.append(UInt8(ascii: "/")) }
    let header = self.entry
    archive_entry_clear(header)
    withCPath(name) { archive_entry_copy_pathname(header, $0) }
    archive_entry_set_filetype(header, entry.kind.fileType)
    archive_entry_set_perm(header, mode_t(entry.mode & 0o7777))
    archive_entry_set_uid(header, la_int64_t(entry.uid))
    archive_entry_set_gid(header, la_int64_t(entry.gid))
    archive_entry_set_mtime(header, time_t(entry.mtime), Int(entry.mtimeNanoseconds))
    archive_entry_set_size(header, entry.kind == .regular ? la_int64_t(entry.size) : 0)
    switch entry.kind {
    case .symlink, .hardlink:
      guard let target = linkTarget ?? entry.linkTarget.map({ Array($0.utf8) }) else {
        throw BerthError(.invalidArgument, "link \(quoted(String(decoding: path, as: UTF8.self))) has no target")
      }
      if entry.kind == .symlink {
        withCPath(target) { archive_entry_copy_symlink(header, $0) }
      } else {
        withCPath(target) { archive_entry_copy_hardlink(header, $0) }
      }
    case .characterDevice, .blockDevice:
      archive_entry_set_rdevmajor(header, dev_t(entry.deviceMajor))
      archive_entry_set_rdevminor(header, dev_t(entry.deviceMinor))
    default:
      break
    }
    for name in entry.xattrs.keys.sorted() {
      guard let value = entry.xattrs[name] else { continue }
      value.withUnsafeBytes { archive_entry_xattr_add_entry(header, name, $0.baseAddress, $0.count) }
    }
    let status = withUTF8Locale { archive_write_header(tar, header) }
    if !succeeded(status) {
      throw failure(tar, "write tar header of \(quoted(String(decoding: path, as: UTF8.self)))")
    }
  }

  /// Writes content for the member whose header was just written.
  func writeData(_ bytes: UnsafeRawBufferPointer, path: String) throws {
    guard let base = bytes.baseAddress else { return }
    var offset = 0
    while offset < bytes.count {
      let n = archive_write_data(tar, base + offset, bytes.count - offset)
      if n <= 0 { throw failure(tar, "write content of \(quoted(path))") }
      offset += n
    }
  }

  /// Copies exactly `size` bytes from `fd` as the current member's content.
  func copyContent(from fd: Int32, size: Int64, path: String) throws {
    guard size > 0 else { return }
    let chunk = Int(min(size, 256 << 10))
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
    defer { buffer.deallocate() }
    var remaining = size
    while remaining > 0 {
      let wanted = Int(min(Int64(chunk), remaining))
      let n = Glibc.read(fd, buffer.baseAddress, wanted)
      if n < 0 {
        if errno == EINTR { continue }
        throw BerthError.system("read \(path)")
      }
      if n == 0 {
        throw BerthError(.invalidState, "\(path) is shorter than its \(size) bytes (did it change while being archived?)")
      }
      try writeData(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), path: path)
      remaining -= Int64(n)
    }
  }
}
