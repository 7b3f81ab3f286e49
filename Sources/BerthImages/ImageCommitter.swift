import BerthArchive
import BerthJSON
import BerthOCI
import BerthOS
import Foundation

/// A layer `ImageCommitter.commitLayer` made: its blob is in the content store and its files
/// are unpacked under its chain ID.
public struct CommittedLayer: Sendable, Equatable {
  /// SHA-256 of the uncompressed tar stream.
  public var diffID: Digest
  /// The layer's chain ID on top of its parent (what `layers/<chain-id>` holds).
  public var chainID: Digest
  /// The compressed (gzip) blob in the content store.
  public var blob: Digest
  public var blobSize: Int64
  /// Unpacked size as Docker counts it (`history` SIZE): the bytes of the layer's files, each
  /// inode once. The layer store records it.
  public var size: Int64

  public init(diffID: Digest, chainID: Digest, blob: Digest, blobSize: Int64, size: Int64) {
    self.diffID = diffID
    self.chainID = chainID
    self.blob = blob
    self.blobSize = blobSize
    self.size = size
  }
}

/// Makes layers from directories and images from layers: `commit` and the builder.
///
/// Made from the engine's image store: `ImageCommitter(store: engine.images)` (the store's
/// `layout` is the `StoreLayout` of `--root`).
///
/// Layers and blobs are written under the store lock held shared, as pulls do, so garbage
/// collection (which takes it exclusively) never sees half of them. Between `commitLayer` and
/// `writeImage` a layer is not yet referenced by any image: a `berth image prune` run in that
/// window may collect it, and `writeImage` then fails naming the missing layer.
public struct ImageCommitter: Sendable {
  public let store: ImageStore
  /// gzip level of the layer blobs. 1 by default: on a 670 MB layer it wrote in 11 s what
  /// level 6 wrote in 45 s, for a blob 11% larger. Docker and podman store layers
  /// uncompressed and compress them at push; a commit that compresses slowly would make
  /// every build step slow.
  public var compressionLevel: Int

  public init(store: ImageStore, compressionLevel: Int = 1) {
    self.store = store
    self.compressionLevel = compressionLevel
  }

  /// The chain ID of `diffID` on top of `parent` (image-spec config.md).
  public static func chainID(of diffID: Digest, parent: Digest?) -> Digest {
    guard let parent else { return diffID }
    return Digest(sha256Of: Array("\(parent) \(diffID)".utf8))
  }
}

extension BerthError.Code {
  /// A layer an image needs is not in the store.
  public static let layerMissing = BerthError.Code("layerMissing")
}
