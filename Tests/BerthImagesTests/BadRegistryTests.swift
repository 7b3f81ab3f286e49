import BerthOCI
import BerthOS
import BerthTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Pulls from registries that answer badly: each a clear error (exit code 1), nothing stored,
/// and the next good pull works.
@Suite("bad registries", .berthBuilt)
struct BadRegistryTests {
  enum Misbehaviour: String, CaseIterable, Sendable {
    case unknownImage, unauthorized, forbidden, serverError500, unavailable503OnBlob, layerDigestMismatch,
      truncatedBlob, malformedManifest, schema1Manifest, diffIDMismatch
  }

  static let repository = "bad/app"

  /// Adds the routes that make the pull of `bad/app:1` fail; returns words the error must hold.
  static func misbehave(_ kind: Misbehaviour, _ registry: MisbehavingRegistry, image: TestImage) -> [String] {
    let manifestPath = "/v2/\(repository)/manifests/1"
    let layer = image.layers[0]
    let layerPath = "/v2/\(repository)/blobs/\(layer.digest)"
    switch kind {
    case .unknownImage:
      registry.on("GET", manifestPath, always: .registryError(404, code: "MANIFEST_UNKNOWN", message: "manifest unknown"))
      return ["not found", "\(repository):1"]
    case .unauthorized:
      registry.on(nil, manifestPath, always: .registryError(
        401, code: "UNAUTHORIZED", message: "authentication required",
        headers: [("WWW-Authenticate", #"Basic realm="fake-registry""#)]))
      return ["unauthorized", "berth login \(registry.host)"]
    case .forbidden:
      registry.on(nil, manifestPath, always: .registryError(403, code: "DENIED", message: "requested access to the resource is denied"))
      return ["denied", "403"]
    case .serverError500:
      registry.on(nil, manifestPath, always: .registryError(500, code: "UNKNOWN", message: "storage exploded"))
      return ["500", "storage exploded"]
    case .unavailable503OnBlob:
      registry.on("GET", layerPath, always: .registryError(503, code: "UNAVAILABLE", message: "come back later"))
      return ["503", layer.digest]
    case .layerDigestMismatch:
      // A valid gzip of the same tar, one header byte (MTIME) changed: the unpacked layer is
      // right, the blob's digest is not.
      var changed = layer.blob
      changed[4] ^= 0x01
      let wrong = changed
      registry.on("GET", layerPath) { _, _ in MisbehavingRegistry.blob(wrong, digest: layer.digest) }
      return ["digest mismatch", layer.digest]
    case .truncatedBlob:
      let half = Array(layer.blob.prefix(layer.blob.count / 2))
      registry.on("GET", layerPath) { _, _ in
        RegistryTestResponse(status: 200, headers: [("Content-Type", "application/octet-stream")], body: half,
                             announcedLength: layer.blob.count)
      }
      return ["truncated", layer.digest]
    case .malformedManifest:
      let bytes = Array(#"{"schemaVersion": 2, "config": {"digest": "#.utf8)
      registry.on(nil, manifestPath) { request, _ in
        request.method == "GET" || request.method == "HEAD" ? MisbehavingRegistry.manifest(bytes, mediaType: MediaType.ociManifest) : nil
      }
      return ["malformed manifest"]
    case .diffIDMismatch:
      // A damaged image: the config's diffID is not what the layer unpacks to.
      let wrongDiffID = RegistrySupport.sha256(Array("not the layer".utf8))
      let config = Array(String(decoding: image.config, as: UTF8.self).replacingOccurrences(of: layer.diffID, with: wrongDiffID).utf8)
      let configDigest = RegistrySupport.sha256(config)
      let layers = image.layers.map { #"{"mediaType":"\#($0.mediaType)","digest":"\#($0.digest)","size":\#($0.size)}"# }
      let manifest = Array("""
        {"schemaVersion":2,"mediaType":"\(MediaType.ociManifest)",\
        "config":{"mediaType":"\(MediaType.ociConfig)","digest":"\(configDigest)","size":\(config.count)},\
        "layers":[\(layers.joined(separator: ","))]}
        """.utf8)
      registry.serveBlob(config, repository: repository)
      registry.serveManifest(manifest, mediaType: MediaType.ociManifest, repository: repository, references: ["1"])
      return ["damaged", wrongDiffID]
    case .schema1Manifest:
      let bytes = Array(#"{"schemaVersion": 1, "name": "bad/app", "tag": "1", "architecture": "amd64", "fsLayers": [], "history": [], "signatures": []}"#.utf8)
      registry.on(nil, manifestPath) { request, _ in
        request.method == "GET" || request.method == "HEAD"
          ? MisbehavingRegistry.manifest(bytes, mediaType: "application/vnd.docker.distribution.manifest.v1+prettyjws") : nil
      }
      return ["schema 1"]
    }
  }

  @Test("a bad answer: a clear error, exit code 1, nothing stored; then a good pull works", arguments: Misbehaviour.allCases)
  func badAnswer(kind: Misbehaviour) async throws {
    let image = try TestImage.busybox()
    try await withMisbehavingRegistry { registry in
      registry.serve(image, repository: Self.repository, tag: "1")
      let words = Self.misbehave(kind, registry, image: image)
      let name = "\(registry.host)/\(Self.repository):1"
      try await Sandbox.with("bad-\(kind.rawValue)") { berth in
        let failed = try await berth.run("pull", name)
        #expect(failed.code == 1, "\(failed)")
        #expect(failed.stderr.hasPrefix("Error: "), "\(failed)")
        for word in words {
          #expect(failed.stderr.contains(word), "\"\(word)\" missing: \(failed)")
        }
        #expect(!failed.stdout.contains("Status: "), "\(failed)")
        try await berth.expectNothingStored("after \(kind)")

        switch kind {
        case .serverError500:
          #expect(registry.requests(to: "/v2/\(Self.repository)/manifests/1", method: "GET").count >= 2, "500 is retried")
        case .unavailable503OnBlob:
          #expect(registry.requests(to: "/v2/\(Self.repository)/blobs/\(image.layers[0].digest)", method: "GET").count >= 2,
                  "503 is retried")
        default:
          break
        }

        // The registry mends; the store is consistent: a pull works.
        registry.serve(image, repository: Self.repository, tag: "1")
        let good = try await berth.ok("pull", name)
        #expect(good.stdout.contains("Status: Downloaded newer image for \(name)"), "\(good)")
        #expect(try await berth.imageIDs() == [image.configDigest])
        #expect(berth.layerDirectories == Set(image.chainIDHexes))
        #expect(berth.ingestFiles.isEmpty && berth.stagingDirectories.isEmpty)
        #expect(try ArchiveFixtures.sha256Hex(file: berth.layout.blobs + "/" + image.layers[0].digest.hex) == image.layers[0].digest.hex)
      }
    }
  }

  @Test("429 (and a 503) then success: retried, the pull works")
  func retriedThenSuccess() async throws {
    let image = try TestImage.random(layerSizes: [50_000], seed: 501)
    try await withMisbehavingRegistry { registry in
      registry.serve(image, repository: Self.repository, tag: "1")
      registry.on("GET", "/v2/\(Self.repository)/manifests/1") { _, call in
        call == 1 ? .registryError(429, code: "TOOMANYREQUESTS", message: "slow down", headers: [("Retry-After", "0")]) : nil
      }
      registry.on("GET", "/v2/\(Self.repository)/blobs/\(image.layers[0].digest)") { _, call in
        call == 1 ? .registryError(503, code: "UNAVAILABLE", message: "busy") : nil
      }
      try await Sandbox.with("retry") { berth in
        let name = "\(registry.host)/\(Self.repository):1"
        let pulled = try await berth.ok("pull", name)
        #expect(pulled.stdout.contains("Status: Downloaded newer image"), "\(pulled)")
        #expect(registry.requests(to: "/v2/\(Self.repository)/manifests/1", method: "GET").count == 2)
        #expect(registry.requests(to: "/v2/\(Self.repository)/blobs/\(image.layers[0].digest)", method: "GET").count == 2)
        #expect(try await berth.imageIDs() == [image.configDigest])
      }
    }
  }

  @Test("an unreachable registry: cannot reach, connection refused")
  func unreachable() async throws {
    let port = try closedLoopbackPort()
    try await Sandbox.with("unreachable") { berth in
      let result = try await berth.run("pull", "127.0.0.1:\(port)/some/app:1")
      #expect(result.code == 1, "\(result)")
      #expect(result.stderr.contains("cannot reach"), "\(result)")
      #expect(result.stderr.contains("127.0.0.1:\(port)"), "\(result)")
      #expect(result.stderr.contains("connection refused"), "\(result)")
      try await berth.expectNothingStored("unreachable registry")
    }
  }

  @Test("an invalid reference names the problem (exit code 1, as Docker's invalid reference format)",
        arguments: ["Busybox", "busybox:bad:tag", "busybox@sha256:abc", "-busybox"])
  func invalidReference(reference: String) async throws {
    try await Sandbox.with("badref") { berth in
      let result = try await berth.run("pull", "--", reference)
      #expect(result.code == 1, "\(result)")
      #expect(result.stderr.contains("invalid reference"), "\(result)")
      #expect(result.stderr.contains(reference), "the error quotes the input: \(result)")
      if reference == "Busybox" {
        #expect(result.stderr.contains("lowercase"), "\(result)")
      }
      #expect(!result.stderr.contains("Error: Error:"), "\(result)")
    
      #expect(result.stdout.isEmpty, "nothing was attempted: \(result)")
      try await berth.expectNothingStored("invalid reference")
    }
  }

  @Test("a failed pull through an index leaves nothing behind either")
  func failedPullThroughIndex() async throws {
    let image = try TestImage.random(layerSizes: [40_000], seed: 502)
    let index = try TestIndex(images: [image])
    try await withMisbehavingRegistry { registry in
      func serveAll() {
        registry.serve(image, repository: Self.repository, tag: "platform-image")
        registry.serveManifest(index.bytes, mediaType: index.mediaType, repository: Self.repository, references: ["1", index.digest])
      }
      serveAll()
      registry.on("GET", "/v2/\(Self.repository)/blobs/\(image.layers[0].digest)",
                  always: .registryError(503, code: "UNAVAILABLE", message: "come back later"))
      try await Sandbox.with("bad-index") { berth in
        let name = "\(registry.host)/\(Self.repository):1"
        let failed = try await berth.run("pull", name)
        #expect(failed.code == 1, "\(failed)")
        #expect(failed.stderr.contains("503"), "\(failed)")
        #expect(berth.ingestFiles.isEmpty && berth.stagingDirectories.isEmpty && berth.layerDirectories.isEmpty)
        #expect(try await berth.imageIDs().isEmpty)
        #expect(berth.blobFiles.isEmpty, "\(berth.blobFiles.sorted()) (the index is \(index.digest))")
      

        serveAll()
        try await berth.ok("pull", name)
        #expect(try await berth.imageIDs() == [image.configDigest])
        #expect(berth.blobFiles == Set([index.digest, image.manifestDigest, image.configDigest, image.layers[0].digest].map(\.hex)))
      }
    }
  }

  /// Opens once; the routes that wait on it answer then.
  final class Gate: Sendable {
    private let open = Mutex(false)
    func release() { open.withLock { $0 = true } }
    var isOpen: Bool { open.withLock { $0 } }
  }

  @Test("a pull killed midway: no image, the next pull works, prune removes the leftovers")
  func killedPull() async throws {
    let image = try TestImage.random(layerSizes: [500_000], seed: 503)
    let layerPath = "/v2/\(Self.repository)/blobs/\(image.layers[0].digest)"
    try await withMisbehavingRegistry { registry in
      registry.serve(image, repository: Self.repository, tag: "1")
      let gate = Gate()
      defer { gate.release() }
      registry.on("GET", layerPath) { request, _ in
        while !gate.isOpen { try? await Task.sleep(for: .milliseconds(10)) }
        return MisbehavingRegistry.blob(image.layers[0].blob, digest: image.layers[0].digest, range: request.header("Range"))
      }
      try await Sandbox.with("killed") { berth in
        let name = "\(registry.host)/\(Self.repository):1"
        let nullFD = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(nullFD) }
        let pid = try Subprocess.spawn(
          BerthBinary.path, args: [BerthBinary.path, "pull", name], env: berth.environment.map { "\($0.key)=\($0.value)" },
          fds: [(nullFD, 0), (nullFD, 1), (nullFD, 2)])
        // Wait (bounded) until berth asks for the layer: its ingest file and staging
        // directory exist by then.
        for _ in 0..<3000 where registry.requests(to: layerPath, method: "GET").isEmpty {
          try await Task.sleep(for: .milliseconds(10))
        }
        kill(pid, SIGKILL)
        _ = try await Processes.wait(pid)
        gate.release()
        #expect(!registry.requests(to: layerPath, method: "GET").isEmpty, "berth never asked for the layer")
        #expect(!berth.ingestFiles.isEmpty || !berth.stagingDirectories.isEmpty, "the killed pull left nothing to clean up")
        #expect(berth.layerDirectories.isEmpty)
        #expect(try await berth.imageIDs().isEmpty)

        try await berth.ok("pull", name)
        #expect(try await berth.imageIDs() == [image.configDigest])
        #expect(berth.layerDirectories == Set(image.chainIDHexes))

        let pruned = try await berth.ok("image", "prune", "-f")
        #expect(pruned.lines.last != "Total reclaimed space: 0B", "\(pruned)")
        #expect(berth.ingestFiles.isEmpty, "\(berth.ingestFiles)")
        #expect(berth.stagingDirectories.isEmpty, "\(berth.stagingDirectories)")
        #expect(try await berth.imageIDs() == [image.configDigest])
        #expect(berth.layerDirectories == Set(image.chainIDHexes))
        #expect(FS.exists(berth.root + "/layers/\(image.chainIDHexes[0])/diff/data/layer-0"))
      }
    }
  }
}
