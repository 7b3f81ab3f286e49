import BerthOCI
import BerthOS
import CArchive

#if canImport(Glibc)
  import Glibc
#endif

/// The uncompressed bytes of a compressed file, streamed: a gzip or zstd layer blob becomes
/// the plain tar that `docker save` archives hold.
public enum RawDecompression {
  /// Calls `body` with the file's content, decompressed (gzip, zstd, or none: detected).
  /// Returns the number of bytes produced.
  @discardableResult
  public static func stream(file path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
    guard let archive = archive_read_new() else { throw BerthError(.internalError, "archive_read_new failed") }
    defer { archive_read_free(archive) }
    // Only what layers use: other filters may run external programs.
    archive_read_support_filter_gzip(archive)
    archive_read_support_filter_zstd(archive)
    archive_read_support_format_raw(archive)
    guard archive_read_open_filename(archive, path, 1 << 20) == ARCHIVE_OK else {
      throw BerthError.libarchive(archive, "open \(path)")
    }
    var entry: OpaquePointer?
    let status = archive_read_next_header(archive, &entry)
    if status == ARCHIVE_EOF { return 0 }
    guard status == ARCHIVE_OK || status == ARCHIVE_WARN else { throw BerthError.libarchive(archive, "read \(path)") }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var total: Int64 = 0
    while true {
      let n = buffer.withUnsafeMutableBytes { raw in archive_read_data(archive, raw.baseAddress, raw.count) }
      if n < 0 { throw BerthError.libarchive(archive, "decompress \(path)") }
      if n == 0 { return total }
      total += Int64(n)
      try buffer.withUnsafeBytes { raw in try body(UnsafeRawBufferPointer(rebasing: raw[0..<n])) }
    }
  }
}
