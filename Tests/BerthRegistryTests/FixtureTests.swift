import BerthJSON
import BerthOCI
import BerthOS
import BerthTestSupport
import Foundation
import Testing

/// The fixtures other test targets rely on.
@Suite("Registry fixtures")
struct FixtureTests {
  @Test func busyboxLayerIsATarThatGNUTarReads() throws {
    let image = try TestImage.busybox()
    let listing = String(decoding: try RegistrySupport.run("/usr/bin/tar", ["-tvf", "-"], input: image.layers[0].tar), as: UTF8.self)
    #expect(listing.contains("bin/busybox"))
    #expect(listing.contains("bin/sh -> busybox"))
    #expect(listing.contains("drwxrwxrwt") && listing.contains("tmp/"))
    let unzipped = try RegistrySupport.run("/usr/bin/gzip", ["-dc"], input: image.layers[0].blob)
    #expect(unzipped == image.layers[0].tar)
    #expect(RegistrySupport.sha256(unzipped) == image.layers[0].diffID)
  }

  @Test func imagesAreReproducibleAndConsistent() throws {
    let first = try TestImage.random(layerSizes: [1000, 2000], seed: 5, format: .docker)
    let second = try TestImage.random(layerSizes: [1000, 2000], seed: 5, format: .docker)
    #expect(first.manifestDigest == second.manifestDigest)
    #expect(try TestImage.random(layerSizes: [1000, 2000], seed: 6).manifestDigest != first.manifestDigest)

    let manifest = try JSON.decode(Manifest.self, from: first.manifest)
    #expect(manifest.mediaType == MediaType.dockerManifest)
    #expect(manifest.config.digest == first.configDigest)
    #expect(manifest.layers.map(\.digest) == first.layers.map(\.digest))
    #expect(manifest.layers.allSatisfy { $0.mediaType == MediaType.dockerLayerGzip })
    let config = try JSON.decode(ImageConfig.self, from: first.config)
    #expect(config.rootfs.diff_ids == first.layers.map(\.diffID))
    #expect(config.platform.matches(Platform.host))
  }

  @Test func ociLayoutHasIndexAndBlobs() async throws {
    let image = try TestImage.random(layerSizes: [10])
    try await withTemporaryDirectory { directory in
      try image.writeOCILayout(to: directory, tag: "t1")
      let index = try JSON.decode(ImageIndex.self, from: try FS.read(directory + "/index.json"))
      #expect(index.manifests.first?.digest == image.manifestDigest)
      #expect(index.manifests.first?.annotations?["org.opencontainers.image.ref.name"] == "t1")
      for (digest, bytes) in image.blobs {
        #expect(try FS.read(directory + "/blobs/sha256/" + digest.dropFirst(7)) == bytes)
      }
    }
  }

  @Test(.registryAvailable) func registryStopsAndCleansUp() async throws {
    let registry = try await RegistryFixture.start()
    let directory = registry.directory
    let answer = try await RegistryTestHTTP.request("GET", registry.url + "/v2/")
    #expect(answer.status == 200)
    await registry.stop()
    #expect(!FS.exists(directory))
    await #expect(throws: (any Error).self) { try await RegistryTestHTTP.request("GET", registry.url + "/v2/") }
    await registry.stop()  // twice is fine
  }

  @Test(.registryAvailable) func tokenServiceIssuesTokensTheRegistryAccepts() async throws {
    try await RegistryFixture.with(auth: .token(username: "u", password: "p", anonymousPull: false)) { registry in
      let service = try #require(registry.tokenService)
      let denied = try await registry.request("GET", "/v2/")
      #expect(denied.status == 401)
      #expect(denied.header("WWW-Authenticate")?.contains(service.realm) == true)
      let bad = try await RegistryTestHTTP.request(
        "GET", service.realm + "?service=\(service.service)",
        headers: [("Authorization", "Basic " + Data("u:wrong".utf8).base64EncodedString())])
      #expect(bad.status == 401)
      let token = try service.makeToken(subject: "u", access: [])
      let allowed = try await registry.request("GET", "/v2/", headers: [("Authorization", "Bearer " + token)])
      #expect(allowed.status == 200, "\(registry.log)")
    }
  }
}
