import BerthOCI
import BerthOS
import BerthRegistry
import BerthTestSupport
import Foundation
import Testing

/// Pulls from a real docker-registry (distribution 2.8) started per test.
@Suite("Pull from docker-registry", .registryAvailable)
struct RegistryPullTests {
  @Test(arguments: TestImage.Format.allCases)
  func anonymousPullOfManifestConfigAndLayers(format: TestImage.Format) async throws {
    let image = try TestImage.busybox(format: format)
    try await RegistryFixture.with { registry in
      try await registry.push(image, as: "tools/busybox:1.0")
      try await withClient { client in
        let ref = try ImageReference.make(registry.reference("tools/busybox:1.0"))
        let fetched = try await client.manifest(ref)
        #expect(fetched.bytes == image.manifest)
        #expect(fetched.digest.description == image.manifestDigest)
        #expect(fetched.mediaType == image.manifestMediaType)
        #expect(fetched.reference.digest == fetched.digest)
        let manifest = try #require(fetched.manifest)
        #expect(manifest.layers.map(\.digest) == image.layers.map(\.digest))
        #expect(fetched.index == nil)

        let config = try await client.blobBytes(
          repository: ref, digest: try Digest(parsing: manifest.config.digest), expectedSize: manifest.config.size)
        #expect(config == image.config)

        let layer = manifest.layers[0]
        let (bytes, chunks) = try await download(client, ref, layer.digest, size: layer.size)
        #expect(bytes == image.layers[0].blob)
        #expect(chunks >= 1)

        #expect(try await client.blobExists(repository: ref, digest: try Digest(parsing: layer.digest)) == layer.size)
        let absent = try Digest(parsing: "sha256:" + String(repeating: "0", count: 64))
        #expect(try await client.blobExists(repository: ref, digest: absent) == nil)

        // By digest, and the HEAD descriptor.
        let byDigest = try await client.manifest(repository: ref, digest: fetched.digest)
        #expect(byDigest.bytes == image.manifest)
        let descriptor = try await client.manifestDescriptor(ref)
        #expect(descriptor.digest == image.manifestDigest)
        #expect(descriptor.size == Int64(image.manifest.count))
        #expect(try await client.tags(repository: ref) == ["1.0"])
      }
    }
  }

  @Test(arguments: TestImage.Format.allCases)
  func pullsAnIndexAndItsManifests(format: TestImage.Format) async throws {
    let amd64 = try TestImage.random(layerSizes: [1000], seed: 1, format: format, platform: Platform(architecture: "amd64", os: "linux"))
    let arm64 = try TestImage.random(
      layerSizes: [2000], seed: 2, format: format, platform: Platform(architecture: "arm64", os: "linux", variant: "v8"))
    let index = try TestIndex(images: [amd64, arm64], format: format)
    try await RegistryFixture.with { registry in
      try await registry.push(index, as: "multi:latest")
      try await withClient { client in
        let ref = try ImageReference.make(registry.reference("multi"))
        let fetched = try await client.manifest(ref)
        #expect(fetched.mediaType == index.mediaType)
        #expect(fetched.digest.description == index.digest)
        let list = try #require(fetched.index)
        #expect(list.manifests.map(\.platform?.architecture) == ["amd64", "arm64"])
        for (entry, image) in zip(list.manifests, [amd64, arm64]) {
          let child = try await client.manifest(repository: ref, digest: try Digest(parsing: entry.digest))
          #expect(child.bytes == image.manifest)
          #expect(child.manifest?.config.digest == image.configDigest)
        }
      }
    }
  }

  @Test func unknownTagAndRepositoryAreNotFound() async throws {
    try await RegistryFixture.with { registry in
      try await registry.push(try TestImage.random(layerSizes: [10]), as: "present:1")
      try await withClient { client in
        await expectRegistryError(.notFound, ["manifest for \(registry.host)/present:2 not found"]) {
          _ = try await client.manifest(try .make(registry.reference("present:2")))
        }
        // distribution answers MANIFEST_UNKNOWN for manifests of unknown repositories, and
        // NAME_UNKNOWN for their tag lists.
        await expectRegistryError(.notFound, ["manifest for \(registry.host)/absent:1 not found"]) {
          _ = try await client.manifest(try .make(registry.reference("absent:1")))
        }
        await expectRegistryError(.notFound, ["repository \(registry.host)/absent not found", "NAME_UNKNOWN"]) {
          _ = try await client.tags(repository: try .make(registry.reference("absent")))
        }
        await expectRegistryError(.notFound, ["blob", "not found", "present"]) {
          _ = try await client.blobBytes(
            repository: try .make(registry.reference("present")),
            digest: try Digest(parsing: "sha256:" + String(repeating: "1", count: 64)))
        }
      }
    }
  }

  @Test func basicAuthWithRightWrongAndNoPassword() async throws {
    let image = try TestImage.random(layerSizes: [5000])
    try await RegistryFixture.with(auth: .basic(username: "alice", password: "wonderland")) { registry in
      try await registry.push(image, as: "private/app:1")
      let ref = try ImageReference.make(registry.reference("private/app:1"))

      try await withClient(credentials: [registry.host: RegistryCredentials(username: "alice", password: "wonderland")]) { client in
        let fetched = try await client.manifest(ref)
        #expect(fetched.digest.description == image.manifestDigest)
        let (bytes, _) = try await download(client, ref, image.layers[0].digest, size: image.layers[0].size)
        #expect(bytes == image.layers[0].blob)
        try await client.checkLogin(host: registry.host, username: "alice", password: "wonderland")
        await expectRegistryError(.unauthorized, ["unauthorized", "alice", "berth login \(registry.host)"]) {
          try await client.checkLogin(host: registry.host, username: "alice", password: "wrong")
        }
      }
      try await withClient(credentials: [registry.host: RegistryCredentials(username: "alice", password: "wrong")]) { client in
        await expectRegistryError(.unauthorized, ["unauthorized", "refused the credentials of \"alice\"", registry.host]) {
          _ = try await client.manifest(ref)
        }
      }
      try await withClient { client in
        await expectRegistryError(.unauthorized, ["unauthorized: authentication required", "berth login \(registry.host)"]) {
          _ = try await client.manifest(ref)
        }
      }
    }
  }

  @Test func tokenAuthPullScopeIsRequestedAndCached() async throws {
    let image = try TestImage.random(layerSizes: [3000, 4000])
    try await RegistryFixture.with(auth: .token(username: "tok", password: "en", anonymousPull: false)) { registry in
      try await registry.push(image, as: "secure/app:v1")
      let service = try #require(registry.tokenService)
      let ref = try ImageReference.make(registry.reference("secure/app:v1"))

      try await withClient(credentials: [registry.host: RegistryCredentials(username: "tok", password: "en")]) { client in
        let fetched = try await client.manifest(ref)
        #expect(fetched.digest.description == image.manifestDigest)
        let afterFirst = service.requests
        #expect(afterFirst.count == 1)
        #expect(afterFirst.first?.scopes == ["repository:secure/app:pull"])
        #expect(afterFirst.first?.username == "tok")
        // Further requests for the same scope reuse the token.
        for layer in image.layers {
          let (bytes, _) = try await download(client, ref, layer.digest, size: layer.size)
          #expect(bytes == layer.blob)
        }
        _ = try await client.blobBytes(repository: ref, digest: try Digest(parsing: image.configDigest))
        #expect(service.requests.count == 1)

        try await client.checkLogin(host: registry.host, username: "tok", password: "en")
        await expectRegistryError(.unauthorized, ["incorrect username or password", "berth login \(registry.host)"]) {
          try await client.checkLogin(host: registry.host, username: "tok", password: "bad")
        }
      }
      try await withClient { client in
        await expectRegistryError(.unauthorized, ["authentication required", "berth login \(registry.host)"]) {
          _ = try await client.manifest(ref)
        }
      }
      try await withClient(credentials: [registry.host: RegistryCredentials(username: "tok", password: "nope")]) { client in
        await expectRegistryError(.unauthorized, ["incorrect username or password"]) {
          _ = try await client.manifest(ref)
        }
      }
    }
  }

  @Test func tokenAuthAnonymousPullButNoAnonymousPush() async throws {
    let image = try TestImage.random(layerSizes: [100])
    try await RegistryFixture.with(auth: .token(username: "u", password: "p", anonymousPull: true)) { registry in
      try await registry.push(image, as: "open/app:1")
      try await withClient { client in
        let ref = try ImageReference.make(registry.reference("open/app:1"))
        #expect(try await client.manifest(ref).digest.description == image.manifestDigest)
        let other = try ImageReference.make(registry.reference("open/other:1"))
        await expectRegistryError(.unauthorized, ["authentication required"]) {
          try await client.uploadBlob(
            repository: other, digest: try Digest(parsing: image.layers[0].digest), size: image.layers[0].size,
            data: BytesBlobSource(image.layers[0].blob))
        }
      }
    }
  }

  @Test func tenParallelBlobDownloads() async throws {
    let image = try TestImage.random(layerSizes: Array(repeating: 200_000, count: 10), seed: 7)
    try await RegistryFixture.with(auth: .token(username: "p", password: "q", anonymousPull: false)) { registry in
      try await registry.push(image, as: "parallel:1")
      let service = try #require(registry.tokenService)
      try await withClient(credentials: [registry.host: RegistryCredentials(username: "p", password: "q")]) { client in
        let ref = try ImageReference.make(registry.reference("parallel:1"))
        let results = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
          for (position, layer) in image.layers.enumerated() {
            group.addTask { (position, try await download(client, ref, layer.digest, size: layer.size).bytes) }
          }
          var results: [Int: [UInt8]] = [:]
          for try await (position, bytes) in group { results[position] = bytes }
          return results
        }
        #expect(results.count == 10)
        for (position, layer) in image.layers.enumerated() {
          #expect(results[position] == layer.blob, "layer \(position)")
        }
        // Concurrent requests shared one token.
        #expect(service.requests.count == 1)
      }
    }
  }

  @Test func mirrorThatFailsFallsBackToTheRegistry() async throws {
    let image = try TestImage.random(layerSizes: [500])
    try await withMisbehavingRegistry { mirror in
      try await RegistryFixture.with { registry in
        try await registry.push(image, as: "mirrored:1")
        let config = RegistriesConfig(mirrors: [registry.host: ["http://" + mirror.host]])
        try await withClient(config: config) { client in
          let ref = try ImageReference.make(registry.reference("mirrored:1"))
          let fetched = try await client.manifest(ref)
          #expect(fetched.digest.description == image.manifestDigest)
          #expect(mirror.requests(to: "/v2/mirrored/manifests/1").count == 1, "the mirror was asked first")
        }
      }
    }
  }
}
