import BerthImages
import BerthOCI
import BerthOS
import BerthTestSupport
import Foundation
import Testing

/// `tag`, `rmi`, `image prune` (with garbage collection) and `history`.
@Suite("tag, rmi, prune, history", .berthBuilt)
struct RemovalTests {
  /// Imports a one-layer image of random content (distinct per seed); returns its ID.
  @discardableResult
  static func importImage(_ berth: Sandbox, seed: UInt64, name: String?) async throws -> String {
    let layer = try TestImage.random(layerSizes: [30_000 + Int(seed)], seed: seed).layers[0]
    let path = berth.scratch + "/layer-\(seed).tar.gz"
    try FS.write(path, layer.blob)
    let result = try await berth.ok(["import", path] + (name.map { [$0] } ?? []))
    return result.lines.last ?? ""
  }

  /// The blob files and layer directories an image owns in the store.
  static func footprint(_ berth: Sandbox, _ id: String) throws -> (blobs: Set<String>, layers: Set<String>) {
    let store = try berth.store()
    let image = try store.resolve(id)
    let manifest = try store.manifest(of: image)
    let blobs = Set([image.manifestDigest.encoded, image.id.encoded] + manifest.layers.map { $0.digest.hex })
    return (blobs, Set(try store.chainIDs(of: image).map(\.encoded)))
  }

  /// Marks an image as used by a container, as the engine will.
  static func addHolder(_ berth: Sandbox, image id: String, holder: String) throws {
    try berth.store().db.write { db in
      try db.execute(sql: "INSERT INTO imageUser (imageID, holder) VALUES (?, ?)", arguments: [id, holder])
    }
  }

  static func removeHolder(_ berth: Sandbox, image id: String, holder: String) throws {
    try berth.store().db.write { db in
      try db.execute(sql: "DELETE FROM imageUser WHERE imageID = ? AND holder = ?", arguments: [id, holder])
    }
  }

  @Test("tag adds a name; rmi of one of two names only untags")
  func untagOne() async throws {
    try await Sandbox.with("rmi") { berth in
      let id = try await Self.importImage(berth, seed: 1, name: "first/img:1")
      try await berth.ok("tag", "first/img:1", "second/img:2")
      let tags = try await berth.inspect(id)["RepoTags"] as? [String]
      #expect(Set(tags ?? []) == ["first/img:1", "second/img:2"])
      let listed = try await berth.ok("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").lines
      #expect(Set(listed) == ["first/img:1 \(id.hex.prefix(12))", "second/img:2 \(id.hex.prefix(12))"], "\(listed)")

      let untagged = try await berth.ok("rmi", "second/img:2")
      #expect(untagged.lines == ["Untagged: second/img:2"], "\(untagged)")
      #expect(try await berth.inspect(id)["RepoTags"] as? [String] == ["first/img:1"])
      let footprint = try Self.footprint(berth, id)
      #expect(footprint.blobs.isSubset(of: berth.blobFiles) && footprint.layers == berth.layerDirectories)

      // Tagging with a digest is refused; tagging something absent too.
      let digestTag = try await berth.run("tag", "first/img:1", "x/y@sha256:\(String(repeating: "a", count: 64))")
      #expect(digestTag.code == 1, "\(digestTag)")
      let absent = try await berth.run("tag", "not/here:1", "x/y:1")
      #expect(absent.code == 1 && absent.stderr.contains("No such image"), "\(absent)")

      // The last name: the image goes.
      let deleted = try await berth.ok("rmi", "first/img:1")
      #expect(deleted.lines == ["Untagged: first/img:1", "Deleted: \(id)"], "\(deleted)")
      #expect(try await berth.imageIDs().isEmpty)
      #expect(berth.blobFiles.isDisjoint(with: footprint.blobs), "\(berth.blobFiles)")
      #expect(berth.layerDirectories.isDisjoint(with: footprint.layers), "\(berth.layerDirectories)")
    
      let missing = try await berth.run("rmi", "first/img:1")
      #expect(missing.code == 1 && missing.stderr.contains("No such image"), "\(missing)")
    }
  }

  @Test("rmi by ID of an image with two tags needs -f")
  func removeByIDNeedsForce() async throws {
    try await Sandbox.with("rmi") { berth in
      let id = try await Self.importImage(berth, seed: 2, name: "a/img:1")
      try await berth.ok("tag", "a/img:1", "b/img:1")
      let refused = try await berth.run("rmi", String(id.hex.prefix(12)))
      #expect(refused.code == 1, "\(refused)")
      #expect(refused.stderr.contains("must be forced"), "\(refused)")
      #expect(Set(try await berth.inspect(id)["RepoTags"] as? [String] ?? []) == ["a/img:1", "b/img:1"])

      let forced = try await berth.ok("rmi", "-f", String(id.hex.prefix(12)))
      #expect(Set(forced.lines) == ["Untagged: a/img:1", "Untagged: b/img:1", "Deleted: \(id)"], "\(forced)")
      #expect(try await berth.imageIDs().isEmpty)
    }
  }

  @Test("an image in use: rmi refuses, rmi -f leaves it dangling, prune keeps it until it is free")
  func inUse() async throws {
    try await Sandbox.with("rmi") { berth in
      let id = try await Self.importImage(berth, seed: 3, name: "used/img:1")
      let footprint = try Self.footprint(berth, id)
      try Self.addHolder(berth, image: id, holder: "c0ffee" + String(repeating: "0", count: 58))

      let refused = try await berth.run("rmi", "used/img:1")
      #expect(refused.code == 1)
      #expect(refused.stderr.contains("c0ffee000000"), "the error names the container: \(refused)")
      #expect(try await berth.inspect("used/img:1")["Id"] as? String == id)

      let forced = try await berth.ok("rmi", "-f", "used/img:1")
      #expect(forced.lines == ["Untagged: used/img:1"], "only untagged: \(forced)")
      #expect(try await berth.ok("images", "-q", "--no-trunc", "--filter", "dangling=true").lines == [id])
      #expect(footprint.blobs.isSubset(of: berth.blobFiles) && footprint.layers.isSubset(of: berth.layerDirectories))

      try await berth.ok("image", "prune", "-f")
      try await berth.ok("image", "prune", "-a", "-f")
      #expect(try await berth.imageIDs() == [id], "prune removed an image a container uses")
      #expect(footprint.blobs.isSubset(of: berth.blobFiles) && footprint.layers.isSubset(of: berth.layerDirectories))

      try Self.removeHolder(berth, image: id, holder: "c0ffee" + String(repeating: "0", count: 58))
      let pruned = try await berth.ok("image", "prune", "-f")
      #expect(pruned.lines.contains("deleted: \(id)"), "\(pruned)")
      #expect(try await berth.imageIDs().isEmpty)
      #expect(berth.blobFiles.isEmpty, "\(berth.blobFiles)")
      #expect(berth.layerDirectories.isEmpty, "\(berth.layerDirectories)")
    }
  }

  @Test("image prune removes dangling images; -a -f every unused one; garbage is collected")
  func prune() async throws {
    try await Sandbox.with("prune") { berth in
      let tagged = try await Self.importImage(berth, seed: 4, name: "keep/tagged:1")
      let used = try await Self.importImage(berth, seed: 5, name: "keep/used:1")
      let dangling = try await Self.importImage(berth, seed: 6, name: nil)
      try Self.addHolder(berth, image: used, holder: "holder-1")
      let usedFootprint = try Self.footprint(berth, used), taggedFootprint = try Self.footprint(berth, tagged)
      let danglingFootprint = try Self.footprint(berth, dangling)

      let first = try await berth.ok("image", "prune", "-f")
      #expect(first.lines.first == "Deleted Images:", "\(first)")
      #expect(first.lines.contains("deleted: \(dangling)"), "\(first)")
      #expect(!first.stdout.contains(tagged) && !first.stdout.contains(used))
      #expect(first.lines.last?.hasPrefix("Total reclaimed space: ") == true)
      #expect(first.lines.last != "Total reclaimed space: 0B", "\(first)")
      #expect(Set(try await berth.imageIDs()) == [tagged, used])
      #expect(berth.blobFiles == taggedFootprint.blobs.union(usedFootprint.blobs), "\(berth.blobFiles)")
      #expect(berth.layerDirectories == taggedFootprint.layers.union(usedFootprint.layers))
      #expect(berth.blobFiles.isDisjoint(with: danglingFootprint.blobs))

      let nothing = try await berth.ok("image", "prune", "-f")
      #expect(nothing.lines == ["Total reclaimed space: 0B"], "\(nothing)")

      let all = try await berth.ok("image", "prune", "-a", "-f")
      #expect(all.lines.contains("untagged: keep/tagged:1"), "\(all)")
      #expect(all.lines.contains("deleted: \(tagged)"), "\(all)")
      #expect(try await berth.imageIDs() == [used])
      #expect(berth.blobFiles == usedFootprint.blobs, "\(berth.blobFiles)")
      #expect(berth.layerDirectories == usedFootprint.layers)
      #expect(berth.ingestFiles.isEmpty && berth.stagingDirectories.isEmpty)
      // The database forgot the collected blobs and layers too.
      let store = try berth.store()
      for layer in taggedFootprint.layers {
        #expect(try !store.layers.contains(try BerthOCI.Digest(parsing: "sha256:" + layer)))
      }
      #expect(try store.layers.contains(try BerthOCI.Digest(parsing: "sha256:" + (usedFootprint.layers.first ?? ""))))
    }
  }

  @Test("history: a line per history entry, layer sizes, <missing> below the top")
  func history() async throws {
    let image = try TestImage.random(layerSizes: [1_000, 300_000], seed: 7)
    try await withMisbehavingRegistry { registry in
      registry.serve(image, repository: "hist/app", tag: "1")
      try await Sandbox.with("history") { berth in
        let name = "\(registry.host)/hist/app:1"
        try await berth.ok("pull", name)
        let store = try berth.store()
        let record = try store.resolve(name)
        let sizes = try store.chainIDs(of: record).map { try store.layers.size($0) }

        let table = try await berth.ok("history", name).lines
        #expect(tableCells(table.first ?? "") == ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], "\(table)")
        #expect(table.count == 3, "\(table)")
        let rows = table.dropFirst().map(tableCells)
        #expect(rows.map { $0.first } == [String(image.idHex.prefix(12)), "<missing>"], "\(table)")
        #expect(rows.allSatisfy { $0.contains("berth test image") }, "\(table)")
        // Top first: the 300 kB layer, then the small one.
        #expect(rows.first?.contains(dockerHumanSize(sizes[1])) == true, "\(table) sizes \(sizes)")
        #expect(rows.last?.contains(dockerHumanSize(sizes[0])) == true, "\(table) sizes \(sizes)")
        #expect(sizes[1] >= 300_000 && sizes[0] >= 1_000 && sizes[0] < 300_000, "\(sizes)")

        let quiet = try await berth.ok("history", "-q", name).lines
        #expect(quiet == [String(image.idHex.prefix(12)), "<missing>"])
        let full = try await berth.ok("history", "--no-trunc", "--format", "{{.ID}} {{.Size}}", name).lines
        #expect(full == ["\(image.configDigest) \(dockerHumanSize(sizes[1]))", "<missing> \(dockerHumanSize(sizes[0]))"], "\(full)")
      }
    }
  }

  @Test("history: empty-layer steps show 0B, sizes stay with their layers, long commands are cut at 45")
  func historyWithEmptyLayers() async throws {
    let bottom = try TestImage(layers: [[.directory("data"), .file("data/big", [UInt8](repeating: 1, count: 200_000))]], compressed: false)
      .layers[0]
    let top = try TestImage(layers: [[.directory("data"), .file("data/small", "s")]], compressed: false).layers[0]
    let longCommand = "/bin/sh -c echo a long command that goes on and on, well past forty-five characters > /data/small"
    let config = """
      {"architecture":"\(Platform.host.architecture)","os":"linux","created":"2024-01-03T00:00:00Z",\
      "config":{"Env":["A=1"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["\(bottom.diffID)","\(top.diffID)"]},\
      "history":[{"created":"2024-01-01T00:00:00Z","created_by":"/bin/sh -c #(nop) ADD file:big in /data"},\
      {"created":"2024-01-02T00:00:00Z","created_by":"/bin/sh -c #(nop)  ENV A=1","empty_layer":true},\
      {"created":"2024-01-03T00:00:00Z","created_by":"\(longCommand)"}]}
      """
    let configBytes = Array(config.utf8)
    let id = RegistrySupport.sha256(configBytes)
    let manifest = #"[{"Config":"\#(id.hex).json","RepoTags":["crafted/history:1"],"Layers":["bottom/layer.tar","top/layer.tar"]}]"#
    // A docker-archive made by hand (a tar of tars).
    let archive = try TestImage(layers: [[
      .file("\(id.hex).json", configBytes), .directory("bottom"), .file("bottom/layer.tar", bottom.tar),
      .directory("top"), .file("top/layer.tar", top.tar), .file("manifest.json", manifest),
    ]], compressed: false).layers[0].tar
    try await Sandbox.with("history") { berth in
      let loaded = try await berth.ok(["load"], input: archive)
      #expect(loaded.lines == ["Loaded image: crafted/history:1"], "\(loaded)")
      let store = try berth.store()
      let record = try store.resolve("crafted/history:1")
      #expect(record.id.description == id)
      let sizes = try store.chainIDs(of: record).map { try store.layers.size($0) }

      let rows = try await berth.ok("history", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}", "crafted/history:1").lines
      #expect(rows == [
        "\(id.hex.prefix(12))|\(longCommand.prefix(44))…|\(dockerHumanSize(sizes[1]))",
        "<missing>|/bin/sh -c #(nop)  ENV A=1|0B",
        "<missing>|/bin/sh -c #(nop) ADD file:big in /data|\(dockerHumanSize(sizes[0]))",
      ], "\(rows)")
      #expect(sizes[0] >= 200_000 && sizes[1] < 10_000, "\(sizes)")
      let untruncated = try await berth.ok("history", "--no-trunc", "--format", "{{.CreatedBy}}", "crafted/history:1").lines
      #expect(untruncated.first == longCommand)
    }
  }
}
