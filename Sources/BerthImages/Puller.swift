import BerthArchive
import BerthJSON
import BerthOCI
import BerthOS
import BerthRegistry
import Foundation
import NIOCore

/// What a pull reports as it goes, for the progress display.
public enum PullEvent: Sendable {
  /// The reference resolved to this manifest (or index) digest.
  case resolved(reference: String, digest: Digest)
  /// A layer blob: known sizes first, then its progress.
  case layer(Digest, LayerState)
  /// Everything is in the store.
  case finished(image: ImageRecord, upToDate: Bool)
}

public enum LayerState: Sendable, Equatable {
  case waiting(size: Int64)
  case alreadyExists
  case downloading(received: Int64, total: Int64)
  case extracting
  case complete
}

/// A sink for pull events; the CLI draws them.
public typealias PullObserver = @Sendable (PullEvent) -> Void

/// Pulls images from registries into the store: manifests and configs first, then every
/// missing layer at once (up to `concurrency`), each verified and unpacked while it streams.
public struct Puller: Sendable {
  public let store: ImageStore
  public let client: RegistryClient
  public var concurrency = 3

  public init(store: ImageStore, client: RegistryClient) {
    self.store = store
    self.client = client
  }

  public func pull(_ reference: ImageReference, platform: Platform = .host, observe: @escaping PullObserver = { _ in }) async throws -> ImageRecord {
    let storeLock = try await FileLock.acquire(store.layout.storeLock, shared: true)
    defer { storeLock.release() }
    let top = try await client.manifest(reference)
    observe(.resolved(reference: reference.description, digest: top.digest))
    var extraBlobs: [Digest] = []
    var manifestFetch = top
    if MediaType.isIndex(top.mediaType) {
      let index = try decode(ImageIndex.self, top.bytes, what: "the image index of \(reference)")
      let choice = try Self.select(platform, from: index, reference: reference)
      extraBlobs.append(top.digest)
      manifestFetch = try await client.manifest(repository: reference, digest: try Digest(parsing: choice.digest))
    }
    guard MediaType.isManifest(manifestFetch.mediaType) else {
      throw BerthError(.unsupported, "\(reference): unsupported manifest type \(quoted(manifestFetch.mediaType))")
    }
    let manifest = try decode(Manifest.self, manifestFetch.bytes, what: "the manifest of \(reference)")
    let configDigest = try Digest(parsing: manifest.config.digest)
    let configBytes = try store.content.contains(configDigest)
      ? store.content.read(configDigest)
      : try await client.blobBytes(repository: reference, digest: configDigest, expectedSize: manifest.config.size)
    let config = try decode(ImageConfig.self, configBytes, what: "the image config of \(reference)")
    let diffIDs = try config.rootfs.diff_ids.map { try Digest(parsing: $0) }
    guard diffIDs.count == manifest.layers.count else {
      throw BerthError(
        .invalidArgument,
        "\(reference): the manifest lists \(manifest.layers.count) layers but the config \(diffIDs.count) diffIDs (the image is damaged)")
    }
    if !Platform(architecture: config.architecture, os: config.os, variant: config.variant).matches(platform) {
      throw BerthError(
        .unsupported,
        "\(reference) is for \(config.platform), not \(platform): pass --platform \(config.platform) to pull it anyway")
    }

    let chainIDs = LayerStore.chainIDs(diffIDs)
    var missing: [Int] = []
    for index in manifest.layers.indices {
      let blob = try Digest(parsing: manifest.layers[index].digest)
      if try store.layers.contains(chainIDs[index]) && store.content.contains(blob) {
        observe(.layer(blob, .alreadyExists))
      } else {
        missing.append(index)
        observe(.layer(blob, .waiting(size: manifest.layers[index].size)))
      }
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
      var next = missing.makeIterator()
      func launch() {
        guard let index = next.next() else { return }
        group.addTask {
          try await self.fetchLayer(
            manifest.layers[index], diffID: diffIDs[index], chainID: chainIDs[index],
            parent: index > 0 ? chainIDs[index - 1] : nil, reference: reference, observe: observe)
        }
      }
      for _ in 0..<concurrency { launch() }
      while try await group.next() != nil { launch() }
    }

    if MediaType.isIndex(top.mediaType) { try store.content.put(top.bytes, mediaType: top.mediaType) }
    try store.content.put(manifestFetch.bytes, mediaType: manifestFetch.mediaType)
    try store.content.put(configBytes, mediaType: manifest.config.mediaType)
    let existed = try store.image(id: configDigest) != nil
    var tags: [String] = []
    if reference.digest == nil { tags.append(reference.tagged.description) }
    let image = try store.addImage(
      config: config, configDigest: configDigest, manifestDigest: manifestFetch.digest, tags: tags,
      repoDigests: [(reference.repository, top.digest)], extraBlobs: extraBlobs)
    observe(.finished(image: image, upToDate: existed && missing.isEmpty))
    return image
  }

  /// Downloads one layer blob into the content store and unpacks it, both while it streams.
  func fetchLayer(
    _ descriptor: Descriptor, diffID: Digest, chainID: Digest, parent: Digest?, reference: ImageReference,
    observe: @escaping PullObserver
  ) async throws {
    let blob = try Digest(parsing: descriptor.digest)
    let compression = MediaType.layerCompression(descriptor.mediaType)
    let needsBlob = !store.content.contains(blob)
    let writer = needsBlob ? try store.content.ingest(expected: blob, size: descriptor.size) : nil
    defer { writer?.abort() }
    let total = descriptor.size
    let counter = ByteCounter()
    let unpacked: Bool
    do {
      unpacked = try await store.layers.unpack(chainID: chainID, diffID: diffID, parent: parent, compression: compression) { unpacker in
      try await client.blob(repository: reference, digest: blob, expectedSize: total) { buffer in
        try buffer.withUnsafeReadableBytes { bytes in try writer?.write(bytes) }
        try await unpacker.write(Array(buffer.readableBytesView))
        let received = counter.add(Int64(buffer.readableBytes))
        observe(.layer(blob, .downloading(received: received, total: total)))
      }
      // Stored while the layer's lock is held, so a pull waiting for it finds the blob too.
      if let writer {
        try writer.commit()
        try store.content.record(blob, size: total, mediaType: descriptor.mediaType)
      }
      observe(.layer(blob, .extracting))
    }
    } catch {
      // A blob stored for a layer that then failed (its diffID was wrong) is not kept.
      if needsBlob { try? store.content.remove(blob) }
      throw error
    }
    if !unpacked, let writer, !store.content.contains(blob) {
      // The layer was there (another pull made it) but not this blob (it came compressed
      // differently): the blob is still wanted for push and save.
      try await client.blob(repository: reference, digest: blob, expectedSize: total) { buffer in
        try buffer.withUnsafeReadableBytes { bytes in try writer.write(bytes) }
      }
      try writer.commit()
      try store.content.record(blob, size: total, mediaType: descriptor.mediaType)
    }
    try store.layers.recordSource(diffID: diffID, blob: blob, repository: reference.repository)
    observe(.layer(blob, .complete))
  }

  /// The manifest for `platform` in an index.
  static func select(_ platform: Platform, from index: ImageIndex, reference: ImageReference) throws -> Descriptor {
    let candidates = index.manifests.filter { descriptor in
      guard let offered = descriptor.platform else { return false }
      return platform.matches(offered)
    }
    // Prefer an exact variant match (arm/v7 over arm/v6 when asked for v7).
    if let exact = candidates.first(where: { $0.platform?.variant == platform.variant }) { return exact }
    if let first = candidates.first { return first }
    let offered = index.manifests.compactMap { $0.platform?.description }.joined(separator: ", ")
    throw BerthError(
      .notFound,
      "\(reference.familiarString) has no image for \(platform) (it has: \(offered.isEmpty ? "none" : offered)); pick one with --platform")
  }

  func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws -> T {
    do { return try JSON.decode(type, from: bytes) } catch {
      throw BerthError(.invalidArgument, "\(what) is malformed: \(error)")
    }
  }
}

/// A counter shared by the chunks of one download.
final class ByteCounter: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Int64 = 0

  func add(_ amount: Int64) -> Int64 {
    lock.lock()
    defer { lock.unlock() }
    value += amount
    return value
  }
}
