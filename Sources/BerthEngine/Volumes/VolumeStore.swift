import BerthImages
import BerthOS
import Foundation
import GRDB

/// Docker-compatible local volumes: records in the store's database (`volume`, and the
/// containers using each in `volumeUser`), content in `<root>/volumes/<name>/_data`.
///
/// Many `berth` processes may use one store at once. Each change to the database is one
/// transaction; a per-volume lock (``VolumeLock``) orders what the database cannot: creating
/// and removing the directory, mounting and unmounting, filling a new volume.
///
/// A container's volumes go through, in order: ``use(_:container:)`` when it is created,
/// ``mountIfNeeded(_:)`` and ``populate(_:rootfs:path:)`` when it starts, and
/// ``release(container:)`` when it is removed (which unmounts volumes nobody uses any more).
public final class VolumeStore: Sendable {
  public let layout: EngineLayout
  public let db: MetadataDB

  public init(layout: EngineLayout, db: MetadataDB) throws {
    self.layout = layout
    self.db = db
    try FS.makeDirectories(layout.volumes, mode: 0o701)
  }

  /// Where a volume's content is: what containers mount, and Docker's "Mountpoint".
  public func mountpoint(_ name: String) -> String { layout.volumeData(name) }

  /// Volume names never start with ".", so this cannot collide with a volume's directory.
  var lockDirectory: String { layout.volumes + "/.locks" }
  func lockPath(_ name: String) -> String { lockDirectory + "/" + name }

  // MARK: names

  /// Docker's rule for local volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
  public static func isValidName(_ name: String) -> Bool {
    let bytes = Array(name.utf8)
    func alphanumeric(_ byte: UInt8) -> Bool {
      (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
        || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
    guard bytes.count >= 2, let first = bytes.first, alphanumeric(first) else { return false }
    return bytes.dropFirst().allSatisfy { alphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
  }

  /// 64 random hex digits, as Docker names anonymous volumes.
  public static func randomName() -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<4).map { _ in
      let hex = String(generator.next() as UInt64, radix: 16)
      return String(repeating: "0", count: 16 - hex.count) + hex
    }.joined()
  }

  // MARK: create

  /// Creates a volume, or returns the one of that name when it has the same options (as
  /// Docker returns an existing volume; its labels stay as they were).
  ///
  /// - Parameters:
  ///   - name: nil for a new random name (an anonymous volume's).
  ///   - anonymous: made for one container (`-v /path`, an image's VOLUME); such a volume
  ///     also gets Docker's `com.docker.volume.anonymous` label.
  ///   - container: recorded as the new volume's user in the same transaction (``use(_:container:)``).
  @discardableResult
  public func create(
    name: String? = nil, driver: String = "local", labels: [String: String] = [:], options: [String: String] = [:],
    anonymous: Bool = false, user container: String? = nil
  ) async throws -> VolumeRecord {
    let name = name ?? Self.randomName()
    guard Self.isValidName(name) else {
      throw BerthError(
        .invalidArgument,
        "create \(name): \(quoted(name)) includes invalid characters for a local volume name, only "
          + "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path")
    }
    guard driver == "local" else {
      throw BerthError(.notFound, "create \(name): error looking up volume plugin \(driver): plugin \(quoted(driver)) not found")
    }
    do { _ = try VolumeOptions.parse(options) } catch let error as BerthError { throw error.prefixed("create \(name)") }
    var labels = labels
    if anonymous, labels[VolumeRecord.anonymousLabel] == nil { labels[VolumeRecord.anonymousLabel] = "" }
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone.current
    let now = Date()
    let record = VolumeRecord(
      name: name, created: formatter.string(from: now), labels: labels, options: options, anonymous: anonymous)
    return try await VolumeLock.with(lockPath(name)) { _ in
      if let existing = try self.record(name) {
        guard existing.options == options else {
          throw BerthError(.alreadyExists, "create \(name): a volume of that name exists with other options")
        }
        return existing
      }
      try clearLeftover(name)
      try FS.makeDirectories(layout.volume(name), mode: 0o701)
      try check("mkdir \(mountpoint(name))") { mkdir(mountpoint(name), 0o755) }
      do {
        let json = try Self.encode(record)
        try db.write { db in
          try db.execute(
            sql: "INSERT INTO volume (name, created, record) VALUES (?, ?, ?)",
            arguments: [name, now.timeIntervalSince1970, json])
          // In the same transaction: a container's anonymous volume is never, even for an
          // instant, one that no container knows (a create killed here would leak it).
          if let container {
            try db.execute(sql: "INSERT INTO volumeUser (volume, container) VALUES (?, ?)", arguments: [name, container])
          }
        }
      } catch {
        try? FS.removeTree(layout.volume(name))
        throw error
      }
      return record
    }
  }

  /// A directory left by a removal that stopped half way (the record went first): its
  /// content must not show up in a new volume of the same name.
  private func clearLeftover(_ name: String) throws {
    guard try FS.lstatIfPresent(layout.volume(name)) != nil else { return }
    try unmountEverything(below: layout.volume(name))
    try FS.removeTree(layout.volume(name))
  }

  // MARK: read

  /// The volume `name`; BerthError(.notFound, "get NAME: no such volume") when there is none.
  public func get(_ name: String) throws -> VolumeRecord {
    guard let record = try record(name) else { throw Self.noSuchVolume(name) }
    return record
  }

  static func noSuchVolume(_ name: String) -> BerthError {
    BerthError(.notFound, "get \(name): no such volume")
  }

  func record(_ name: String) throws -> VolumeRecord? {
    let json = try db.read { db in
      try String.fetchOne(db, sql: "SELECT record FROM volume WHERE name = ?", arguments: [name])
    }
    return try json.map(Self.decode)
  }

  /// The volumes that pass Docker's `volume ls` filters (`dangling=`, `name=`, `driver=`,
  /// `label=`), by name.
  public func list(filters: [String] = []) throws -> [VolumeRecord] {
    let filters = try VolumeFilters(filters)
    return try listing().filter { filters.matches($0.record, inUse: $0.inUse) }.map(\.record)
  }

  /// Every volume and whether a container uses it, by name.
  func listing() throws -> [(record: VolumeRecord, inUse: Bool)] {
    let (records, used) = try db.read { db in
      (try String.fetchAll(db, sql: "SELECT record FROM volume ORDER BY name"),
       Set(try String.fetchAll(db, sql: "SELECT DISTINCT volume FROM volumeUser")))
    }
    return try records.map(Self.decode).map { ($0, used.contains($0.name)) }
  }

  /// The containers (IDs) using a volume, sorted.
  public func users(of name: String) throws -> [String] {
    try db.read { db in
      try String.fetchAll(db, sql: "SELECT container FROM volumeUser WHERE volume = ? ORDER BY container", arguments: [name])
    }
  }

  /// The bytes a volume holds (Docker's `system df` count).
  public func size(of name: String) throws -> Int64 {
    _ = try get(name)
    return try DirectorySize.of(mountpoint(name))
  }

  // MARK: users

  /// Records that `container` uses the volume: it cannot be removed or pruned until
  /// ``release(container:)``. No lock: the insert and removal's delete are each one
  /// transaction, and each checks the other's row.
  public func use(_ name: String, container: String) throws {
    try db.write { db in
      guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM volume WHERE name = ?)", arguments: [name]) == true else {
        throw Self.noSuchVolume(name)
      }
      try db.execute(sql: "INSERT OR IGNORE INTO volumeUser (volume, container) VALUES (?, ?)", arguments: [name, container])
    }
  }

  /// Forgets every volume `container` used, and unmounts those nobody uses any more.
  /// Returns the volumes' names.
  @discardableResult
  public func release(container: String) async throws -> [String] {
    let names = try db.write { db in
      let names = try String.fetchAll(
        db, sql: "SELECT volume FROM volumeUser WHERE container = ? ORDER BY volume", arguments: [container])
      try db.execute(sql: "DELETE FROM volumeUser WHERE container = ?", arguments: [container])
      return names
    }
    var firstError: (any Error)?
    for name in names {
      do { try await unmountIfUnused(name) } catch { firstError = firstError ?? error }
    }
    if let firstError { throw firstError }
    return names
  }

  // MARK: remove

  /// Removes a volume and its content. A volume in use is refused, with or without `force`
  /// (as with Docker); `force` ignores a missing volume and failures to delete the content
  /// once the record is gone.
  public func remove(_ name: String, force: Bool = false) async throws {
    try await VolumeLock.with(lockPath(name)) { lock in
      guard try record(name) != nil else {
        if force { return }
        throw Self.noSuchVolume(name)
      }
      try refuseIfInUse(name)
      // Never delete through a mount: a bind volume's device is the user's own directory.
      try unmountEverything(below: layout.volume(name))
      let deleted = try db.write { db in
        try db.execute(
          sql: "DELETE FROM volume WHERE name = ? AND NOT EXISTS (SELECT 1 FROM volumeUser WHERE volume = ?)",
          arguments: [name, name])
        return db.changesCount
      }
      if deleted == 0 {
        // A container started to use it since the check above.
        try refuseIfInUse(name)
        return
      }
      lock.deleteOnRelease = true
      do {
        try FS.removeTree(layout.volume(name))
      } catch let error as BerthError {
        if !force { throw error.prefixed("remove \(name)") }
      }
    }
  }

  private func refuseIfInUse(_ name: String) throws {
    let users = try users(of: name)
    if !users.isEmpty {
      throw BerthError(.invalidState, "remove \(name): volume is in use - [\(users.joined(separator: ", "))]")
    }
  }

  /// Removes unused volumes: only anonymous ones unless `all` (Docker ≥ 23), that pass the
  /// filters (`label=`, `label!=`, `all=`). Returns what went and the bytes it held.
  public func prune(all: Bool = false, filters: [String] = []) async throws -> (removed: [String], reclaimed: Int64) {
    let filters = try VolumeFilters(filters, allowed: VolumeFilters.pruneKeys)
    let all = all || filters.all == true
    var removed: [String] = []
    var reclaimed: Int64 = 0
    for (record, inUse) in try listing() where !inUse && filters.matches(record, inUse: false) {
      guard all || record.anonymous || record.labels[VolumeRecord.anonymousLabel] != nil else { continue }
      let size = (try? DirectorySize.of(mountpoint(record.name))) ?? 0
      do {
        try await remove(record.name)
      } catch let error as BerthError where error.code == .invalidState || error.code == .notFound {
        continue  // used or removed since the listing
      }
      removed.append(record.name)
      reclaimed += size
    }
    return (removed, reclaimed)
  }

  // MARK: records as JSON

  static func encode(_ record: VolumeRecord) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(record), as: UTF8.self)
  }

  static func decode(_ json: String) throws -> VolumeRecord {
    do {
      return try JSONDecoder().decode(VolumeRecord.self, from: Data(json.utf8))
    } catch {
      throw BerthError(.internalError, "a volume record in the database is damaged: \(error)")
    }
  }

  /// Replaces a volume's record (same name).
  func update(_ record: VolumeRecord) throws {
    let json = try Self.encode(record)
    try db.write { db in
      try db.execute(sql: "UPDATE volume SET record = ? WHERE name = ?", arguments: [json, record.name])
    }
  }
}
