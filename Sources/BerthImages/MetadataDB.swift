import BerthOCI
import BerthOS
import Foundation
import GRDB
import GRDBSQLite

/// The store's metadata in SQLite (WAL, busy timeout): many `berth` processes may use one
/// store at once, so every change is one transaction.
public final class MetadataDB: Sendable {
  let queue: DatabaseQueue

  public init(path: String) throws {
    var config = Configuration()
    config.journalMode = .wal
    config.busyMode = .timeout(30)
    config.label = "berth"
    config.prepareDatabase { db in
      // In WAL mode NORMAL cannot corrupt the database; a power cut may lose the last
      // transactions, which every command re-checks against the disk anyway. FULL costs an
      // fdatasync per transaction: four per `run --rm`.
      try db.execute(sql: "PRAGMA synchronous = NORMAL")
      // Keep the WAL and shm files between processes: each short-lived `berth` would
      // otherwise create and delete them again.
      var persist: Int32 = 1
      _ = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)
    }
    // Several processes may open a new store at once: one at a time sets it up (WAL mode,
    // tables), under a lock beside the database.
    let lockFD = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    if lockFD >= 0 { while flock(lockFD, LOCK_EX) != 0 && errno == EINTR {} }
    defer { if lockFD >= 0 { close(lockFD) } }
    do {
      queue = try DatabaseQueue(path: path, configuration: config)
      // Up to date (the usual case): a read, no write transaction.
      if try !queue.read(MetadataDB.migrator.hasCompletedMigrations) {
        try MetadataDB.migrator.migrate(queue)
      }
    } catch {
      throw BerthError(.internalError, "open the metadata database \(path): \(error)")
    }
  }

  static var migrator: DatabaseMigrator {
    var migrator = DatabaseMigrator()
    migrator.registerMigration("v1") { db in
      // Blobs in content/blobs: manifests, indexes, configs, layer blobs.
      try db.create(table: "blob") { t in
        t.primaryKey("digest", .text)
        t.column("size", .integer).notNull()
        t.column("mediaType", .text).notNull()
        t.column("added", .double).notNull()
      }
      // Unpacked layers, by chain ID.
      try db.create(table: "layer") { t in
        t.primaryKey("chainID", .text)
        t.column("diffID", .text).notNull()
        t.column("parent", .text)
        t.column("size", .integer).notNull()
        t.column("added", .double).notNull()
      }
      // Which compressed blobs are known to hold a diffID, and in which repositories: push
      // skips or mounts blobs a registry already has.
      try db.create(table: "layerSource") { t in
        t.column("diffID", .text).notNull()
        t.column("blobDigest", .text).notNull()
        t.column("repository", .text).notNull()
        t.primaryKey(["diffID", "blobDigest", "repository"])
      }
      // Images, by ID (the config blob's digest, as Docker names them).
      try db.create(table: "image") { t in
        t.primaryKey("id", .text)
        t.column("manifestDigest", .text).notNull()
        t.column("platform", .text).notNull()
        t.column("size", .integer).notNull()
        t.column("created", .text)
        t.column("added", .double).notNull()
      }
      // name:tag → image (full names: docker.io/library/busybox:latest).
      try db.create(table: "tag") { t in
        t.primaryKey("name", .text)
        t.column("imageID", .text).notNull().references("image", onDelete: .cascade)
        t.column("tagged", .double).notNull()
      }
      // repository@digest of what was pulled (an index or a manifest) → image.
      try db.create(table: "repoDigest") { t in
        t.column("repository", .text).notNull()
        t.column("digest", .text).notNull()
        t.column("imageID", .text).notNull().references("image", onDelete: .cascade)
        t.primaryKey(["repository", "digest"])
      }
      // Blobs an image needs beyond its manifest's (the index it was pulled through).
      try db.create(table: "imageBlob") { t in
        t.column("imageID", .text).notNull().references("image", onDelete: .cascade)
        t.column("digest", .text).notNull()
        t.primaryKey(["imageID", "digest"])
      }
      // Holders of an image (containers, builds): an image in use is not removed without -f.
      try db.create(table: "imageUser") { t in
        t.column("imageID", .text).notNull()
        t.column("holder", .text).notNull()
        t.primaryKey(["imageID", "holder"])
      }
    }
    migrator.registerMigration("v2-engine") { db in
      // Containers: the columns that are looked up or kept unique, and the whole record as
      // JSON (BerthEngine's ContainerRecord). What changes while a container runs (its pid,
      // exit code, health) is in files the monitor writes, not here.
      try db.create(table: "container") { t in
        t.primaryKey("id", .text)
        t.column("name", .text).notNull().unique()
        t.column("imageID", .text)
        t.column("created", .double).notNull()
        t.column("record", .text).notNull()
      }
      // Volumes (BerthEngine's VolumeRecord as JSON) and the containers that use each.
      try db.create(table: "volume") { t in
        t.primaryKey("name", .text)
        t.column("created", .double).notNull()
        t.column("record", .text).notNull()
      }
      try db.create(table: "volumeUser") { t in
        t.column("volume", .text).notNull().references("volume", onDelete: .cascade)
        t.column("container", .text).notNull()
        t.primaryKey(["volume", "container"])
      }
    }
    return migrator
  }

  public func read<T>(_ body: (Database) throws -> T) throws -> T {
    do { return try queue.read(body) } catch let error as BerthError { throw error } catch {
      throw BerthError(.internalError, "read the metadata database: \(error)")
    }
  }

  public func write<T>(_ body: (Database) throws -> T) throws -> T {
    do { return try queue.write(body) } catch let error as BerthError { throw error } catch {
      throw BerthError(.internalError, "write the metadata database: \(error)")
    }
  }
}
