import BerthOCI
import BerthOS
import BerthSeccomp
import CLinux

/// Everything the container's init needs, worked out and validated by the runtime before it
/// clones: the init (a forked copy of this process) only carries the plan out, so that every
/// mistake in config.json is reported before anything is made, and nothing is parsed twice.
struct LaunchPlan {
  var containerID: String
  var bundle: String
  /// The root file system's absolute host path.
  var rootfs: String
  var spec: Spec

  var namespaces: NamespacePlan
  var process: ProcessPlan
  var mounts: [MountPlan]
  var devices: [DevicePlan]
  /// Whether /dev is a fresh mount (tmpfs) the runtime fills, or the image's own directory.
  var devIsMounted: Bool
  var hasDevpts: Bool
  var rootPropagation: UInt
  var readonlyRoot: Bool
  var noPivot: Bool
  /// Join a new session keyring (runc's default), so that containers do not share the
  /// runtime caller's kernel keys.
  var newKeyring: Bool
  var hostname: String?
  var domainname: String?
  var sysctls: [(key: String, value: String)]
  var maskedPaths: [String]
  var readonlyPaths: [String]
  var hooks: Hooks
  /// The exec fifo the init waits on (create), or nil when the runtime starts it directly (run).
  var execFifoPath: String?
  /// A connected console socket (--console-socket) to send the pty master to.
  var consoleSocketFD: Int32?
  /// The sealed memfd holding the exec stub.
  var execStubFD: Int32
  var seccomp: SeccompPlan?
  /// v1 `tasks` files the init writes "0" to, to enter its cgroups (see `CgroupEntry`).
  var cgroupTaskFDs: [Int32] = []
}

/// Namespaces to create and to join.
struct NamespacePlan {
  /// CLONE_NEW* flags of the namespaces created at clone (all new ones but time).
  var cloneFlags: UInt64 = 0
  /// With a joined user namespace, the new namespaces must belong to it: the init joins it
  /// first, then unshares these (and `cloneFlags` holds none of them).
  var unshareAfterUserJoin: UInt64 = 0
  /// A new cgroup namespace is rooted at the cgroups its creator is in. Unless the init is
  /// cloned straight into all of them (pure v2), it makes its cgroup namespace once it has
  /// entered its v1 cgroups.
  var unshareCgroupAfterEntering = false
  /// Namespaces to join, by path, in the order they must be joined.
  var join: [(type: NamespaceType, path: String)] = []
  var newTime = false
  var uidMappings: [IDMapping] = []
  var gidMappings: [IDMapping] = []
  var timeOffsets: [String: TimeOffset] = [:]

  func isNew(_ type: NamespaceType) -> Bool {
    (cloneFlags | unshareAfterUserJoin) & NamespacePlan.flag(type) != 0 || (type == .time && newTime)
      || (type == .cgroup && unshareCgroupAfterEntering)
  }
  func joins(_ type: NamespaceType) -> Bool { join.contains { $0.type == type } }
  /// Whether the container has a mount namespace of its own (new or joined).
  var hasMountNamespace: Bool { isNew(.mount) || joins(.mount) }
  var inUserNamespace: Bool { isNew(.user) || joins(.user) }

  static func flag(_ type: NamespaceType) -> UInt64 {
    switch type {
    case .pid: return BERTH_CLONE_NEWPID
    case .network: return BERTH_CLONE_NEWNET
    case .mount: return BERTH_CLONE_NEWNS
    case .ipc: return BERTH_CLONE_NEWIPC
    case .uts: return BERTH_CLONE_NEWUTS
    case .user: return BERTH_CLONE_NEWUSER
    case .cgroup: return BERTH_CLONE_NEWCGROUP
    case .time: return BERTH_CLONE_NEWTIME
    }
  }

  /// The name of the namespace's file under /proc/PID/ns.
  static func procName(_ type: NamespaceType) -> String {
    switch type {
    case .pid: return "pid"
    case .network: return "net"
    case .mount: return "mnt"
    case .ipc: return "ipc"
    case .uts: return "uts"
    case .user: return "user"
    case .cgroup: return "cgroup"
    case .time: return "time"
    }
  }
}

/// The process to exec and the credentials and limits it runs with.
struct ProcessPlan {
  var args: [String]
  var env: [String]
  var cwd: String
  var uid: UInt32
  var gid: UInt32
  var additionalGids: [UInt32]
  var umask: UInt32
  var capabilities: CapabilitySets?
  var rlimits: [(resource: Int32, soft: UInt64, hard: UInt64)]
  var noNewPrivileges: Bool
  var oomScoreAdj: Int?
  var terminal: Bool
  var consoleSize: ConsoleSize?
  var apparmorProfile: String?
  var personality: UInt?
  var scheduler: Scheduler?
  var ioPriority: IOPriority?
  /// Descriptors 3..<3+preserveFDs stay open in the container (--preserve-fds, LISTEN_FDS).
  var preserveFDs: Int
}

/// Capability sets as bit masks.
struct CapabilitySets {
  var bounding: UInt64
  var effective: UInt64
  var permitted: UInt64
  var inheritable: UInt64
  var ambient: UInt64
}

/// One mount, with its destination resolved in the container and its options split.
struct MountPlan {
  enum Kind { case bind, cgroup, filesystem }
  var kind: Kind
  var source: String
  var destination: String
  var type: String
  var options: MountOptions
  /// Index in config.json's mounts, for error messages.
  var index: Int
}

/// A device node to create in the container's /dev.
struct DevicePlan {
  var path: String
  var type: UInt32  // S_IFCHR, S_IFBLK or S_IFIFO
  var major: UInt
  var minor: UInt
  var mode: UInt32
  var uid: UInt32
  var gid: UInt32
}

/// A compiled seccomp filter and where its notification listener goes.
struct SeccompPlan {
  var program: SeccompProgram
  var listenerPath: String?
  var listenerMetadata: String?
}
