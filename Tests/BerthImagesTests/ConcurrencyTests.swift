import BerthOS
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Several `berth` processes on one store at once.
@Suite("concurrent pulls", .registryAvailable, .sharedRegistry)
struct ConcurrencyTests {
  @Test("two pulls of the same image at once: both succeed, one layer unpacked, one image")
  func sameImageTwice() async throws {
    let registry = try SharedRegistry.get()
    let image = try TestImage.random(layerSizes: [2_000_000], seed: 601)
    let name = registry.reference("\(uniqueName("race"))/app:1")
    try await registry.push(image, as: name)
    try await Sandbox.with("race") { berth in
      // The store exists first: what races here is the pulls (a fresh store's own race is
      // freshStoreRace's).
      try await berth.ok("images")
      async let first = berth.run("pull", name)
      async let second = berth.run("pull", name)
      let results = try await [first, second]
      for result in results { #expect(result.code == 0, "\(result)") }
      #expect(try await berth.imageIDs() == [image.configDigest])
      #expect(berth.layerDirectories == Set(image.chainIDHexes))
      #expect(berth.stagingDirectories.isEmpty, "\(berth.stagingDirectories)")
      #expect(berth.ingestFiles.isEmpty, "\(berth.ingestFiles)")
      #expect(berth.blobFiles == Set([image.manifestDigest, image.configDigest, image.layers[0].digest].map(\.hex)))
      #expect(try await berth.inspect(name)["RepoTags"] as? [String] == [name])
    }
  }

  @Test("two pulls of the same image, both under way at once: the layer is downloaded and unpacked once")
  func sameImageTwiceCounted() async throws {
    let image = try TestImage.random(layerSizes: [1_000_000], seed: 602)
    let manifestPath = "/v2/race/app/manifests/1", layerPath = "/v2/race/app/blobs/\(image.layers[0].digest)"
    try await withMisbehavingRegistry { registry in
      registry.serve(image, repository: "race/app", tag: "1")
      // The layer is served once both pulls have asked for the manifest: both are under way.
      registry.on("GET", layerPath) { request, _ in
        for _ in 0..<3000 where registry.requests(to: manifestPath, method: "GET").count < 2 {
          try? await Task.sleep(for: .milliseconds(10))
        }
        return MisbehavingRegistry.blob(image.layers[0].blob, digest: image.layers[0].digest, range: request.header("Range"))
      }
      try await Sandbox.with("race-counted") { berth in
        try await berth.ok("images")
        let name = "\(registry.host)/race/app:1"
        async let first = berth.run("pull", name)
        async let second = berth.run("pull", name)
        let results = try await [first, second]
        for result in results { #expect(result.code == 0, "\(result)") }
        #expect(registry.requests(to: manifestPath, method: "GET").count == 2)
        #expect(registry.requests(to: layerPath, method: "GET").count == 1, "the layer was downloaded (and unpacked) twice")
        #expect(try await berth.imageIDs() == [image.configDigest])
        #expect(berth.layerDirectories == Set(image.chainIDHexes))
        #expect(berth.stagingDirectories.isEmpty && berth.ingestFiles.isEmpty)
      }
    }
  }

  @Test("four pulls of different images into one store at once")
  func fourImages() async throws {
    let registry = try SharedRegistry.get()
    let repository = uniqueName("parallel")
    var images: [(String, TestImage)] = []
    for index in 0..<4 {
      let image = try TestImage.random(layerSizes: [300_000, 50_000 + index], seed: 610 + UInt64(index))
      let name = registry.reference("\(repository)/app:\(index)")
      try await registry.push(image, as: name)
      images.append((name, image))
    }
    let pulls = images
    try await Sandbox.with("parallel") { berth in
      try await berth.ok("images")  // see sameImageTwice
      let results = try await withThrowingTaskGroup(of: CommandResult.self) { group in
        for (name, _) in pulls { group.addTask { try await berth.run("pull", name) } }
        var all: [CommandResult] = []
        for try await result in group { all.append(result) }
        return all
      }
      for result in results { #expect(result.code == 0, "\(result)") }
      #expect(Set(try await berth.imageIDs()) == Set(images.map { $0.1.configDigest }))
      #expect(berth.layerDirectories == Set(images.flatMap { $0.1.chainIDHexes }))
      #expect(berth.stagingDirectories.isEmpty && berth.ingestFiles.isEmpty)
      for (name, image) in images {
        let object = try await berth.inspect(name)
        #expect(object["Id"] as? String == image.configDigest)
      }
      // A prune with nothing to prune finds the store whole.
      try await berth.ok("image", "prune", "-f")
      #expect(berth.layerDirectories.count == 8)
    }
  }
}

/// The first commands on a new store root, at once.
@Suite("fresh store", .berthBuilt)
struct FreshStoreTests {
  @Test("commands started together on a new store root all succeed")
  func freshStoreRace() async throws {
    // Racy by nature: several rounds of four processes on a new root each.
    var failures: [CommandResult] = []
    for round in 0..<8 {
      try await Sandbox.with("fresh-\(round)") { berth in
        let results = try await withThrowingTaskGroup(of: CommandResult.self) { group in
          for _ in 0..<4 { group.addTask { try await berth.run("images", "-q") } }
          var all: [CommandResult] = []
          for try await result in group { all.append(result) }
          return all
        }
        failures += results.filter { $0.code != 0 }
        // Whatever happened, the store works afterwards.
        try await berth.ok("images")
      }
    }
    #expect(failures.isEmpty, "\(failures.count) of 32 failed, e.g. \(failures.first.map { $0.stderr } ?? "")")
  
  }
}
