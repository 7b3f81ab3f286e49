/// An image manifest: the config blob and the layers, in order (OCI image manifest and Docker
/// schema 2 share this shape).
public struct Manifest: Codable, Sendable, Equatable {
  public var schemaVersion: Int
  public var mediaType: String?
  public var artifactType: String?
  public var config: Descriptor
  public var layers: [Descriptor]
  public var subject: Descriptor?
  public var annotations: [String: String]?

  public init(
    schemaVersion: Int = 2, mediaType: String? = MediaType.ociManifest, artifactType: String? = nil,
    config: Descriptor, layers: [Descriptor], subject: Descriptor? = nil, annotations: [String: String]? = nil
  ) {
    self.schemaVersion = schemaVersion
    self.mediaType = mediaType
    self.artifactType = artifactType
    self.config = config
    self.layers = layers
    self.subject = subject
    self.annotations = annotations
  }
}

/// A list of manifests for several platforms (OCI image index, Docker manifest list).
public struct ImageIndex: Codable, Sendable, Equatable {
  public var schemaVersion: Int
  public var mediaType: String?
  public var artifactType: String?
  public var manifests: [Descriptor]
  public var subject: Descriptor?
  public var annotations: [String: String]?

  public init(
    schemaVersion: Int = 2, mediaType: String? = MediaType.ociIndex, artifactType: String? = nil,
    manifests: [Descriptor], subject: Descriptor? = nil, annotations: [String: String]? = nil
  ) {
    self.schemaVersion = schemaVersion
    self.mediaType = mediaType
    self.artifactType = artifactType
    self.manifests = manifests
    self.subject = subject
    self.annotations = annotations
  }
}

/// Only what tells manifests, indexes and schema 1 apart.
public struct ManifestProbe: Codable, Sendable {
  public var schemaVersion: Int?
  public var mediaType: String?
  public var manifests: [Descriptor]?
  public var config: Descriptor?
  public var layers: [Descriptor]?
}
