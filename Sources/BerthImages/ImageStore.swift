import BerthJSON
import BerthOCI
import BerthOS
import Foundation
import GRDB

/// An image in the store.
public struct ImageRecord: Sendable, Equatable {
  /// The config blob's digest (Docker's image ID).
  public var id: Digest
  public var manifestDigest: Digest
  public var platform: String
  /// Unpacked size of all its layers.
  public var size: Int64
  public var created: String?
  public var added: Double
  /// Full names, "docker.io/library/busybox:latest".
  public var tags: [String]
  /// "docker.io/library/busybox@sha256:…" of what it was pulled as.
  public var repoDigests: [String]
}

/// What removing images did, in Docker's words ("Untagged: …", "Deleted: …").
public enum RemovalEvent: Sendable, Equatable, CustomStringConvertible {
  case untagged(String)
  case deleted(Digest)

  public var description: String {
    switch self {
    case .untagged(let name): return "Untagged: \(name)"
    case .deleted(let id): return "Deleted: \(id)"
    }
  }
}

/// The image store: content, layers and image records under one root.
public final class ImageStore: Sendable {
  public let layout: StoreLayout
  public let db: MetadataDB
  public let content: ContentStore
  public let layers: LayerStore

  public init(root: String = StoreLayout.defaultRoot) throws {
    layout = StoreLayout(root: root)
    try layout.prepare()
    db = try MetadataDB(path: layout.database)
    content = ContentStore(layout: layout, db: db)
    layers = LayerStore(layout: layout, db: db)
  }

  // MARK: reading

  public func images() throws -> [ImageRecord] {
    try db.read { db in
      let rows = try Row.fetchAll(db, sql: "SELECT * FROM image ORDER BY added DESC")
      return try rows.map { try Self.record(from: $0, db: db) }
    }
  }

  public func image(id: Digest) throws -> ImageRecord? {
    try db.read { db in
      guard let row = try Row.fetchOne(db, sql: "SELECT * FROM image WHERE id = ?", arguments: [id.description]) else {
        return nil
      }
      return try Self.record(from: row, db: db)
    }
  }

  static func record(from row: Row, db: Database) throws -> ImageRecord {
    let id: String = row["id"]
    let tags = try String.fetchAll(db, sql: "SELECT name FROM tag WHERE imageID = ? ORDER BY tagged", arguments: [id])
    let digests = try Row.fetchAll(
      db, sql: "SELECT repository, digest FROM repoDigest WHERE imageID = ? ORDER BY repository", arguments: [id])
    return ImageRecord(
      id: try Digest(parsing: id), manifestDigest: try Digest(parsing: row["manifestDigest"]),
      platform: row["platform"], size: row["size"], created: row["created"], added: row["added"], tags: tags,
      repoDigests: digests.map { (row: Row) -> String in "\(row["repository"] as String)@\(row["digest"] as String)" })
  }

  /// Finds an image the way Docker does: a reference (`busybox`, `busybox:1.36`,
  /// `localhost:5000/x@sha256:…`), a full ID (`sha256:…`), or a unique ID prefix.
  public func resolve(_ text: String) throws -> ImageRecord {
    if let reference = try? ImageReference.parse(text) {
      if let digest = reference.digest {
        let id = try db.read { db in
          try String.fetchOne(
            db, sql: "SELECT imageID FROM repoDigest WHERE repository = ? AND digest = ?",
            arguments: [reference.repository, digest.description])
        }
        if let id, let image = try image(id: try Digest(parsing: id)) { return image }
      } else if let id = try imageID(forTag: reference.tagged.description), let image = try image(id: id) {
        return image
      }
    }
    var prefix = text.lowercased()
    if prefix.hasPrefix("sha256:") { prefix.removeFirst("sha256:".count) }
    if !prefix.isEmpty, prefix.utf8.count <= 64, prefix.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) {
      let matches = try db.read { db in
        try String.fetchAll(db, sql: "SELECT id FROM image WHERE id LIKE ?", arguments: ["sha256:\(prefix)%"])
      }
      if matches.count == 1, let image = try image(id: try Digest(parsing: matches[0])) { return image }
      if matches.count > 1 {
        throw BerthError(.invalidArgument, "image ID prefix \(quoted(text)) is ambiguous: \(matches.count) images match; give more digits")
      }
    }
    throw BerthError(.notFound, "No such image: \(text)")
  }

  public func imageID(forTag name: String) throws -> Digest? {
    try db.read { db in
      try String.fetchOne(db, sql: "SELECT imageID FROM tag WHERE name = ?", arguments: [name])
    }.map { try Digest(parsing: $0) }
  }

  public func manifest(of image: ImageRecord) throws -> Manifest {
    try JSON.decode(Manifest.self, from: content.read(image.manifestDigest))
  }

  /// The config as stored (bytes) and decoded.
  public func config(of image: ImageRecord) throws -> (config: ImageConfig, bytes: [UInt8]) {
    let bytes = try content.read(image.id)
    return (try JSON.decode(ImageConfig.self, from: bytes), bytes)
  }

  /// The chain IDs of an image's layers, bottom first.
  public func chainIDs(of image: ImageRecord) throws -> [Digest] {
    let config = try config(of: image).config
    return LayerStore.chainIDs(try config.rootfs.diff_ids.map { try Digest(parsing: $0) })
  }

  /// The unpacked directories of an image's layers, bottom first (overlay wants them top first).
  public func layerDirectories(of image: ImageRecord) throws -> [String] {
    try chainIDs(of: image).map { layout.layerDiff($0) }
  }

  // MARK: changing

  /// Records an image whose blobs and layers are all in the store, and tags it. One
  /// transaction: readers see all of it or none. Tags move to this image.
  public func addImage(
    config: ImageConfig, configDigest: Digest, manifestDigest: Digest, tags: [String],
    repoDigests: [(repository: String, digest: Digest)], extraBlobs: [Digest] = []
  ) throws -> ImageRecord {
    let chainIDs = LayerStore.chainIDs(try config.rootfs.diff_ids.map { try Digest(parsing: $0) })
    var size: Int64 = 0
    for chainID in chainIDs { size += try layers.size(chainID) }
    let now = Date().timeIntervalSince1970
    try db.write { db in
      try db.execute(
        sql: """
          INSERT INTO image (id, manifestDigest, platform, size, created, added) VALUES (?, ?, ?, ?, ?, ?)
          ON CONFLICT(id) DO UPDATE SET manifestDigest = excluded.manifestDigest
          """,
        arguments: [configDigest.description, manifestDigest.description, config.platform.description, size,
                    config.created, now])
      for name in tags {
        try db.execute(
          sql: "INSERT OR REPLACE INTO tag (name, imageID, tagged) VALUES (?, ?, ?)",
          arguments: [name, configDigest.description, now])
      }
      for entry in repoDigests {
        try db.execute(
          sql: "INSERT OR REPLACE INTO repoDigest (repository, digest, imageID) VALUES (?, ?, ?)",
          arguments: [entry.repository, entry.digest.description, configDigest.description])
      }
      for blob in extraBlobs {
        try db.execute(
          sql: "INSERT OR IGNORE INTO imageBlob (imageID, digest) VALUES (?, ?)",
          arguments: [configDigest.description, blob.description])
      }
    }
    guard let record = try image(id: configDigest) else {
      throw BerthError(.internalError, "image \(configDigest) vanished right after it was added")
    }
    return record
  }

  /// `berth tag SOURCE TARGET`.
  public func tag(_ source: String, as target: String) throws {
    let image = try resolve(source)
    let reference = try ImageReference.parse(target)
    guard reference.digest == nil else {
      throw BerthError(.invalidArgument, "refusing to create a tag with a digest reference: \(target)")
    }
    try db.write { db in
      try db.execute(
        sql: "INSERT OR REPLACE INTO tag (name, imageID, tagged) VALUES (?, ?, ?)",
        arguments: [reference.tagged.description, image.id.description, Date().timeIntervalSince1970])
    }
  }

  /// The holders (containers) using an image.
  public func users(of id: Digest) throws -> [String] {
    try db.read { db in
      try String.fetchAll(db, sql: "SELECT holder FROM imageUser WHERE imageID = ?", arguments: [id.description])
    }
  }

  /// `berth rmi`: by name, untags (and deletes the image when it was the last tag); by ID,
  /// deletes the image (with -f even when it has several tags). An image in use by a
  /// container is refused unless `force`.
  public func remove(_ text: String, force: Bool) throws -> [RemovalEvent] {
    let image = try resolve(text)
    var events: [RemovalEvent] = []
    let byName = (try? ImageReference.parse(text)).map { reference in
      image.tags.contains(reference.tagged.description) || image.repoDigests.contains(reference.description)
    } ?? false
    let holders = try users(of: image.id)
    if byName && image.tags.count + image.repoDigests.count > 1 {
      // Only the name goes; the image stays under its other names.
      let name = try ImageReference.parse(text)
      try untag(name.tagged.description, digestName: name.digest != nil ? name.description : nil)
      return [.untagged(name.familiarString)]
    }
    if !byName && image.tags.count > 1 && !force {
      throw BerthError(
        .invalidState,
        "unable to delete \(image.id.shortID) (must be forced) - image is referenced in multiple repositories")
    }
    if !holders.isEmpty && !force {
      throw BerthError(
        .invalidState,
        "unable to remove image \(text) (\(image.id.shortID)): it is used by container\(holders.count > 1 ? "s" : "") \(holders.map { String($0.prefix(12)) }.joined(separator: ", ")); stop and remove \(holders.count > 1 ? "them" : "it") first, or use -f")
    }
    for tag in image.tags { events.append(.untagged(ImageReference.familiar(tag))) }
    for digest in image.repoDigests { events.append(.untagged(ImageReference.familiar(digest))) }
    try db.write { db in
      if holders.isEmpty {
        try db.execute(sql: "DELETE FROM image WHERE id = ?", arguments: [image.id.description])
      } else {
        // Forced while containers use it: the names go, the image (and its layers) stay,
        // dangling, until the last container is removed.
        try db.execute(sql: "DELETE FROM tag WHERE imageID = ?", arguments: [image.id.description])
        try db.execute(sql: "DELETE FROM repoDigest WHERE imageID = ?", arguments: [image.id.description])
      }
    }
    if holders.isEmpty { events.append(.deleted(image.id)) }
    return events
  }

  private func untag(_ name: String, digestName: String?) throws {
    try db.write { db in
      if let digestName, let at = digestName.lastIndex(of: "@") {
        try db.execute(
          sql: "DELETE FROM repoDigest WHERE repository = ? AND digest = ?",
          arguments: [String(digestName[..<at]), String(digestName[digestName.index(after: at)...])])
      } else {
        try db.execute(sql: "DELETE FROM tag WHERE name = ?", arguments: [name])
      }
    }
  }
}

extension Digest {
  /// The 12 hex digits `images` shows.
  public var shortID: String { String(encoded.prefix(12)) }
}
