/// A volume as the store records it (the `record` column of the `volume` table, as JSON).
public struct VolumeRecord: Codable, Sendable, Equatable {
  /// The label Docker puts on volumes made for a container's `-v /path` or an image's VOLUME.
  public static let anonymousLabel = "com.docker.volume.anonymous"

  public var name: String
  /// Always "local": Berth has no volume plugins.
  public var driver: String
  /// When it was made, RFC 3339 in local time as Docker shows it ("2024-05-01T10:00:00Z").
  public var created: String
  public var labels: [String: String]
  /// The local driver's options (`type`, `device`, `o`).
  public var options: [String: String]
  /// Made for one container (`-v /path`, an image's VOLUME): `rm -v`, `--rm` and a plain
  /// `volume prune` remove it.
  public var anonymous: Bool
  /// The image's content at the mount point was copied in once (or the volume held data
  /// already): later containers do not copy again, even if the volume was emptied since.
  public var populated: Bool

  public init(
    name: String, driver: String = "local", created: String, labels: [String: String] = [:],
    options: [String: String] = [:], anonymous: Bool = false, populated: Bool = false
  ) {
    self.name = name
    self.driver = driver
    self.created = created
    self.labels = labels
    self.options = options
    self.anonymous = anonymous
    self.populated = populated
  }

  /// Records written before a field existed decode with its default.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    name = try container.decode(String.self, forKey: .name)
    driver = try container.decodeIfPresent(String.self, forKey: .driver) ?? "local"
    created = try container.decodeIfPresent(String.self, forKey: .created) ?? ""
    labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
    options = try container.decodeIfPresent([String: String].self, forKey: .options) ?? [:]
    anonymous = try container.decodeIfPresent(Bool.self, forKey: .anonymous) ?? false
    populated = try container.decodeIfPresent(Bool.self, forKey: .populated) ?? false
  }

  /// Whether `_data` is a mount (tmpfs, a bind, a device) rather than a plain directory.
  public var needsMount: Bool { !options.isEmpty && options["type"] != nil }
}
