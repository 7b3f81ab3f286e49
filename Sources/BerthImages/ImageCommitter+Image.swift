import BerthJSON
import BerthOCI
import BerthOS
import Foundation

extension ImageCommitter {
  /// Writes an image: `config` is complete (history entries with empty_layer flags included)
  /// except rootfs.diff_ids, which become base's diff_ids + newLayers' diffIDs. Stores the
  /// config and an OCI manifest (base's layer blobs, then the new gzip blobs; what `push`
  /// sends as is), tags it with `tags` (anything `ImageReference.parse` takes: "x",
  /// "localhost:5000/x:1", full names), and returns the record. A failure leaves no image row.
  public func writeImage(base: ImageRecord?, newLayers: [CommittedLayer], config: ImageConfig, tags: [String]) async throws -> ImageRecord {
    let names = try tags.map { tag -> String in
      let reference = try ImageReference.parse(tag)
      guard reference.digest == nil else {
        throw BerthError(.invalidArgument, "cannot tag an image with a digest reference (\(tag)): give a tag")
      }
      return reference.tagged.description
    }
    let storeLock = try await FileLock.acquire(store.layout.storeLock, shared: true)
    defer { storeLock.release() }

    var diffIDs: [Digest] = []
    var descriptors: [Descriptor] = []
    if let base {
      let manifest = try store.manifest(of: base)
      diffIDs = try store.config(of: base).config.rootfs.diff_ids.map { try Digest(parsing: $0) }
      guard manifest.layers.count == diffIDs.count else {
        throw BerthError(
          .invalidState,
          "base image \(base.id.shortID) lists \(manifest.layers.count) layer blobs but \(diffIDs.count) diff IDs"
            + " (the image is damaged; pull it again)")
      }
      descriptors = manifest.layers.map { layer in
        var layer = layer
        layer.mediaType = Self.ociLayerMediaType(layer.mediaType)
        return layer
      }
    }
    for layer in newLayers {
      diffIDs.append(layer.diffID)
      descriptors.append(Descriptor(mediaType: MediaType.ociLayerGzip, digest: layer.blob.description, size: layer.blobSize))
    }
    // Every layer of the stack must be there, and each new one on the layer below it.
    let chainIDs = LayerStore.chainIDs(diffIDs)
    let firstNew = chainIDs.count - newLayers.count
    for (offset, layer) in newLayers.enumerated() where chainIDs[firstNew + offset] != layer.chainID {
      throw BerthError(
        .invalidArgument,
        "layer \(layer.diffID) was made on another parent than the layer below it in this image"
          + " (chain ID \(layer.chainID), expected \(chainIDs[firstNew + offset])): commit it on that layer")
    }
    for (index, chainID) in chainIDs.enumerated() where try !store.layers.contains(chainID) {
      throw BerthError(.layerMissing, "layer \(index + 1) of the image (\(chainID)) is not in the store (was it pruned?); commit it again")
    }
    for descriptor in descriptors where !store.content.contains(try Digest(parsing: descriptor.digest)) {
      throw BerthError(.layerMissing, "layer blob \(descriptor.digest) is not in the store (was it pruned?); commit it again")
    }

    var config = config
    config.rootfs = RootFS(diff_ids: diffIDs.map(\.description))
    let configBytes = try JSON.encode(config)
    let configDigest = try store.content.put(configBytes, mediaType: MediaType.ociConfig)
    let manifest = Manifest(
      config: Descriptor(mediaType: MediaType.ociConfig, digest: configDigest.description, size: Int64(configBytes.count)),
      layers: descriptors)
    let manifestDigest = try store.content.put(try JSON.encode(manifest), mediaType: MediaType.ociManifest)
    return try store.addImage(
      config: config, configDigest: configDigest, manifestDigest: manifestDigest, tags: names, repoDigests: [])
  }

  /// The OCI media type of a layer blob listed with a Docker one (the bytes are the same).
  static func ociLayerMediaType(_ mediaType: String) -> String {
    switch mediaType {
    case MediaType.dockerLayerGzip: return MediaType.ociLayerGzip
    case MediaType.dockerLayerZstd: return MediaType.ociLayerZstd
    case MediaType.dockerForeignLayerGzip: return MediaType.ociLayerNondistributableGzip
    default: return mediaType
    }
  }
}
