/// The OCI runtime-spec 1.2 configuration (`config.json`), Linux parts.
///
/// Field names follow the JSON keys. A field the spec marks OPTIONAL is a Swift optional, so
/// that "absent" and "zero" stay distinct, as they do for the runtime.
public struct Spec: Codable, Sendable, Equatable {
  public var ociVersion: String
  public var process: Process?
  public var root: Root?
  public var hostname: String?
  public var domainname: String?
  public var mounts: [Mount]?
  public var hooks: Hooks?
  public var annotations: [String: String]?
  public var linux: Linux?

  public init(
    ociVersion: String = OCIVersion.current, process: Process? = nil, root: Root? = nil,
    hostname: String? = nil, domainname: String? = nil, mounts: [Mount]? = nil,
    hooks: Hooks? = nil, annotations: [String: String]? = nil, linux: Linux? = nil
  ) {
    self.ociVersion = ociVersion
    self.process = process
    self.root = root
    self.hostname = hostname
    self.domainname = domainname
    self.mounts = mounts
    self.hooks = hooks
    self.annotations = annotations
    self.linux = linux
  }
}

/// Versions of the runtime spec this package reads and writes.
public enum OCIVersion {
  public static let current = "1.2.0"
  public static let minimum = "1.0.0"
}

/// The container's root filesystem.
public struct Root: Codable, Sendable, Equatable {
  public var path: String
  public var readonly: Bool?

  public init(path: String, readonly: Bool? = nil) {
    self.path = path
    self.readonly = readonly
  }
}

/// A mount in the container, fstab style: `options` holds both mount flags and data.
public struct Mount: Codable, Sendable, Equatable {
  public var destination: String
  public var type: String?
  public var source: String?
  public var options: [String]?
  public var uidMappings: [IDMapping]?
  public var gidMappings: [IDMapping]?

  public init(
    destination: String, type: String? = nil, source: String? = nil, options: [String]? = nil,
    uidMappings: [IDMapping]? = nil, gidMappings: [IDMapping]? = nil
  ) {
    self.destination = destination
    self.type = type
    self.source = source
    self.options = options
    self.uidMappings = uidMappings
    self.gidMappings = gidMappings
  }
}

/// A command run at a point of the container's lifecycle.
public struct Hook: Codable, Sendable, Equatable {
  public var path: String
  public var args: [String]?
  public var env: [String]?
  /// Seconds; must be greater than zero when present.
  public var timeout: Int?

  public init(path: String, args: [String]? = nil, env: [String]? = nil, timeout: Int? = nil) {
    self.path = path
    self.args = args
    self.env = env
    self.timeout = timeout
  }
}

/// Lifecycle hooks, in the order the runtime runs them.
public struct Hooks: Codable, Sendable, Equatable {
  /// Deprecated by the spec, still used by engines: runs in the runtime namespace at create.
  public var prestart: [Hook]?
  public var createRuntime: [Hook]?
  public var createContainer: [Hook]?
  public var startContainer: [Hook]?
  public var poststart: [Hook]?
  public var poststop: [Hook]?

  public init(
    prestart: [Hook]? = nil, createRuntime: [Hook]? = nil, createContainer: [Hook]? = nil,
    startContainer: [Hook]? = nil, poststart: [Hook]? = nil, poststop: [Hook]? = nil
  ) {
    self.prestart = prestart
    self.createRuntime = createRuntime
    self.createContainer = createContainer
    self.startContainer = startContainer
    self.poststart = poststart
    self.poststop = poststop
  }
}
