import BerthImages
import BerthOCI
import BerthOS
import BerthTestSupport
import Foundation
import Testing

/// `berth pull` against a real registry, then what `images` and `inspect` show.
@Suite("pull", .registryAvailable, .sharedRegistry)
struct PullTests {
  /// An image with labels, for `--filter label=…`.
  static func labelled() throws -> TestImage {
    try TestImage(
      layers: [[.directory("etc"), .file("etc/labelled", "yes\n")]],
      containerConfig: ContainerConfig(Cmd: ["sh"], Labels: ["org.berth.test.kind": "labelled", "org.berth.test.flag": ""]))
  }

  @Test("pull, then images lists REPOSITORY, TAG, IMAGE ID and SIZE")
  func pullAndList() async throws {
    let registry = try SharedRegistry.get()
    let image = try TestImage.busybox()
    let repository = uniqueName("busybox")
    let manifestDigest = try await registry.push(image, as: "\(repository):1.36")
    let name = registry.reference("\(repository):1.36")
    try await Sandbox.with { berth in
      let pulled = try await berth.ok("pull", name)
      #expect(pulled.lines.contains("Digest: \(manifestDigest)"), "\(pulled)")
      #expect(pulled.lines.contains("Status: Downloaded newer image for \(name)"), "\(pulled)")
      #expect(pulled.lines.last == name, "the last line names the image: \(pulled)")

      let table = try await berth.ok("images").lines
      #expect(tableCells(table.first ?? "") == ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], "\(table)")
      #expect(table.count == 2, "\(table)")
      let cells = tableCells(table.count > 1 ? table[1] : "")
      let size = try #require(try await berth.inspect(name)["Size"] as? Int64)
      #expect(cells.count == 5, "\(cells)")
      if cells.count == 5 {
        #expect(cells[0] == registry.reference(repository))
        #expect(cells[1] == "1.36")
        #expect(cells[2] == String(image.idHex.prefix(12)))
        #expect(cells[4] == dockerHumanSize(size), "SIZE \(cells[4]) for \(size) bytes")
      }
      // The image's unpacked size: at least busybox itself.
      #expect(size >= Int64(try FS.read("/bin/busybox").count))
    }
  }

  @Test("images: --digests, -q, --no-trunc, --filter and --format")
  func listingOptions() async throws {
    let registry = try SharedRegistry.get()
    let plain = try TestImage.random(layerSizes: [20_000], seed: 101)
    let labelled = try Self.labelled()
    let plainRepository = uniqueName("plain"), labelledRepository = uniqueName("labelled")
    let plainDigest = try await registry.push(plain, as: "\(plainRepository):v1")
    try await registry.push(labelled, as: "\(labelledRepository):v2")
    let plainName = registry.reference("\(plainRepository):v1"), labelledName = registry.reference("\(labelledRepository):v2")
    try await Sandbox.with { berth in
      try await berth.ok("pull", "-q", plainName)
      try await berth.ok("pull", "-q", labelledName)

      // --digests adds a DIGEST column holding the manifest digest.
      let digests = try await berth.ok("images", "--digests").lines
      #expect(tableCells(digests.first ?? "") == ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"])
      let plainRow = digests.map(tableCells).first { $0.first == registry.reference(plainRepository) }
      #expect(plainRow?[2] == plainDigest, "\(digests)")
      #expect(plainRow?[3] == String(plain.idHex.prefix(12)), "\(digests)")

      // -q: short IDs only; --no-trunc: full IDs.
      let quiet = try await berth.ok("images", "-q").lines
      #expect(Set(quiet) == [String(plain.idHex.prefix(12)), String(labelled.idHex.prefix(12))], "\(quiet)")
      let full = try await berth.ok("images", "-q", "--no-trunc").lines
      #expect(Set(full) == [plain.configDigest, labelled.configDigest], "\(full)")
      let untruncated = try await berth.ok("images", "--no-trunc").stdout
      #expect(untruncated.contains(plain.configDigest), "\(untruncated)")

      // Filters.
      let dangling = try await berth.ok("images", "-q", "--filter", "dangling=true").lines
      #expect(dangling.isEmpty, "nothing is dangling: \(dangling)")
      let notDangling = try await berth.ok("images", "-q", "--filter", "dangling=false").lines
      #expect(notDangling.count == 2, "\(notDangling)")
      let byReference = try await berth.ok("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=*/\(labelledRepository)").lines
      #expect(byReference == [labelledName], "\(byReference)")
      let byReferenceAndTag = try await berth.ok("images", "-q", "--filter", "reference=\(plainName)").lines
      #expect(byReferenceAndTag == [String(plain.idHex.prefix(12))])
      let noReference = try await berth.ok("images", "-q", "--filter", "reference=nothing-like-this").lines
      #expect(noReference.isEmpty)
      let byLabelValue = try await berth.ok("images", "-q", "--filter", "label=org.berth.test.kind=labelled").lines
      #expect(byLabelValue == [String(labelled.idHex.prefix(12))], "\(byLabelValue)")
      let byLabelKey = try await berth.ok("images", "-q", "--filter", "label=org.berth.test.flag").lines
      #expect(byLabelKey == [String(labelled.idHex.prefix(12))], "\(byLabelKey)")
      let byWrongLabel = try await berth.ok("images", "-q", "--filter", "label=org.berth.test.kind=other").lines
      #expect(byWrongLabel.isEmpty)
      let badFilter = try await berth.run("images", "--filter", "colour=blue")
      #expect(badFilter.code != 0 && badFilter.stderr.contains("colour"), "\(badFilter)")

      // A repository argument.
      let onlyPlain = try await berth.ok("images", "--format", "{{.ID}}", registry.reference(plainRepository)).lines
      #expect(onlyPlain == [String(plain.idHex.prefix(12))])

      // --format with a Go template, and json.
      let formatted = try await berth.ok("images", "--format", "{{.Repository}}:{{.Tag}}").lines
      #expect(Set(formatted) == [plainName, labelledName], "\(formatted)")
      let json = try await berth.ok("images", "--format", "json").lines
      #expect(json.count == 2)
      let objects = try json.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
      let plainObject = try #require(objects.first { $0["Repository"] as? String == registry.reference(plainRepository) })
      #expect(plainObject["Tag"] as? String == "v1")
      #expect(plainObject["ID"] as? String == String(plain.idHex.prefix(12)))
      #expect(plainObject["Digest"] as? String == plainDigest)
      #expect((plainObject["Size"] as? String)?.isEmpty == false)
    }
  }

  @Test("image inspect: Id, RepoTags, RepoDigests, RootFS.Layers and Config")
  func inspect() async throws {
    let registry = try SharedRegistry.get()
    let image = try TestImage(
      layers: [[.directory("a"), .file("a/one", "1")], [.directory("b"), .file("b/two", "2")]], format: .docker,
      containerConfig: ContainerConfig(
        Env: ["PATH=/bin", "GREETING=hello"], Entrypoint: ["/bin/sh", "-c"], Cmd: ["echo hi"], WorkingDir: "/a",
        Labels: ["k": "v"]))
    let repository = uniqueName("inspect")
    let manifestDigest = try await registry.push(image, as: "\(repository):t")
    let name = registry.reference("\(repository):t")
    try await Sandbox.with { berth in
      try await berth.ok("pull", name)
      let object = try await berth.inspect(name)
      #expect(object["Id"] as? String == image.configDigest)
      #expect(object["RepoTags"] as? [String] == [name])
      #expect(object["RepoDigests"] as? [String] == ["\(registry.reference(repository))@\(manifestDigest)"])
      #expect(object["Architecture"] as? String == Platform.host.architecture)
      #expect(object["Os"] as? String == "linux")
      let rootfs = try #require(object["RootFS"] as? [String: Any])
      #expect(rootfs["Type"] as? String == "layers")
      #expect(rootfs["Layers"] as? [String] == image.diffIDs)
      let config = try #require(object["Config"] as? [String: Any])
      #expect(config["Env"] as? [String] == ["PATH=/bin", "GREETING=hello"])
      #expect(config["Entrypoint"] as? [String] == ["/bin/sh", "-c"])
      #expect(config["Cmd"] as? [String] == ["echo hi"])
      #expect(config["WorkingDir"] as? String == "/a")
      #expect(config["Labels"] as? [String: String] == ["k": "v"])

      // By ID, short ID and familiar name: the same object; --format picks fields.
      let byID = try await berth.inspect(image.configDigest)
      #expect(byID["Id"] as? String == image.configDigest)
      let byShortID = try await berth.ok("inspect", "--format", "{{.Id}}", String(image.idHex.prefix(12)))
      #expect(byShortID.lines == [image.configDigest])
      let missing = try await berth.run("image", "inspect", "no-such-image:1")
      #expect(missing.code == 1)
      #expect(missing.stderr.contains("No such image: no-such-image:1"), "\(missing)")
    }
  }

  @Test("pull by digest records the digest and no tag")
  func pullByDigest() async throws {
    let registry = try SharedRegistry.get()
    let image = try TestImage.random(layerSizes: [30_000], seed: 102)
    let repository = uniqueName("bydigest")
    let digest = try await registry.push(image, as: "\(repository):latest")
    let name = registry.reference("\(repository)@\(digest)")
    try await Sandbox.with { berth in
      let pulled = try await berth.ok("pull", name)
      #expect(pulled.lines.last == name, "\(pulled)")
      let object = try await berth.inspect(name)
      #expect(object["Id"] as? String == image.configDigest)
      #expect(object["RepoTags"] as? [String] == [])
      #expect(object["RepoDigests"] as? [String] == [name])
      let digests = try await berth.ok("images", "--digests", "--format", "{{.Digest}} {{.ID}}").lines
      #expect(digests == ["\(digest) \(image.idHex.prefix(12))"], "\(digests)")
      // Docker lists an image pulled by digest under its repository, tag <none>.
      let rows = try await berth.ok("images", "--format", "{{.Repository}} {{.Tag}}").lines
      #expect(rows == ["\(registry.reference(repository)) <none>"], "\(rows)")
    
    }
  }

  @Test("a tag that moves on the registry leaves the old image dangling; image prune removes it")
  func movedTag() async throws {
    let registry = try SharedRegistry.get()
    let old = try TestImage.random(layerSizes: [21_000], seed: 107), new = try TestImage.random(layerSizes: [22_000], seed: 108)
    let repository = uniqueName("moving")
    let name = registry.reference("\(repository):latest")
    try await registry.push(old, as: name)
    try await Sandbox.with { berth in
      try await berth.ok("pull", name)
      try await registry.push(new, as: name)
      let second = try await berth.ok("pull", name)
      #expect(second.stdout.contains("Status: Downloaded newer image for \(name)"), "\(second)")
      #expect(try await berth.inspect(name)["Id"] as? String == new.configDigest)

      let dangling = try await berth.ok("images", "-q", "--no-trunc", "--filter", "dangling=true").lines
      #expect(dangling == [old.configDigest], "\(dangling)")
      let tagged = try await berth.ok("images", "-q", "--no-trunc", "--filter", "dangling=false").lines
      #expect(tagged == [new.configDigest], "\(tagged)")
      let rows = try await berth.ok("images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}").lines
      #expect(rows.contains("\(registry.reference(repository)) latest \(new.idHex.prefix(12))"), "\(rows)")
      #expect(rows.contains("\(registry.reference(repository)) <none> \(old.idHex.prefix(12))"), "\(rows)")
    

      let pruned = try await berth.ok("image", "prune", "-f")
      #expect(pruned.lines.contains("deleted: \(old.configDigest)"), "\(pruned)")
      #expect(try await berth.imageIDs() == [new.configDigest])
      #expect(berth.layerDirectories == Set(new.chainIDHexes))
      #expect(berth.blobFiles == Set([new.manifestDigest, new.configDigest, new.layers[0].digest].map(\.hex)))
    }
  }

  /// Images for two platforms: the host's and the other one (arm64 here, amd64 on arm64).
  static func twoPlatforms() throws -> (host: TestImage, other: TestImage, otherPlatform: String) {
    let other = Platform.host.architecture == "arm64"
      ? Platform(architecture: "amd64", os: "linux") : Platform(architecture: "arm64", os: "linux", variant: "v8")
    let hostImage = try TestImage.random(layerSizes: [10_000], seed: 103, platform: .host)
    let otherImage = try TestImage.random(layerSizes: [11_000], seed: 104, platform: other)
    return (hostImage, otherImage, other.architecture == "arm64" ? "linux/arm64" : "linux/amd64")
  }

  @Test("an index: the host's platform, --platform another one, an absent one is an error", arguments: TestImage.Format.allCases)
  func pullIndex(format: TestImage.Format) async throws {
    let registry = try SharedRegistry.get()
    let (hostImage, otherImage, otherPlatform) = try Self.twoPlatforms()
    let index = try TestIndex(images: [otherImage, hostImage], format: format)
    let repository = uniqueName("multi")
    try await registry.push(index, as: "\(repository):1")
    let name = registry.reference("\(repository):1")

    try await Sandbox.with { berth in
      let pulled = try await berth.ok("pull", name)
      #expect(pulled.lines.contains("Digest: \(index.digest)"), "the digest shown is the index's: \(pulled)")
      let object = try await berth.inspect(name)
      #expect(object["Id"] as? String == hostImage.configDigest)
      #expect(object["Architecture"] as? String == Platform.host.architecture)
      #expect(object["RepoDigests"] as? [String] == ["\(registry.reference(repository))@\(index.digest)"])
    }
    try await Sandbox.with { berth in
      try await berth.ok("pull", "--platform", otherPlatform, name)
      let object = try await berth.inspect(name)
      #expect(object["Id"] as? String == otherImage.configDigest)
      #expect(object["Architecture"] as? String == otherImage.platform.architecture)
      #expect(object["RootFS"].flatMap { ($0 as? [String: Any])?["Layers"] as? [String] } == otherImage.diffIDs)
    }
    try await Sandbox.with { berth in
      let absent = try await berth.run("pull", "--platform", "linux/s390x", name)
      #expect(absent.code == 1, "\(absent)")
      #expect(absent.stderr.contains("linux/s390x"), "\(absent)")
      #expect(absent.stderr.contains("linux/\(Platform.host.architecture)"), "the error lists what there is: \(absent)")
      try await berth.expectNothingStored("pull of an absent platform")
    }
  }

  @Test("a single-platform image for another architecture needs --platform")
  func foreignSingleImage() async throws {
    let registry = try SharedRegistry.get()
    let (_, otherImage, otherPlatform) = try Self.twoPlatforms()
    let repository = uniqueName("foreign")
    try await registry.push(otherImage, as: "\(repository):1")
    let name = registry.reference("\(repository):1")
    try await Sandbox.with { berth in
      let refused = try await berth.run("pull", name)
      #expect(refused.code == 1)
      #expect(refused.stderr.contains("--platform"), "\(refused)")
      try await berth.expectNothingStored("pull of a foreign image")
      try await berth.ok("pull", "--platform", otherPlatform, name)
      #expect(try await berth.inspect(name)["Id"] as? String == otherImage.configDigest)
    }
  }

  @Test("Docker reference normalization: host/library/x, familiar names, docker.io names")
  func referenceNormalization() async throws {
    let registry = try SharedRegistry.get()
    let image = try TestImage.random(layerSizes: [12_000], seed: 105)
    let repository = uniqueName("norm")
    try await registry.push(image, as: "library/\(repository):latest")
    try await Sandbox.with { berth in
      // No library/ is added for registries other than Docker Hub: host/x is another repository.
      let other = try await berth.run("pull", registry.reference(repository))
      #expect(other.code == 1)
      #expect(other.stderr.contains("not found"), "\(other)")

      // Without a tag: latest.
      let pulled = try await berth.ok("pull", registry.reference("library/\(repository)"))
      #expect(pulled.lines.first == "Using default tag: latest", "\(pulled)")
    
      let full = registry.reference("library/\(repository):latest")
      #expect(pulled.lines.last == full)
      let rows = try await berth.ok("images", "--format", "{{.Repository}} {{.Tag}}").lines
      #expect(rows == ["\(registry.reference("library/" + repository)) latest"], "\(rows)")

      // A Docker Hub name for it: familiar, library/, docker.io/ and docker.io/library/ spellings
      // all name the same image; images and inspect show the familiar form.
      try await berth.ok("tag", registry.reference("library/\(repository)"), "\(repository):mine")
      for spelling in ["\(repository):mine", "library/\(repository):mine", "docker.io/\(repository):mine",
                       "docker.io/library/\(repository):mine"] {
        let object = try await berth.inspect(spelling)
        #expect(object["Id"] as? String == image.configDigest, "\(spelling)")
      }
      let object = try await berth.inspect("\(repository):mine")
      #expect(Set(object["RepoTags"] as? [String] ?? []) == [full, "\(repository):mine"], "\(object["RepoTags"] ?? "")")
      let familiar = try await berth.ok("images", "--format", "{{.Repository}}:{{.Tag}}", "\(repository)").lines
      #expect(familiar == ["\(repository):mine"], "\(familiar)")
      // The registry's name does not match the Hub's.
      let notHub = try await berth.run("image", "inspect", "docker.io/library/\(repository):latest")
      #expect(notHub.code == 1)
    }
  }

  @Test("layers shared by two images are unpacked once")
  func sharedLayers() async throws {
    let registry = try SharedRegistry.get()
    let base: [TestImage.File] = [.directory("base"), .file("base/data", [UInt8](repeating: 7, count: 50_000))]
    let first = try TestImage(layers: [base, [.directory("one"), .file("one/file", "1")]])
    let second = try TestImage(layers: [base, [.directory("two"), .file("two/file", "2")]])
    #expect(first.layers[0].digest == second.layers[0].digest)
    let repository = uniqueName("shared")
    try await registry.push(first, as: "\(repository):one")
    try await registry.push(second, as: "\(repository):two")
    try await Sandbox.with { berth in
      try await berth.ok("pull", registry.reference("\(repository):one"))
      let again = try await berth.ok("pull", registry.reference("\(repository):two"))
      #expect(again.stdout.contains("\(first.layers[0].digest.hex.prefix(12)): Already exists"), "\(again)")
      #expect(berth.layerDirectories == Set(first.chainIDHexes + second.chainIDHexes), "\(berth.layerDirectories)")
      #expect(berth.layerDirectories.count == 3)
      #expect(berth.stagingDirectories.isEmpty && berth.ingestFiles.isEmpty)
      // Both images' files are where overlay will stack them.
      #expect(FS.exists(berth.layout.root + "/layers/\(first.chainIDHexes[0])/diff/base/data"))
      #expect(FS.exists(berth.layout.root + "/layers/\(first.chainIDHexes[1])/diff/one/file"))
      #expect(FS.exists(berth.layout.root + "/layers/\(second.chainIDHexes[1])/diff/two/file"))
    }
  }

  @Test("whiteouts become overlay whiteouts, opaque directories get trusted.overlay.opaque", .needsRoot)
  func whiteouts() async throws {
    let registry = try SharedRegistry.get()
    let image = try TestImage(layers: [
      [.directory("a"), .file("a/gone", "x"), .file("a/kept", "k"), .directory("b"), .file("b/old", "o"),
       .directory("c"), .directory("c/deep"), .file("c/deep/file", "f")],
      [.directory("a"), .file("a/.wh.gone", ""), .directory("b"), .file("b/.wh..wh..opq", ""), .file("b/new", "n"),
       .file(".wh.c", "")],
    ])
    let repository = uniqueName("whiteouts")
    try await registry.push(image, as: "\(repository):1")
    try await Sandbox.with { berth in
      try await berth.ok("pull", registry.reference("\(repository):1"))
      let lower = berth.layout.root + "/layers/\(image.chainIDHexes[0])/diff"
      let upper = berth.layout.root + "/layers/\(image.chainIDHexes[1])/diff"
      // The lower layer as it is.
      #expect(FS.exists(lower + "/a/gone") && FS.exists(lower + "/b/old") && FS.exists(lower + "/c/deep/file"))
      // A whiteout: a 0:0 character device in place of the name; no .wh. file.
      for hidden in ["a/gone", "c"] {
        let info = try FS.lstatIfPresent(upper + "/" + hidden)
        #expect(info.map { $0.st_mode & S_IFMT } == S_IFCHR, "\(hidden) is not a whiteout device")
        #expect(info?.st_rdev == 0, "\(hidden) is not device 0:0")
      }
      #expect(!FS.exists(upper + "/a/.wh.gone") && !FS.exists(upper + "/.wh.c"))
      #expect(!FS.exists(upper + "/a/kept"), "the upper layer holds only its own files")
      // The opaque directory.
      #expect(try ArchiveFixtures.xattr(upper + "/b", "trusted.overlay.opaque") == Array("y".utf8))
      #expect(!FS.exists(upper + "/b/.wh..wh..opq"))
      #expect(try FS.readText(upper + "/b/new") == "n")
      #expect(try ArchiveFixtures.xattr(upper + "/a", "trusted.overlay.opaque") == nil, "a/ is not opaque")
    }
  }
}

/// Pulls against a fake registry that counts requests.
@Suite("pull, counted", .berthBuilt)
struct CountedPullTests {
  enum Spelling: String, CaseIterable, Sendable { case tag, digest }

  @Test("a second pull says up to date and downloads nothing", arguments: Spelling.allCases)
  func secondPull(spelling: Spelling) async throws {
    let image = try TestImage.random(layerSizes: [40_000, 25_000], seed: 106)
    try await withMisbehavingRegistry { registry in
      registry.serve(image, repository: "counted/app", tag: "v1")
      let name = spelling == .tag ? "\(registry.host)/counted/app:v1" : "\(registry.host)/counted/app@\(image.manifestDigest)"
      try await Sandbox.with { berth in
        try await berth.ok("pull", name)
        func blobGets() -> Int { registry.requests.filter { $0.method == "GET" && $0.path.contains("/blobs/") }.count }
        let afterFirst = blobGets()
        #expect(afterFirst == image.blobs.count, "the first pull fetches each blob once")
        let blobs = berth.blobFiles
        var mtimes: [String: Int] = [:]
        for name in blobs { mtimes[name] = (try FS.lstatIfPresent(berth.layout.blobs + "/" + name)).map { $0.st_mtim.tv_sec * 1_000_000_000 + $0.st_mtim.tv_nsec } }
        let layersBefore = berth.layerDirectories

        let second = try await berth.ok("pull", name)
        #expect(blobGets() == afterFirst, "the second pull downloaded blobs: \(registry.requests.map { "\($0.method) \($0.path)" })")
        #expect(!second.stdout.contains("Pull complete") && !second.stdout.contains("Downloading"), "\(second)")
        for layer in image.layers {
          #expect(second.stdout.contains("\(layer.digest.hex.prefix(12)): Already exists"), "\(second)")
        }
        #expect(second.stdout.contains("Status: Image is up to date for \(name)"), "\(second)")
      
        #expect(berth.blobFiles == blobs)
        #expect(berth.layerDirectories == layersBefore)
        for name in blobs {
          let mtime = (try FS.lstatIfPresent(berth.layout.blobs + "/" + name)).map { $0.st_mtim.tv_sec * 1_000_000_000 + $0.st_mtim.tv_nsec }
          #expect(mtime == mtimes[name], "blob \(name) was rewritten")
        }
        #expect(try await berth.imageIDs() == [image.configDigest])
      }
    }
  }
}
