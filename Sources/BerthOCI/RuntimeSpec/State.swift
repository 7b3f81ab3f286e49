/// The container's status, as the spec's state operation reports it.
public enum ContainerStatus: String, Codable, Sendable {
  case creating, created, running, stopped
  /// Not in the spec, but reported by runc and expected by engines for frozen containers.
  case paused
}

/// The state of a container: what `berth-runtime state` prints and hooks read on stdin.
///
/// `rootfs`, `created` and `owner` are not in the spec; runc reports them and engines read them.
public struct ContainerState: Codable, Sendable, Equatable {
  public var ociVersion: String
  public var id: String
  public var status: ContainerStatus
  public var pid: Int?
  public var bundle: String
  public var rootfs: String?
  public var created: String?
  public var owner: String?
  public var annotations: [String: String]?

  public init(
    ociVersion: String = OCIVersion.current, id: String, status: ContainerStatus, pid: Int? = nil,
    bundle: String, rootfs: String? = nil, created: String? = nil, owner: String? = nil,
    annotations: [String: String]? = nil
  ) {
    self.ociVersion = ociVersion
    self.id = id
    self.status = status
    self.pid = pid
    self.bundle = bundle
    self.rootfs = rootfs
    self.created = created
    self.owner = owner
    self.annotations = annotations
  }
}

/// What the runtime sends with a seccomp listener fd to `linux.seccomp.listenerPath`.
public struct ContainerProcessState: Codable, Sendable, Equatable {
  public static let seccompFdName = "seccompFd"

  public var ociVersion: String
  /// Names of the descriptors sent alongside, in order.
  public var fds: [String]
  public var pid: Int
  public var metadata: String?
  public var state: ContainerState

  public init(
    ociVersion: String = OCIVersion.current, fds: [String], pid: Int, metadata: String? = nil,
    state: ContainerState
  ) {
    self.ociVersion = ociVersion
    self.fds = fds
    self.pid = pid
    self.metadata = metadata
    self.state = state
  }
}
