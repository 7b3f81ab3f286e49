import BerthImages
import BerthOS
import Foundation
import GRDB

/// Container records in the store's database. Every change is one transaction, so that many
/// `berth` processes can create, rename and remove at once: a name is taken by exactly one.
public struct ContainerStore: Sendable {
  public let layout: EngineLayout
  public let db: MetadataDB

  public init(layout: EngineLayout, db: MetadataDB) {
    self.layout = layout
    self.db = db
  }

  /// A new container ID: 32 random bytes in hex, as Docker makes them.
  public static func newID() -> String {
    var generator = SystemRandomNumberGenerator()
    var text = ""
    for _ in 0..<4 {
      let value = generator.next() as UInt64
      let hex = String(value, radix: 16)
      text += String(repeating: "0", count: 16 - hex.count) + hex
    }
    return text
  }

  /// Records a new container. Its name must be free.
  public func insert(_ record: ContainerRecord) throws {
    let json = try encode(record)
    try db.write { db in
      if let holder = try String.fetchOne(db, sql: "SELECT id FROM container WHERE name = ?", arguments: [record.name]) {
        throw Self.nameConflict(record.name, holder: holder)
      }
      try db.execute(
        sql: "INSERT INTO container (id, name, imageID, created, record) VALUES (?, ?, ?, ?, ?)",
        arguments: [record.id, record.name, record.imageID, Date().timeIntervalSince1970, json])
      try db.execute(
        sql: "INSERT OR IGNORE INTO imageUser (imageID, holder) VALUES (?, ?)", arguments: [record.imageID, record.id])
    }
  }

  /// Records a container under a generated name ("calm_harbor"), trying again on a clash.
  public func insertWithGeneratedName(_ record: ContainerRecord) throws -> ContainerRecord {
    var record = record
    for attempt in 0..<20 {
      record.name = NameGenerator.make(attempt: attempt / 2)
      do {
        try insert(record)
        return record
      } catch let error as BerthError where error.code == .alreadyExists {
        continue
      }
    }
    throw BerthError(.internalError, "could not find a free container name after 20 tries")
  }

  public func update(_ record: ContainerRecord) throws {
    let json = try encode(record)
    try db.write { db in
      try db.execute(sql: "UPDATE container SET record = ? WHERE id = ?", arguments: [json, record.id])
      if db.changesCount == 0 { throw BerthError(.notFound, "No such container: \(record.id)") }
    }
  }

  /// `berth rename`: one transaction checks the new name and takes it.
  public func rename(_ id: String, to name: String) throws {
    try db.write { db in
      guard let json = try String.fetchOne(db, sql: "SELECT record FROM container WHERE id = ?", arguments: [id]) else {
        throw BerthError(.notFound, "No such container: \(id)")
      }
      if let holder = try String.fetchOne(db, sql: "SELECT id FROM container WHERE name = ?", arguments: [name]) {
        throw Self.nameConflict(name, holder: holder)
      }
      var record = try decode(json)
      record.name = name
      try db.execute(
        sql: "UPDATE container SET name = ?, record = ? WHERE id = ?", arguments: [name, try encode(record), id])
    }
  }

  /// Forgets a container and releases its image.
  public func delete(_ id: String) throws {
    try db.write { db in
      try db.execute(sql: "DELETE FROM container WHERE id = ?", arguments: [id])
      try db.execute(sql: "DELETE FROM imageUser WHERE holder = ?", arguments: [id])
    }
  }

  public func get(id: String) throws -> ContainerRecord? {
    try db.read { db in
      try String.fetchOne(db, sql: "SELECT record FROM container WHERE id = ?", arguments: [id])
    }.map(decode)
  }

  /// Every container, newest first.
  public func all() throws -> [ContainerRecord] {
    try db.read { db in
      try String.fetchAll(db, sql: "SELECT record FROM container ORDER BY created DESC")
    }.map(decode)
  }

  /// Finds a container as Docker does: full ID, then name (with or without "/"), then a
  /// unique ID prefix.
  public func resolve(_ text: String) throws -> ContainerRecord {
    let name = text.hasPrefix("/") ? String(text.dropFirst()) : text
    guard !name.isEmpty else { throw BerthError(.invalidArgument, "container name or ID cannot be empty") }
    let found: String? = try db.read { db in
      if let json = try String.fetchOne(db, sql: "SELECT record FROM container WHERE id = ?", arguments: [name]) {
        return json
      }
      if let json = try String.fetchOne(db, sql: "SELECT record FROM container WHERE name = ?", arguments: [name]) {
        return json
      }
      guard name.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else { return nil }
      let matches = try String.fetchAll(
        db, sql: "SELECT record FROM container WHERE id LIKE ? LIMIT 2", arguments: [name + "%"])
      if matches.count > 1 {
        throw BerthError(.invalidArgument, "multiple IDs found with provided prefix: \(name)")
      }
      return matches.first
    }
    guard let found else { throw BerthError(.notFound, "No such container: \(text)") }
    return try decode(found)
  }

  // MARK: -

  static func nameConflict(_ name: String, holder: String) -> BerthError {
    BerthError(
      .alreadyExists,
      "Conflict. The container name \"/\(name)\" is already in use by container \"\(holder)\". You have to remove (or rename) that container to be able to reuse that name.")
  }

  private func encode(_ record: ContainerRecord) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(record), as: UTF8.self)
  }

  private func decode(_ json: String) throws -> ContainerRecord {
    do {
      return try JSONDecoder().decode(ContainerRecord.self, from: Data(json.utf8))
    } catch {
      throw BerthError(.internalError, "a container record in the database cannot be read: \(error)")
    }
  }
}
