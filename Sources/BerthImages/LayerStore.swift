import BerthArchive
import BerthOCI
import BerthOS
import Crypto
import Foundation
import GRDB

/// Unpacked layers, each once, by chain ID: `layers/<chain-id>/diff` holds one layer's files
/// (with overlay whiteouts), to be stacked as overlay lowerdirs.
public struct LayerStore: Sendable {
  public let layout: StoreLayout
  public let db: MetadataDB

  /// Chain IDs of a stack of layers: the first is its diffID, each next one is
  /// sha256("<parent chain ID> <diffID>") (image-spec config.md).
  public static func chainIDs(_ diffIDs: [Digest]) -> [Digest] {
    var result: [Digest] = []
    for diffID in diffIDs {
      if let parent = result.last {
        result.append(Digest(sha256Of: Array("\(parent) \(diffID)".utf8)))
      } else {
        result.append(diffID)
      }
    }
    return result
  }

  public func contains(_ chainID: Digest) throws -> Bool {
    let known = try db.read { db in
      try Bool.fetchOne(db, sql: "SELECT 1 FROM layer WHERE chainID = ?", arguments: [chainID.description]) ?? false
    }
    return known && FS.isDirectory(layout.layerDiff(chainID))
  }

  /// The unpacked size of a layer.
  public func size(_ chainID: Digest) throws -> Int64 {
    try db.read { db in
      try Int64.fetchOne(db, sql: "SELECT size FROM layer WHERE chainID = ?", arguments: [chainID.description]) ?? 0
    }
  }

  /// Unpacks a layer unless it is there: `fill` feeds the unpacker (the blob's bytes); the
  /// result must have `diffID`. Holds the layer's lock (other processes wait, then find it
  /// done). Returns false when the layer was there already.
  @discardableResult
  public func unpack(
    chainID: Digest, diffID: Digest, parent: Digest?, compression: LayerCompression?,
    fill: (LayerUnpacker) async throws -> Void
  ) async throws -> Bool {
    let lock = try await FileLock.acquire(layout.layerLock(chainID))
    defer { lock.release() }
    if try contains(chainID) { return false }
    let staging = layout.layers + "/.tmp-" + UUID().uuidString
    let diff = staging + "/diff"
    try FS.makeDirectories(diff, mode: 0o755)
    do {
      let unpacker = try LayerUnpacker(destination: diff, compression: compression)
      do {
        try await fill(unpacker)
      } catch {
        await unpacker.cancel()
        throw error
      }
      let result = try await unpacker.finish()
      guard result.diffID == diffID else {
        throw BerthError(
          .digestMismatch,
          "layer unpacks to \(result.diffID), but the image config says \(diffID) (the image is damaged)")
      }
      try adopt(staging, chainID: chainID, diffID: diffID, parent: parent, size: result.uncompressedSize)
      return true
    } catch {
      try? FS.removeTree(staging)
      throw error
    }
  }

  /// Moves an unpacked layer (`staging/diff`) into place and records it. The caller holds the
  /// layer's lock or knows no one else can make it.
  public func adopt(_ staging: String, chainID: Digest, diffID: Digest, parent: Digest?, size: Int64) throws {
    try? FS.removeTree(layout.layer(chainID))  // a leftover without a record
    try check("move layer \(chainID) into place") { rename(staging, layout.layer(chainID)) }
    try db.write { db in
      try db.execute(
        sql: "INSERT OR REPLACE INTO layer (chainID, diffID, parent, size, added) VALUES (?, ?, ?, ?, ?)",
        arguments: [chainID.description, diffID.description, parent?.description, size, Date().timeIntervalSince1970])
    }
  }

  /// Notes that `blob` (in `repository`) holds the layer `diffID`, for push.
  public func recordSource(diffID: Digest, blob: Digest, repository: String) throws {
    try db.write { db in
      try db.execute(
        sql: "INSERT OR IGNORE INTO layerSource (diffID, blobDigest, repository) VALUES (?, ?, ?)",
        arguments: [diffID.description, blob.description, repository])
    }
  }

  /// Repositories known to hold `blob`.
  public func sources(of blob: Digest) throws -> [String] {
    try db.read { db in
      try String.fetchAll(db, sql: "SELECT repository FROM layerSource WHERE blobDigest = ?", arguments: [blob.description])
    }
  }

  /// Removes a layer's files and record.
  public func remove(_ chainID: Digest) throws {
    try db.write { db in
      try db.execute(sql: "DELETE FROM layer WHERE chainID = ?", arguments: [chainID.description])
    }
    try FS.removeTree(layout.layer(chainID))
  }
}

/// An exclusive flock(2) on a file, shared across processes.
public final class FileLock: @unchecked Sendable {
  let fd: Int32

  private init(fd: Int32) { self.fd = fd }

  /// Waits (without blocking a thread) until the lock is free.
  public static func acquire(_ path: String, shared: Bool = false) async throws -> FileLock {
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    if fd < 0 { throw BerthError.system("open the lock \(path)") }
    let operation = (shared ? LOCK_SH : LOCK_EX) | LOCK_NB
    var delay: UInt64 = 5_000_000
    while flock(fd, operation) != 0 {
      guard errno == EWOULDBLOCK || errno == EINTR else {
        close(fd)
        throw BerthError.system("lock \(path)")
      }
      try await Task.sleep(nanoseconds: delay)
      delay = min(delay * 2, 200_000_000)
    }
    return FileLock(fd: fd)
  }

  /// Takes the lock now or returns nil.
  public static func tryAcquire(_ path: String, shared: Bool = false) throws -> FileLock? {
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    if fd < 0 { throw BerthError.system("open the lock \(path)") }
    if flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
      close(fd)
      return nil
    }
    return FileLock(fd: fd)
  }

  public func release() { close(fd) }
}
