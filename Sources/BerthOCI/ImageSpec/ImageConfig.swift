/// An image's configuration blob (OCI image config, with Docker's extensions: Healthcheck,
/// OnBuild, Shell). Unknown fields are kept: a config is stored and pushed as the bytes it was.
public struct ImageConfig: Codable, Sendable, Equatable {
  public var created: String?
  public var author: String?
  public var architecture: String
  public var os: String
  public var variant: String?
  public var osVersion: String?
  public var config: ContainerConfig?
  public var rootfs: RootFS
  public var history: [History]?

  enum CodingKeys: String, CodingKey {
    case created, author, architecture, os, variant, config, rootfs, history
    case osVersion = "os.version"
  }

  public init(
    created: String? = nil, author: String? = nil, architecture: String, os: String, variant: String? = nil,
    osVersion: String? = nil, config: ContainerConfig? = nil, rootfs: RootFS, history: [History]? = nil
  ) {
    self.created = created
    self.author = author
    self.architecture = architecture
    self.os = os
    self.variant = variant
    self.osVersion = osVersion
    self.config = config
    self.rootfs = rootfs
    self.history = history
  }

  public var platform: Platform { Platform(architecture: architecture, os: os, osVersion: osVersion, variant: variant) }
}

/// How to run the image: the defaults `run` starts from.
public struct ContainerConfig: Codable, Sendable, Equatable {
  public var User: String?
  public var ExposedPorts: [String: EmptyObject]?
  public var Env: [String]?
  public var Entrypoint: [String]?
  public var Cmd: [String]?
  public var Volumes: [String: EmptyObject]?
  public var WorkingDir: String?
  public var Labels: [String: String]?
  public var StopSignal: String?
  public var ArgsEscaped: Bool?
  public var Healthcheck: HealthcheckConfig?
  public var OnBuild: [String]?
  public var Shell: [String]?

  public init(
    User: String? = nil, ExposedPorts: [String: EmptyObject]? = nil, Env: [String]? = nil,
    Entrypoint: [String]? = nil, Cmd: [String]? = nil, Volumes: [String: EmptyObject]? = nil,
    WorkingDir: String? = nil, Labels: [String: String]? = nil, StopSignal: String? = nil,
    ArgsEscaped: Bool? = nil, Healthcheck: HealthcheckConfig? = nil, OnBuild: [String]? = nil, Shell: [String]? = nil
  ) {
    self.User = User
    self.ExposedPorts = ExposedPorts
    self.Env = Env
    self.Entrypoint = Entrypoint
    self.Cmd = Cmd
    self.Volumes = Volumes
    self.WorkingDir = WorkingDir
    self.Labels = Labels
    self.StopSignal = StopSignal
    self.ArgsEscaped = ArgsEscaped
    self.Healthcheck = Healthcheck
    self.OnBuild = OnBuild
    self.Shell = Shell
  }
}

/// `{}`: the value of set-like maps (ExposedPorts, Volumes).
public struct EmptyObject: Codable, Sendable, Equatable, Hashable {
  public init() {}
  public init(from decoder: any Decoder) throws {}
  public func encode(to encoder: any Encoder) throws {
    _ = encoder.container(keyedBy: NoKeys.self)
  }
  enum NoKeys: CodingKey {}
}

/// Docker's HEALTHCHECK (durations in nanoseconds).
public struct HealthcheckConfig: Codable, Sendable, Equatable {
  public var Test: [String]?
  public var Interval: Int64?
  public var Timeout: Int64?
  public var StartPeriod: Int64?
  public var StartInterval: Int64?
  public var Retries: Int?

  public init(
    Test: [String]? = nil, Interval: Int64? = nil, Timeout: Int64? = nil, StartPeriod: Int64? = nil,
    StartInterval: Int64? = nil, Retries: Int? = nil
  ) {
    self.Test = Test
    self.Interval = Interval
    self.Timeout = Timeout
    self.StartPeriod = StartPeriod
    self.StartInterval = StartInterval
    self.Retries = Retries
  }
}

/// The layers' uncompressed digests, bottom first.
public struct RootFS: Codable, Sendable, Equatable {
  public var type: String
  public var diff_ids: [String]

  public init(type: String = "layers", diff_ids: [String]) {
    self.type = type
    self.diff_ids = diff_ids
  }
}

/// One step of how the image was made; `empty_layer` steps added no layer.
public struct History: Codable, Sendable, Equatable {
  public var created: String?
  public var created_by: String?
  public var author: String?
  public var comment: String?
  public var empty_layer: Bool?

  public init(created: String? = nil, created_by: String? = nil, author: String? = nil, comment: String? = nil, empty_layer: Bool? = nil) {
    self.created = created
    self.created_by = created_by
    self.author = author
    self.comment = comment
    self.empty_layer = empty_layer
  }
}
