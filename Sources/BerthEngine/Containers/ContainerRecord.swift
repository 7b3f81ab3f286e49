import BerthOCI
import BerthOS

/// A container as the store keeps it: what `create` decided. What changes while it runs (pid,
/// exit code, health) lives in the monitor's files: see ``ContainerState``.
public struct ContainerRecord: Codable, Sendable, Equatable {
  /// 64 hex digits.
  public var id: String
  /// Without Docker's leading "/".
  public var name: String
  /// RFC 3339, UTC, nanoseconds.
  public var created: String
  /// The image's ID ("sha256:…"), as it was when the container was made.
  public var imageID: String
  /// The flags the container was made with.
  public var options: ContainerOptions
  /// What runs: Docker's Path and Args (entrypoint and command resolved against the image).
  public var path: String
  public var args: [String]
  /// The environment after merging the image's with `-e`.
  public var env: [String]
  /// The effective working directory and user.
  public var workingDir: String
  public var user: String
  public var hostname: String
  /// Labels: the image's with the container's on top.
  public var labels: [String: String]
  /// The signal that stops it: `--stop-signal`, else the image's STOPSIGNAL, else SIGTERM.
  public var stopSignal: String
  /// The healthcheck in force (the image's or the flags'), nil for none.
  public var healthcheck: HealthcheckConfig?
  /// The OCI runtime: its name ("berth-runtime", "runc") and executable.
  public var runtimeName: String
  public var runtimePath: String
  /// The mounts as resolved at create (named and anonymous volumes, binds, tmpfs).
  public var mounts: [ResolvedMount]
  /// Anonymous volumes made for this container (removed with `rm -v` and `--rm`).
  public var anonymousVolumes: [String]

  /// The 12-digit ID `ps` shows.
  public var shortID: String { String(id.prefix(12)) }
}
