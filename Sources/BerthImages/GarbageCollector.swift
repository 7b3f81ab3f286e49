import BerthJSON
import BerthOCI
import BerthOS
import Foundation
import GRDB

/// What `image prune` removed.
public struct PruneReport: Sendable, Equatable {
  public var removed: [RemovalEvent] = []
  public var blobs = 0
  public var layers = 0
  /// Bytes freed on disk (blobs and unpacked layers).
  public var reclaimed: Int64 = 0
}

extension ImageStore {
  /// `berth image prune [-a]`: removes dangling images (no tag), or with `all` every image no
  /// container uses, then collects garbage.
  public func prune(all: Bool) async throws -> PruneReport {
    let lock = try await FileLock.acquire(layout.storeLock)
    defer { lock.release() }
    var report = PruneReport()
    for image in try images() {
      let dangling = image.tags.isEmpty
      guard all || dangling, try users(of: image.id).isEmpty else { continue }
      for tag in image.tags { report.removed.append(.untagged(ImageReference.familiar(tag))) }
      for digest in image.repoDigests { report.removed.append(.untagged(ImageReference.familiar(digest))) }
      try db.write { db in
        try db.execute(sql: "DELETE FROM image WHERE id = ?", arguments: [image.id.description])
      }
      report.removed.append(.deleted(image.id))
    }
    let collected = try collectGarbageLocked()
    report.blobs = collected.blobs
    report.layers = collected.layers
    report.reclaimed = collected.bytes
    return report
  }

  /// Removes blobs and layers no image references, and leftovers of interrupted pulls.
  /// Takes the store lock exclusively: no pull or push runs meanwhile.
  public func collectGarbage() async throws -> PruneReport {
    let lock = try await FileLock.acquire(layout.storeLock)
    defer { lock.release() }
    let collected = try collectGarbageLocked()
    return PruneReport(blobs: collected.blobs, layers: collected.layers, reclaimed: collected.bytes)
  }

  /// The mark and sweep, with the store lock held.
  func collectGarbageLocked() throws -> (blobs: Int, layers: Int, bytes: Int64) {
    var liveBlobs = Set<String>()
    var liveLayers = Set<String>()
    for image in try images() {
      liveBlobs.insert(image.manifestDigest.encoded)
      liveBlobs.insert(image.id.encoded)
      if let manifest = try? manifest(of: image) {
        for layer in manifest.layers { liveBlobs.insert(try Digest(parsing: layer.digest).encoded) }
      }
      for chainID in (try? chainIDs(of: image)) ?? [] { liveLayers.insert(chainID.encoded) }
    }
    let extra = try db.read { db in try String.fetchAll(db, sql: "SELECT digest FROM imageBlob") }
    for digest in extra { liveBlobs.insert(try Digest(parsing: digest).encoded) }

    var removedBlobs = 0, removedLayers = 0
    var bytes: Int64 = 0
    for name in try FS.list(layout.blobs) where !liveBlobs.contains(name) {
      bytes += diskUsage(layout.blobs + "/" + name)
      try FS.removeTree(layout.blobs + "/" + name)
      try db.write { db in
        try db.execute(sql: "DELETE FROM blob WHERE digest = ?", arguments: ["sha256:" + name])
      }
      removedBlobs += 1
    }
    for name in try FS.list(layout.ingest) {
      bytes += diskUsage(layout.ingest + "/" + name)
      try FS.removeTree(layout.ingest + "/" + name)
    }
    for name in try FS.list(layout.layers) {
      let path = layout.layers + "/" + name
      if name.hasSuffix(".lock") {
        // Locks of layers that are gone; a held lock means a pull (which holds the store lock
        // too, so there is none now).
        if !liveLayers.contains(String(name.dropLast(".lock".count))) { unlink(path) }
        continue
      }
      guard !liveLayers.contains(name) else { continue }
      bytes += diskUsage(path)
      try FS.removeTree(path)
      if !name.hasPrefix(".tmp-") {
        try db.write { db in
          try db.execute(sql: "DELETE FROM layer WHERE chainID = ?", arguments: ["sha256:" + name])
        }
        removedLayers += 1
      }
    }
    return (removedBlobs, removedLayers, bytes)
  }

  /// Bytes a file or tree takes on disk.
  public func diskUsage(_ path: String) -> Int64 {
    guard let info = try? FS.lstatIfPresent(path) else { return 0 }
    var total = Int64(info.st_blocks) * 512
    if (info.st_mode & S_IFMT) == S_IFDIR, let names = try? FS.list(path) {
      for name in names { total += diskUsage(path + "/" + name) }
    }
    return total
  }
}
