/// A content descriptor: what a blob is, its digest and size (image-spec descriptor.md).
public struct Descriptor: Codable, Sendable, Equatable, Hashable {
  public var mediaType: String
  public var digest: String
  public var size: Int64
  public var urls: [String]?
  public var annotations: [String: String]?
  public var platform: Platform?
  public var artifactType: String?

  public init(
    mediaType: String, digest: String, size: Int64, urls: [String]? = nil,
    annotations: [String: String]? = nil, platform: Platform? = nil, artifactType: String? = nil
  ) {
    self.mediaType = mediaType
    self.digest = digest
    self.size = size
    self.urls = urls
    self.annotations = annotations
    self.platform = platform
    self.artifactType = artifactType
  }
}

/// The platform an image runs on.
public struct Platform: Codable, Sendable, Equatable, Hashable, CustomStringConvertible {
  public var architecture: String
  public var os: String
  public var osVersion: String?
  public var osFeatures: [String]?
  public var variant: String?

  enum CodingKeys: String, CodingKey {
    case architecture, os, variant
    case osVersion = "os.version"
    case osFeatures = "os.features"
  }

  public init(architecture: String, os: String, osVersion: String? = nil, osFeatures: [String]? = nil, variant: String? = nil) {
    self.architecture = architecture
    self.os = os
    self.osVersion = osVersion
    self.osFeatures = osFeatures
    self.variant = variant
  }

  /// "linux/amd64", "linux/arm64/v8".
  public var description: String {
    [os, architecture, variant].compactMap { $0 }.joined(separator: "/")
  }

  /// The platform of this machine, in Go's names (what registries use).
  public static var host: Platform {
    #if arch(x86_64)
    return Platform(architecture: "amd64", os: "linux")
    #elseif arch(arm64)
    return Platform(architecture: "arm64", os: "linux", variant: "v8")
    #elseif arch(s390x)
    return Platform(architecture: "s390x", os: "linux")
    #elseif arch(powerpc64le)
    return Platform(architecture: "ppc64le", os: "linux")
    #elseif arch(riscv64)
    return Platform(architecture: "riscv64", os: "linux")
    #else
    return Platform(architecture: "unknown", os: "linux")
    #endif
  }

  /// Parses "linux/amd64", "linux/arm64/v8", "amd64" (os defaults to linux).
  public static func parse(_ text: String) throws -> Platform {
    let parts = text.lowercased().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    switch parts.count {
    case 1 where !parts[0].isEmpty: return normalized(Platform(architecture: parts[0], os: "linux"))
    case 2 where !parts[0].isEmpty && !parts[1].isEmpty: return normalized(Platform(architecture: parts[1], os: parts[0]))
    case 3 where !parts[0].isEmpty && !parts[1].isEmpty && !parts[2].isEmpty:
      return normalized(Platform(architecture: parts[1], os: parts[0], variant: parts[2]))
    default:
      throw PlatformError(text: text)
    }
  }

  /// Go's aliases: x86_64 → amd64, aarch64 → arm64 (v8), armhf → arm/v7, ...
  static func normalized(_ platform: Platform) -> Platform {
    var result = platform
    switch platform.architecture {
    case "x86_64", "x86-64": result.architecture = "amd64"
    case "aarch64": result.architecture = "arm64"
    case "armhf": result.architecture = "arm"; result.variant = result.variant ?? "v7"
    case "armel": result.architecture = "arm"; result.variant = result.variant ?? "v6"
    case "i386", "i686": result.architecture = "386"
    default: break
    }
    if result.architecture == "arm64" && result.variant == nil { result.variant = "v8" }
    return result
  }

  /// Whether an image for `other` runs here as `self` asks: same os and architecture, and
  /// the variant matches when both name one (arm64 images often omit "v8").
  public func matches(_ other: Platform) -> Bool {
    let mine = Platform.normalized(self), theirs = Platform.normalized(other)
    guard mine.os == theirs.os, mine.architecture == theirs.architecture else { return false }
    if let wanted = mine.variant, let offered = theirs.variant { return wanted == offered }
    return true
  }
}

/// A platform string that is not os/arch[/variant].
public struct PlatformError: Error, CustomStringConvertible {
  public var text: String
  public var description: String {
    "invalid platform \"\(text)\": use os/architecture[/variant], such as linux/amd64 or linux/arm64/v8"
  }
}
