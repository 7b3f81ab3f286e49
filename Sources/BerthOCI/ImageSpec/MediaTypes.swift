/// Media types of the OCI image spec and Docker's distribution formats.
public enum MediaType {
  public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
  public static let ociIndex = "application/vnd.oci.image.index.v1+json"
  public static let ociConfig = "application/vnd.oci.image.config.v1+json"
  public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
  public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
  public static let ociLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
  public static let ociLayerNondistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
  public static let ociEmpty = "application/vnd.oci.empty.v1+json"

  public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
  public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
  public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
  public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
  public static let dockerLayerZstd = "application/vnd.docker.image.rootfs.diff.tar.zstd"
  public static let dockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
  /// Schema 1 (signed or not): refused, with a message saying why.
  public static let dockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json"
  public static let dockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"

  /// Everything a registry may answer for a manifest request, best first.
  public static let manifestAccept = [ociIndex, dockerManifestList, ociManifest, dockerManifest]

  public static func isIndex(_ type: String?) -> Bool { type == ociIndex || type == dockerManifestList }
  public static func isManifest(_ type: String?) -> Bool { type == ociManifest || type == dockerManifest }
  public static func isSchema1(_ type: String?) -> Bool { type == dockerSchema1 || type == dockerSchema1Signed }

  /// How a layer blob is compressed, from its media type.
  public static func layerCompression(_ type: String) -> LayerCompression? {
    switch type {
    case ociLayer, "application/vnd.docker.image.rootfs.diff.tar": return LayerCompression.none
    case ociLayerGzip, dockerLayerGzip, dockerForeignLayerGzip, ociLayerNondistributableGzip: return .gzip
    case ociLayerZstd, dockerLayerZstd: return .zstd
    default: return nil
    }
  }
}

/// The compression of a layer blob.
public enum LayerCompression: String, Sendable, Codable, CaseIterable {
  case none, gzip, zstd
}
