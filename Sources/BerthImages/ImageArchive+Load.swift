import BerthArchive
import BerthJSON
import BerthOCI
import BerthOS
import Foundation

/// An image `load` or `import` added.
public struct LoadedImage: Sendable, Equatable {
  public var image: ImageRecord
  /// The tags it got ("docker.io/library/busybox:latest").
  public var tags: [String]
}

extension ImageStore {
  /// `berth load`: reads a docker-archive or OCI archive (either compressed or not) from `fd`.
  /// Blobs go into the store as they stream by; then each image's layers are unpacked and the
  /// image recorded. Nothing is recorded when the archive is damaged.
  public func load(from fd: Int32, source: String = "the archive", platform: Platform = .host) async throws -> [LoadedImage] {
    let storeLock = try await FileLock.acquire(layout.storeLock, shared: true)
    defer { storeLock.release() }
    // Blobs this load adds are removed again if it fails: nothing half-loaded stays.
    var added: [Digest] = []
    do {
      return try await loadArchive(from: fd, source: source, platform: platform, added: &added)
    } catch {
      for digest in added where try !isReferenced(digest) { try? content.remove(digest) }
      throw error
    }
  }

  /// Whether any image uses a blob.
  func isReferenced(_ digest: Digest) throws -> Bool {
    for image in try images() {
      if image.id == digest || image.manifestDigest == digest { return true }
      if let manifest = try? manifest(of: image), manifest.layers.contains(where: { $0.digest == digest.description }) {
        return true
      }
    }
    return false
  }

  private func loadArchive(from fd: Int32, source: String, platform: Platform, added: inout [Digest]) async throws -> [LoadedImage] {
    let reader = try TarReader(fileDescriptor: fd, name: source)
    var files: [String: [UInt8]] = [:]  // small JSON files, by path
    var stored: [String: (digest: Digest, size: Int64)] = [:]  // bigger members, now blobs
    var links: [String: String] = [:]  // symlinks (Docker 25 links layer.tar into blobs/)
    while let entry = try reader.next() {
      let path = Path.clean(entry.path).drop { $0 == "/" }.description
      switch entry.kind {
      case .symlink:
        links[path] = Path.clean(Path.join(Path.dirname(path), entry.linkTarget ?? "")).drop { $0 == "/" }.description
      case .regular:
        if path.hasSuffix(".json") || path == "oci-layout" || path == "repositories" {
          if entry.size <= 16 << 20 { files[path] = try reader.readContents() }
          if !path.hasSuffix(".json") || path == "manifest.json" || path == "index.json" { continue }
        }
        let expected = path.hasPrefix("blobs/sha256/") ? try? Digest(parsing: "sha256:" + Path.basename(path)) : nil
        let wasThere = expected.map { content.contains($0) } ?? false
        let writer = try content.ingest(expected: expected, size: entry.size)
        try reader.readContents { bytes in try writer.write(bytes) }
        let digest: Digest
        do { digest = try writer.commit() } catch let error as BerthError {
          throw error.prefixed("archive member \(path)")
        }
        if !wasThere { added.append(digest) }
        stored[path] = (digest, entry.size)
      default:
        continue
      }
    }
    func blob(_ path: String) throws -> (digest: Digest, size: Int64) {
      let target = links[path] ?? path
      if let found = stored[target] { return found }
      throw BerthError(.invalidArgument, "the archive lists \(path), which it does not contain")
    }

    if files["oci-layout"] != nil, let indexBytes = files["index.json"] {
      return try await loadOCI(index: try JSON.decode(ImageIndex.self, from: indexBytes), platform: platform)
    }
    guard let manifestBytes = files["manifest.json"] else {
      throw BerthError(
        .invalidArgument,
        "not an image archive: it holds neither manifest.json (docker save) nor oci-layout and index.json (OCI)")
    }
    let entries = try JSONDecoder().decode([DockerArchiveEntry].self, from: Data(manifestBytes))
    var loaded: [LoadedImage] = []
    for entry in entries {
      let configBytes = try files[entry.Config].map { $0 } ?? content.read(blob(entry.Config).digest)
      let layerBlobs = try entry.Layers.map { try blob($0) }
      loaded.append(try await addLoaded(
        configBytes: configBytes, layerBlobs: layerBlobs, tags: entry.RepoTags ?? []))
    }
    return loaded
  }

  /// One image of an OCI archive (or the platform's, from a nested index).
  private func loadOCI(index: ImageIndex, platform: Platform) async throws -> [LoadedImage] {
    var loaded: [LoadedImage] = []
    for descriptor in index.manifests {
      var manifestDescriptor = descriptor
      if MediaType.isIndex(descriptor.mediaType) {
        let nested = try JSON.decode(ImageIndex.self, from: content.read(try Digest(parsing: descriptor.digest)))
        guard let choice = nested.manifests.first(where: { $0.platform.map(platform.matches) ?? false }) else { continue }
        manifestDescriptor = choice
      }
      let manifestBytes = try content.read(try Digest(parsing: manifestDescriptor.digest))
      let manifest = try JSON.decode(Manifest.self, from: manifestBytes)
      let configBytes = try content.read(try Digest(parsing: manifest.config.digest))
      var tags: [String] = []
      let annotations = descriptor.annotations ?? [:]
      if let name = annotations["io.containerd.image.name"] ?? annotations["org.opencontainers.image.ref.name"],
         let reference = try? ImageReference.parse(name) {
        tags.append(reference.tagged.description)
      }
      let layerBlobs = try manifest.layers.map { (try Digest(parsing: $0.digest), $0.size) }
      try content.record(try Digest(parsing: manifestDescriptor.digest), size: Int64(manifestBytes.count),
                         mediaType: manifest.mediaType ?? MediaType.ociManifest)
      loaded.append(try await addLoaded(
        configBytes: configBytes, layerBlobs: layerBlobs, tags: tags,
        manifest: (bytes: manifestBytes, digest: try Digest(parsing: manifestDescriptor.digest))))
    }
    return loaded
  }

  /// Unpacks an image's layer blobs (all in the store) and records it. Without a manifest
  /// (docker archives have none), one is made: OCI, with the blobs' compression.
  func addLoaded(
    configBytes: [UInt8], layerBlobs: [(digest: Digest, size: Int64)], tags: [String],
    manifest given: (bytes: [UInt8], digest: Digest)? = nil
  ) async throws -> LoadedImage {
    let config: ImageConfig
    do { config = try JSON.decode(ImageConfig.self, from: configBytes) } catch {
      throw BerthError(.invalidArgument, "the archive's image config is malformed: \(error)")
    }
    let diffIDs = try config.rootfs.diff_ids.map { try Digest(parsing: $0) }
    guard diffIDs.count == layerBlobs.count else {
      throw BerthError(.invalidArgument, "the archive lists \(layerBlobs.count) layers but the image config \(diffIDs.count)")
    }
    let chainIDs = LayerStore.chainIDs(diffIDs)
    var descriptors: [Descriptor] = []
    for (index, blob) in layerBlobs.enumerated() {
      let path = layout.blob(blob.digest)
      let compression = try Self.detectCompression(path)
      try await layers.unpack(
        chainID: chainIDs[index], diffID: diffIDs[index], parent: index > 0 ? chainIDs[index - 1] : nil,
        compression: compression
      ) { unpacker in
        let fd = try OwnedFD.open(path, O_RDONLY)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
          let n = buffer.withUnsafeMutableBytes { read(fd.raw, $0.baseAddress, $0.count) }
          if n < 0 { throw BerthError.system("read \(path)") }
          if n == 0 { break }
          try await unpacker.write(Array(buffer[0..<n]))
        }
      }
      let mediaType: String
      switch compression {
      case .gzip: mediaType = MediaType.ociLayerGzip
      case .zstd: mediaType = MediaType.ociLayerZstd
      case .none: mediaType = MediaType.ociLayer
      }
      try content.record(blob.digest, size: blob.size, mediaType: mediaType)
      descriptors.append(Descriptor(mediaType: mediaType, digest: blob.digest.description, size: blob.size))
    }
    let configDigest = try content.put(configBytes, mediaType: MediaType.ociConfig)
    let manifestDigest: Digest
    if let given {
      manifestDigest = given.digest
    } else {
      let manifest = Manifest(
        config: Descriptor(mediaType: MediaType.ociConfig, digest: configDigest.description, size: Int64(configBytes.count)),
        layers: descriptors)
      manifestDigest = try content.put(try JSON.encode(manifest), mediaType: MediaType.ociManifest)
    }
    let names = try tags.map { try ImageReference.parse($0).tagged.description }
    let image = try addImage(
      config: config, configDigest: configDigest, manifestDigest: manifestDigest, tags: names, repoDigests: [])
    return LoadedImage(image: image, tags: names)
  }

  /// gzip, zstd or plain, from a blob's first bytes.
  static func detectCompression(_ path: String) throws -> LayerCompression {
    let fd = try OwnedFD.open(path, O_RDONLY)
    var magic = [UInt8](repeating: 0, count: 4)
    let n = magic.withUnsafeMutableBytes { read(fd.raw, $0.baseAddress, 4) }
    if n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b { return .gzip }
    if n >= 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] { return .zstd }
    return .none
  }

  /// `berth import`: a root file system tarball (plain, gzip or zstd) from `fd` as a
  /// one-layer image.
  public func importTarball(
    from fd: Int32, source: String, reference: ImageReference?, changes: [String], message: String?,
    platform: Platform = .host
  ) async throws -> LoadedImage {
    let storeLock = try await FileLock.acquire(layout.storeLock, shared: true)
    defer { storeLock.release() }
    let writer = try content.ingest(expected: nil, size: nil)
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 { throw BerthError.system("read \(source)") }
      if n == 0 { break }
      try buffer.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }
    let size = writer.size
    let blob = try writer.commit()
    let compression = try Self.detectCompression(layout.blob(blob))
    // The diffID (and so the chain ID) is known only after unpacking: unpack into staging,
    // then move it into place under its chain ID (a one-layer image: the diffID).
    let staging = layout.layers + "/.tmp-" + UUID().uuidString
    try FS.makeDirectories(staging + "/diff", mode: 0o755)
    let result: LayerUnpackResult
    do {
      result = try LayerUnpacker.unpack(file: layout.blob(blob), into: staging + "/diff", compression: compression)
      let lock = try await FileLock.acquire(layout.layerLock(result.diffID))
      defer { lock.release() }
      if try layers.contains(result.diffID) {
        try FS.removeTree(staging)
      } else {
        try layers.adopt(staging, chainID: result.diffID, diffID: result.diffID, parent: nil, size: result.uncompressedSize)
      }
    } catch {
      try? FS.removeTree(staging)
      throw error.prefixedIfBerth("import \(source)")
    }
    let now = ISO8601DateFormatter().string(from: Date())
    let containerConfig = try ConfigChanges.apply(changes, to: ContainerConfig())
    let config = ImageConfig(
      created: now, architecture: platform.architecture, os: platform.os, variant: platform.variant,
      config: containerConfig, rootfs: RootFS(diff_ids: [result.diffID.description]),
      history: [History(created: now, created_by: "", comment: message ?? "Imported from \(source)")])
    let configBytes = try JSON.encode(config)
    return try await addLoaded(
      configBytes: configBytes, layerBlobs: [(blob, size)],
      tags: reference.map { [$0.tagged.description] } ?? [])
  }
}

/// One entry of a docker-archive's manifest.json.
struct DockerArchiveEntry: Decodable {
  var Config: String
  var RepoTags: [String]?
  var Layers: [String]
}

extension Error {
  /// A BerthError with context in front; other errors as they are.
  func prefixedIfBerth(_ context: String) -> any Error {
    (self as? BerthError)?.prefixed(context) ?? self
  }
}
