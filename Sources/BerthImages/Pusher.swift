import BerthOCI
import BerthOS
import BerthRegistry
import Foundation

/// What a push reports.
public enum PushEvent: Sendable {
  case preparing(Digest, size: Int64)
  case layerExists(Digest)
  case mounted(Digest, from: String)
  case uploading(Digest, sent: Int64, total: Int64)
  case pushed(Digest)
  /// The manifest is in: "tag: digest: … size: …", as Docker prints it.
  case finished(tag: String, digest: Digest, size: Int)
}

public typealias PushObserver = @Sendable (PushEvent) -> Void

/// Pushes an image from the store: blobs the registry has are skipped, blobs another
/// repository of the same registry has are mounted, the rest uploaded; then the manifest.
public struct Pusher: Sendable {
  public let store: ImageStore
  public let client: RegistryClient
  public var concurrency = 3

  public init(store: ImageStore, client: RegistryClient) {
    self.store = store
    self.client = client
  }

  /// Pushes the image named `source` (a local name or ID) as `target`.
  public func push(_ source: String, to target: ImageReference, observe: @escaping PushObserver = { _ in }) async throws -> Digest {
    let storeLock = try await FileLock.acquire(store.layout.storeLock, shared: true)
    defer { storeLock.release() }
    let image = try store.resolve(source)
    let manifestBytes = try store.content.read(image.manifestDigest)
    let manifest = try store.manifest(of: image)
    let blobs = manifest.layers + [manifest.config]
    for descriptor in blobs {
      observe(.preparing(try Digest(parsing: descriptor.digest), size: descriptor.size))
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
      var next = blobs.makeIterator()
      func launch() {
        guard let descriptor = next.next() else { return }
        group.addTask { try await self.pushBlob(descriptor, to: target, observe: observe) }
      }
      for _ in 0..<concurrency { launch() }
      while try await group.next() != nil { launch() }
    }
    let mediaType = manifest.mediaType ?? MediaType.ociManifest
    let digest = try await client.putManifest(
      repository: target, reference: target.digest?.description ?? target.tag ?? "latest", bytes: manifestBytes,
      mediaType: mediaType)
    try store.layers.recordSources(manifest: manifest, config: try store.config(of: image).config, repository: target.repository)
    observe(.finished(tag: target.tag ?? "latest", digest: digest, size: manifestBytes.count))
    return digest
  }

  func pushBlob(_ descriptor: Descriptor, to target: ImageReference, observe: @escaping PushObserver) async throws {
    let digest = try Digest(parsing: descriptor.digest)
    if try await client.blobExists(repository: target, digest: digest) != nil {
      observe(.layerExists(digest))
      return
    }
    // A repository of the same registry that has the blob: the registry can link it.
    let sameRegistry = try store.layers.sources(of: digest).first { source in
      source != target.repository && source.hasPrefix(target.domain + "/")
    }
    let mountFrom = try sameRegistry.map { try ImageReference.parse($0) }
    let path = store.layout.blob(digest)
    guard FS.exists(path) else {
      throw BerthError(
        .notFound,
        "blob \(digest) of this image is not in the store (images loaded from an archive keep their layers uncompressed; pull the image again)")
    }
    let source = try FileBlobSource(path: path) { sent in
      observe(.uploading(digest, sent: sent, total: descriptor.size))
    }
    let mounted = try await client.uploadBlob(
      repository: target, digest: digest, size: descriptor.size, mountFrom: mountFrom, data: source)
    if mounted, let mountFrom {
      observe(.mounted(digest, from: mountFrom.repository))
    } else {
      observe(.pushed(digest))
    }
  }
}

extension LayerStore {
  /// After a push: the target repository holds every layer blob of the manifest.
  func recordSources(manifest: Manifest, config: ImageConfig, repository: String) throws {
    for (descriptor, diffID) in zip(manifest.layers, config.rootfs.diff_ids) {
      try recordSource(diffID: try Digest(parsing: diffID), blob: try Digest(parsing: descriptor.digest), repository: repository)
    }
  }
}
