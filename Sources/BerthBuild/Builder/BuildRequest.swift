import BerthOCI
import BerthOS

/// What `berth build` was asked for.
public struct BuildRequest: Sendable {
  /// The build context: a directory on the host (a tar context is unpacked into one first).
  public var contextDirectory: String
  /// The Dockerfile's text and the name its errors use ("Dockerfile:7: ...").
  public var dockerfile: String
  public var dockerfileName: String
  /// `-t`: names for the image.
  public var tags: [String] = []
  /// `--build-arg K=V` (and `K` taken from the environment by the CLI).
  public var buildArgs: [String: String] = [:]
  /// `--target`: the stage to build (the last one when nil).
  public var target: String?
  /// `--no-cache`.
  public var noCache = false
  /// `--pull`: pull every FROM image even when the store has it.
  public var pull = false
  /// `--label`: labels added to the final image.
  public var labels: [String: String] = [:]
  /// `--network` for RUN steps.
  public var network: BuildNetwork = .host
  /// `--platform`: only the host's is supported.
  public var platform: String?
  /// `-q`: no progress; RUN output only when a step fails.
  public var quiet = false
  /// SOURCE_DATE_EPOCH: layer mtimes clamped to it, history and `created` set to it.
  public var sourceDateEpoch: Int64?

  public init(contextDirectory: String, dockerfile: String, dockerfileName: String = "Dockerfile") {
    self.contextDirectory = contextDirectory
    self.dockerfile = dockerfile
    self.dockerfileName = dockerfileName
  }
}

/// `--network` of `berth build`: RUN steps share the host's network namespace (the default;
/// Berth's bridge network is not wired into builds yet), or get one with only loopback.
public enum BuildNetwork: String, Sendable {
  case host
  case none

  /// Parses the flag; "default" is the host's network.
  public static func parse(_ text: String) throws -> BuildNetwork {
    switch text {
    case "host", "default", "": return .host
    case "none": return .none
    default:
      throw BerthError(.invalidArgument, "--network \(text): builds support host (the default) and none")
    }
  }
}

/// What the build made.
public struct BuildResult: Sendable {
  public var imageID: Digest
  /// Full tag names.
  public var tags: [String]
  /// Steps run (not taken from the cache).
  public var stepsRun: Int
  public var stepsCached: Int
}
