import BerthOCI
import BerthOS
import BerthRegistry
import BerthTestSupport
import Foundation
import Testing

/// Pushes to a real docker-registry, checked through the fixture's own HTTP client and the
/// registry's storage.
@Suite("Push to docker-registry", .registryAvailable)
struct RegistryPushTests {
  /// Pushes every blob and the manifest of `image` with the client.
  static func push(_ image: TestImage, to ref: ImageReference, with client: RegistryClient) async throws -> [BlobUploadResult] {
    var results: [BlobUploadResult] = []
    for (digest, bytes) in image.blobs {
      results.append(try await client.pushBlob(
        repository: ref, digest: try Digest(parsing: digest), size: Int64(bytes.count), data: BytesBlobSource(bytes)))
    }
    let digest = try await client.putManifest(
      repository: ref, reference: ref.tag ?? "latest", bytes: image.manifest, mediaType: image.manifestMediaType)
    #expect(digest.description == image.manifestDigest)
    return results
  }

  @Test func monolithicPushThenFetchWithPlainHTTP() async throws {
    let image = try TestImage.busybox()
    try await RegistryFixture.with { registry in
      try await withClient { client in
        let ref = try ImageReference.make(registry.reference("pushed/busybox:1"))
        let results = try await Self.push(image, to: ref, with: client)
        #expect(results == Array(repeating: .uploaded, count: image.blobs.count))

        let manifest = try await registry.request(
          "GET", "/v2/pushed/busybox/manifests/1", headers: [("Accept", image.manifestMediaType)])
        #expect(manifest.status == 200)
        #expect(manifest.body == image.manifest)
        #expect(manifest.header("Docker-Content-Digest") == image.manifestDigest)
        for (digest, bytes) in image.blobs {
          let blob = try await registry.request("GET", "/v2/pushed/busybox/blobs/\(digest)")
          #expect(blob.body == bytes)
          #expect(registry.hasBlob(digest))
        }
        // A second push sends nothing.
        let again = try await Self.push(image, to: ref, with: client)
        #expect(again == Array(repeating: .alreadyExists, count: image.blobs.count))
      }
    }
  }

  @Test func chunkedPushWithSmallChunksFromAFile() async throws {
    let image = try TestImage.random(layerSizes: [300_000], seed: 3)
    let layer = image.layers[0]
    try await RegistryFixture.with { registry in
      try await withTemporaryDirectory { directory in
        let path = directory + "/layer"
        try FS.write(path, layer.blob)
        var options = RegistryClient.Options(retry: fastRetry)
        options.chunkSize = 64 << 10
        try await withClient(options: options) { client in
          let ref = try ImageReference.make(registry.reference("chunked:1"))
          let result = try await client.pushBlob(
            repository: ref, digest: try Digest(parsing: layer.digest), size: layer.size, data: try FileBlobSource(path: path))
          #expect(result == .uploaded)
          let blob = try await registry.request("GET", "/v2/chunked/blobs/\(layer.digest)")
          #expect(blob.status == 200)
          #expect(blob.body == layer.blob)
          #expect(registry.repositoryLinksBlob("chunked", layer.digest))
        }
      }
    }
  }

  @Test func crossRepositoryMount() async throws {
    let image = try TestImage.random(layerSizes: [50_000], seed: 4)
    let layer = image.layers[0]
    try await RegistryFixture.with { registry in
      try await registry.push(image, as: "source/app:1")
      #expect(!registry.repositoryLinksBlob("target/app", layer.digest))
      try await withClient { client in
        let target = try ImageReference.make(registry.reference("target/app:1"))
        let source = try ImageReference.make(registry.reference("source/app"))
        let result = try await client.pushBlob(
          repository: target, digest: try Digest(parsing: layer.digest), size: layer.size, mountFrom: source,
          data: BytesBlobSource([]))  // a mount reads nothing: an empty source would fail an upload
        #expect(result == .mounted)
        #expect(registry.repositoryLinksBlob("target/app", layer.digest))
      }
    }
  }

  @Test func tokenAuthPushAsksForPushScope() async throws {
    let image = try TestImage.random(layerSizes: [20_000], seed: 5)
    try await RegistryFixture.with(auth: .token(username: "pusher", password: "pw", anonymousPull: false)) { registry in
      let service = try #require(registry.tokenService)
      try await withClient(credentials: [registry.host: RegistryCredentials(username: "pusher", password: "pw")]) { client in
        let ref = try ImageReference.make(registry.reference("team/app:2"))
        _ = try await Self.push(image, to: ref, with: client)
        #expect(service.requests.contains { $0.scopes.contains("repository:team/app:pull,push") && $0.username == "pusher" })
        #expect(try await client.manifest(ref).bytes == image.manifest)
      }
      let manifest = try await registry.request("GET", "/v2/team/app/manifests/2", repository: "team/app",
                                                headers: [("Accept", image.manifestMediaType)])
      #expect(manifest.body == image.manifest)
    }
  }

  @Test func basicAuthPushAndMountAcrossRepositories() async throws {
    let image = try TestImage.random(layerSizes: [10_000], seed: 6)
    try await RegistryFixture.with(auth: .basic(username: "b", password: "c")) { registry in
      try await registry.push(image, as: "one:1")
      try await withClient(credentials: [registry.host: RegistryCredentials(username: "b", password: "c")]) { client in
        let target = try ImageReference.make(registry.reference("two:1"))
        let mounted = try await client.uploadBlob(
          repository: target, digest: try Digest(parsing: image.layers[0].digest), size: image.layers[0].size,
          mountFrom: try .make(registry.reference("one")), data: BytesBlobSource(image.layers[0].blob))
        #expect(mounted)
        #expect(registry.repositoryLinksBlob("two", image.layers[0].digest))
      }
    }
  }

  @Test func wrongBytesAreRefusedAsDigestMismatch() async throws {
    try await RegistryFixture.with { registry in
      try await withClient { client in
        let claimed = try Digest(parsing: RegistrySupport.sha256(Array("right".utf8)))
        await expectRegistryError(.digestMismatch, ["digest mismatch", "upload blob", "wrong"]) {
          try await client.uploadBlob(
            repository: try .make(registry.reference("wrong:1")), digest: claimed, size: 5,
            data: BytesBlobSource(Array("wrong".utf8)))
        }
      }
    }
  }

  @Test func manifestWithMissingBlobIsRefused() async throws {
    let image = try TestImage.random(layerSizes: [100], seed: 8)
    try await RegistryFixture.with { registry in
      try await withClient { client in
        await expectRegistryError(.registry, ["push manifest", "HTTP 400", "MANIFEST_BLOB_UNKNOWN"]) {
          try await client.putManifest(
            repository: try .make(registry.reference("incomplete")), reference: "1", bytes: image.manifest,
            mediaType: image.manifestMediaType)
        }
      }
    }
  }
}
