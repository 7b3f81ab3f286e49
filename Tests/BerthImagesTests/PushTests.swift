import BerthOCI
import BerthOS
import BerthTestSupport
import Foundation
import Testing

/// `berth push`, and images crossing between berth, skopeo and podman through a registry.
@Suite("push", .registryAvailable, .sharedRegistry)
struct PushTests {
  /// busybox's root file system as a gzip tarball, for `berth import`.
  static func busyboxTarball(in directory: String) throws -> (path: String, image: TestImage) {
    let image = try TestImage.busybox()
    let path = directory + "/busybox-rootfs.tar.gz"
    try FS.write(path, image.layers[0].blob)
    return (path, image)
  }

  @Test("push to another repository of the registry mounts the blobs; a second push finds them there")
  func mountAndRepush() async throws {
    let registry = try SharedRegistry.get()
    let image = try TestImage.random(layerSizes: [60_000, 20_000], seed: 301)
    let source = uniqueName("src"), target = uniqueName("dst")
    let manifestDigest = try await registry.push(image, as: "\(source)/app:1")
    try await Sandbox.with { berth in
      try await berth.ok("pull", registry.reference("\(source)/app:1"))
      let targetName = registry.reference("\(target)/app:1")
      try await berth.ok("tag", registry.reference("\(source)/app:1"), targetName)

      let pushed = try await berth.ok("push", targetName)
      #expect(pushed.lines.first == "The push refers to repository [\(registry.reference("\(target)/app"))]", "\(pushed)")
      for layer in image.layers {
        let lines = pushed.lines.filter { $0.hasPrefix(layer.digest.hex.prefix(12) + ": Mounted from") }
        #expect(lines.count == 1, "layer \(layer.digest) was not mounted: \(pushed)")
        // Docker names the source repository ("Mounted from src/app"), not a tag of it.
        #expect(lines.allSatisfy { !$0.hasSuffix(":latest") }, "\(lines)")
      
        #expect(lines.allSatisfy { $0.contains("\(source)/app") }, "\(lines)")
        #expect(registry.repositoryLinksBlob("\(target)/app", layer.digest), "\(target)/app does not link \(layer.digest)")
      }
      #expect(registry.repositoryLinksBlob("\(target)/app", image.configDigest))
      // The manifest went up as it was pulled: same bytes, same digest.
      #expect(pushed.lines.contains("1: digest: \(manifestDigest) size: \(image.manifest.count)"), "\(pushed)")

      let again = try await berth.ok("push", targetName)
      for digest in image.layers.map(\.digest) + [image.configDigest] {
        #expect(again.lines.contains("\(digest.hex.prefix(12)): Layer already exists"), "\(again)")
      }
      #expect(!again.stdout.contains("Pushed") && !again.stdout.contains("Mounted"), "\(again)")
      let quiet = try await berth.ok("push", "-q", targetName)
      #expect(quiet.lines == ["\(registry.reference("\(target)/app"))@\(manifestDigest)"], "\(quiet)")
    }
  }

  @Test("push of an image that is not there fails")
  func pushMissing() async throws {
    let registry = try SharedRegistry.get()
    try await Sandbox.with { berth in
      let result = try await berth.run("push", registry.reference("nothing/here:1"))
      #expect(result.code == 1)
      #expect(result.stderr.contains("No such image"), "\(result)")
    }
  }

  @Test("skopeo copies what berth pushed; berth pulls what skopeo pushed", .skopeoAvailable)
  func skopeo() async throws {
    let registry = try SharedRegistry.get()
    let repository = uniqueName("berth-made")
    try await Sandbox.with("skopeo") { berth in
      // berth's own image (its config and manifest), pushed.
      let (tarball, busybox) = try Self.busyboxTarball(in: berth.scratch)
      let name = registry.reference("\(repository)/bb:1")
      try await berth.ok("import", "--change", #"CMD ["/bin/sh"]"#, tarball, name)
      let pushed = try await berth.ok("push", name)
      let digestLine = try #require(pushed.lines.first { $0.hasPrefix("1: digest: ") }, "\(pushed)")
      let pushedDigest = String(digestLine.dropFirst("1: digest: ".count).prefix(71))

      let out = berth.scratch + "/skopeo-dir"
      try await Skopeo.ok(["copy", "--src-tls-verify=false", "docker://\(name)", "dir:\(out)"], home: berth.scratch)
      #expect(RegistrySupport.sha256(try FS.read(out + "/manifest.json")) == pushedDigest)
      let manifest = try JSONSerialization.jsonObject(with: Data(try FS.read(out + "/manifest.json"))) as? [String: Any]
      let layers = (manifest?["layers"] as? [[String: Any]])?.compactMap { $0["digest"] as? String } ?? []
      #expect(layers == [busybox.layers[0].digest], "berth pushes the tarball it imported as the layer blob")
      for file in try FS.list(out) where file.count == 64 {
        #expect(RegistrySupport.sha256Hex(try FS.read(out + "/" + file)) == file, "skopeo got \(file) damaged")
      }
      let inspected = try await berth.inspect(name)
      #expect(FS.exists(out + "/" + (inspected["Id"] as? String ?? "").hex), "the config blob is the image ID")

      // skopeo pushes an OCI layout; berth pulls it.
      let image = try TestImage.random(layerSizes: [15_000, 5_000], seed: 302)
      try image.writeOCILayout(to: berth.scratch + "/layout", tag: "v1")
      let fromSkopeo = registry.reference("\(repository)/from-skopeo:v1")
      try await Skopeo.ok(
        ["copy", "--dest-tls-verify=false", "oci:\(berth.scratch)/layout:v1", "docker://\(fromSkopeo)"], home: berth.scratch)
      try await berth.ok("pull", fromSkopeo)
      let object = try await berth.inspect(fromSkopeo)
      #expect(object["Id"] as? String == image.configDigest)
      #expect(object["RootFS"].flatMap { ($0 as? [String: Any])?["Layers"] as? [String] } == image.diffIDs)
      #expect(Set(image.chainIDHexes).isSubset(of: berth.layerDirectories))
    }
  }

  @Test("podman pulls and runs what berth pushed; berth pulls what podman pushed", .podmanAvailable)
  func podman() async throws {
    let registry = try SharedRegistry.get()
    let repository = uniqueName("podman")
    try await Sandbox.with("podman") { berth in
      let (tarball, busybox) = try Self.busyboxTarball(in: berth.scratch)
      let name = registry.reference("\(repository)/bb:1")
      try await berth.ok("import", tarball, name)
      try await berth.ok("push", name)
      let id = try #require(try await berth.inspect(name)["Id"] as? String)

      try await Podman.with { podman in
        try await podman.ok("pull", "-q", "--tls-verify=false", name)
        #expect(try await podman.imageID(name) == id.hex)
        let ran = try await podman.runEcho(name)
        #expect(ran.code == 0 && ran.lines == ["ok"], "\(ran)")

        // podman re-pushes it elsewhere (its own compression); berth pulls that.
        let fromPodman = registry.reference("\(repository)/from-podman:2")
        try await podman.ok("tag", name, fromPodman)
        try await podman.ok("push", "--tls-verify=false", fromPodman)
        try await berth.ok("pull", fromPodman)
        let object = try await berth.inspect(fromPodman)
        #expect(object["RootFS"].flatMap { ($0 as? [String: Any])?["Layers"] as? [String] } == busybox.diffIDs)
        let layer = berth.root + "/layers/\(busybox.chainIDHexes[0])/diff/bin/busybox"
        #expect(FS.exists(layer))
      }
    }
  }
}
