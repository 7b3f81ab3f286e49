import BerthJSON
import BerthOCI
import BerthOS
import BerthRegistry
import BerthTestSupport
import Foundation
import Testing

/// The client against images another tool pushed, and another tool against images the
/// client pushed.
@Suite("skopeo interoperability", .skopeoAvailable)
struct SkopeoInteropTests {
  @discardableResult
  static func skopeo(_ arguments: [String]) throws -> [UInt8] {
    guard let path = RegistrySupport.which("skopeo") else { throw BerthError(.notFound, "skopeo is not installed") }
    return try RegistrySupport.run(path, ["--insecure-policy"] + arguments)
  }

  @Test func clientPullsWhatSkopeoPushed() async throws {
    let image = try TestImage.busybox()
    try await RegistryFixture.with { registry in
      try await withTemporaryDirectory { directory in
        try image.writeOCILayout(to: directory + "/layout", tag: "v1")
        try Self.skopeo([
          "copy", "--preserve-digests", "--dest-tls-verify=false", "oci:\(directory)/layout:v1",
          "docker://\(registry.host)/from-skopeo/busybox:v1",
        ])
      }
      try await withClient { client in
        let ref = try ImageReference.make(registry.reference("from-skopeo/busybox:v1"))
        let fetched = try await client.manifest(ref)
        #expect(fetched.digest.description == image.manifestDigest)
        let manifest = try #require(fetched.manifest)
        let config = try await client.blobBytes(repository: ref, digest: try Digest(parsing: manifest.config.digest))
        #expect(config == image.config)
        for (layer, expected) in zip(manifest.layers, image.layers) {
          let (bytes, _) = try await download(client, ref, layer.digest, size: layer.size)
          #expect(bytes == expected.blob)
        }
      }
    }
  }

  @Test(arguments: TestImage.Format.allCases)
  func skopeoReadsWhatTheClientPushed(format: TestImage.Format) async throws {
    let image = try TestImage.random(layerSizes: [40_000, 70_000], seed: 9, format: format)
    try await RegistryFixture.with { registry in
      var options = RegistryClient.Options(retry: fastRetry)
      options.chunkSize = 32 << 10  // the second layer goes in chunks
      try await withClient(options: options) { client in
        let ref = try ImageReference.make(registry.reference("from-berth/app:1"))
        _ = try await RegistryPushTests.push(image, to: ref, with: client)
      }
      let raw = try Self.skopeo(["inspect", "--tls-verify=false", "--raw", "docker://\(registry.host)/from-berth/app:1"])
      #expect(raw == image.manifest)
      let inspected = try JSON.parse(try Self.skopeo(["inspect", "--tls-verify=false", "docker://\(registry.host)/from-berth/app:1"]))
      #expect(inspected["Digest"]?.stringValue == image.manifestDigest)
      #expect(inspected["Layers"]?.arrayValue?.compactMap(\.stringValue) == image.layers.map(\.digest))

      try await withTemporaryDirectory { directory in
        try Self.skopeo(["copy", "--src-tls-verify=false", "docker://\(registry.host)/from-berth/app:1", "dir:\(directory)/out"])
        for (digest, bytes) in image.blobs {
          let file = directory + "/out/" + digest.dropFirst("sha256:".count)
          #expect(try FS.read(file) == bytes, "\(digest)")
        }
        #expect(RegistrySupport.sha256(try FS.read(directory + "/out/manifest.json")) == image.manifestDigest)
      }
    }
  }
}
