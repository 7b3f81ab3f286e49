import BerthOCI
import BerthOS
import Crypto
import Foundation
import GRDB

/// Content-addressed blobs (manifests, configs, layer blobs), verified on the way in.
public struct ContentStore: Sendable {
  public let layout: StoreLayout
  public let db: MetadataDB

  public func contains(_ digest: Digest) -> Bool { FS.exists(layout.blob(digest)) }

  public func read(_ digest: Digest) throws -> [UInt8] {
    do { return try FS.read(layout.blob(digest)) } catch let error as BerthError where error.errno == ENOENT {
      throw BerthError(.notFound, "blob \(digest) is not in the store")
    }
  }

  /// Stores `bytes` (a manifest, a config): returns their digest. Storing what is there is a no-op.
  @discardableResult
  public func put(_ bytes: [UInt8], mediaType: String) throws -> Digest {
    let digest = Digest(sha256Of: bytes)
    if !contains(digest) {
      let writer = try BlobWriter(layout: layout, expected: digest, expectedSize: Int64(bytes.count))
      try writer.write(bytes)
      try writer.commit()
    }
    try record(digest, size: Int64(bytes.count), mediaType: mediaType)
    return digest
  }

  /// Records a blob that is in content/blobs.
  public func record(_ digest: Digest, size: Int64, mediaType: String) throws {
    try db.write { db in
      try db.execute(
        sql: "INSERT OR IGNORE INTO blob (digest, size, mediaType, added) VALUES (?, ?, ?, ?)",
        arguments: [digest.description, size, mediaType, Date().timeIntervalSince1970])
    }
  }

  /// Removes a blob and its record (unused blobs: the caller knows no image needs it).
  public func remove(_ digest: Digest) throws {
    if unlink(layout.blob(digest)) != 0 && errno != ENOENT { throw BerthError.system("remove blob \(digest)") }
    try db.write { db in
      try db.execute(sql: "DELETE FROM blob WHERE digest = ?", arguments: [digest.description])
    }
  }

  /// A writer for a blob expected to have `digest` (nil: whatever it turns out to be).
  public func ingest(expected digest: Digest?, size: Int64?) throws -> BlobWriter {
    try BlobWriter(layout: layout, expected: digest, expectedSize: size)
  }
}

/// Writes a blob to content/ingest while hashing it, then moves it into content/blobs if
/// the digest (and size) are right. Nothing partial ever appears in content/blobs.
public final class BlobWriter: @unchecked Sendable {
  let layout: StoreLayout
  let expected: Digest?
  let expectedSize: Int64?
  let temporary: String
  private var fd: Int32
  private var hasher = SHA256()
  public private(set) var size: Int64 = 0

  init(layout: StoreLayout, expected: Digest?, expectedSize: Int64?) throws {
    self.layout = layout
    self.expected = expected
    self.expectedSize = expectedSize
    temporary = layout.ingest + "/" + UUID().uuidString
    fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    if fd < 0 { throw BerthError.system("create \(temporary)") }
  }

  deinit { abort() }

  public func write(_ bytes: UnsafeRawBufferPointer) throws {
    hasher.update(bufferPointer: bytes)
    size += Int64(bytes.count)
    if let expectedSize, size > expectedSize {
      throw BerthError(.invalidArgument, "blob \(expected.map(\.description) ?? "") is larger than its \(expectedSize) bytes")
    }
    var offset = 0
    while offset < bytes.count {
      guard let base = bytes.baseAddress else { return }
      let n = Glibc.write(fd, base + offset, bytes.count - offset)
      if n < 0 {
        if errno == EINTR { continue }
        throw BerthError.system("write \(temporary)")
      }
      offset += n
    }
  }

  public func write(_ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { try write($0) }
  }

  /// Verifies and moves the blob into place; returns its digest.
  @discardableResult
  public func commit() throws -> Digest {
    let digest = Digest(sha256: hasher.finalize())
    defer { abort() }
    if let expected, expected != digest {
      throw BerthError(.digestMismatch, "blob digest mismatch: expected \(expected), got \(digest)")
    }
    if let expectedSize, expectedSize != size {
      throw BerthError(.digestMismatch, "blob \(digest) has \(size) bytes, the manifest says \(expectedSize)")
    }
    try check("close \(temporary)") { close(fd) }
    fd = -1
    try check("move \(digest) into the store") { rename(temporary, layout.blob(digest)) }
    return digest
  }

  /// Drops what was written (idempotent).
  public func abort() {
    if fd >= 0 {
      close(fd)
      fd = -1
    }
    unlink(temporary)
  }
}

extension BerthError.Code {
  /// Content did not hash to the digest that names it.
  public static let digestMismatch = BerthError.Code("digestMismatch")
}

extension Digest {
  public init(sha256: SHA256.Digest) {
    self.init(algorithm: "sha256", encoded: sha256.map { String(format: "%02x", $0) }.joined())
  }

  public init(sha256Of bytes: [UInt8]) {
    self.init(sha256: SHA256.hash(data: bytes))
  }
}
