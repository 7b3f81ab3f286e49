#if canImport(Glibc)
import Glibc
#endif
import BerthOCI
import BerthOS

/// One container's cgroup: its directories in every hierarchy of the host, the limits written
/// there, the processes in it.
///
/// Get one from ``CgroupHost/manager(cgroupsPath:containerID:defaultParent:)`` when creating a
/// container, and from ``CgroupHost/manager(savedPaths:)`` in later commands (`kill`, `pause`,
/// `delete`, `events`), which read ``paths`` from the runtime's state file.
///
/// Which hierarchy serves what:
/// - v1: each mounted controller (and named hierarchies such as `name=systemd`) gets a
///   directory; a group of co-mounted controllers (`cpu,cpuacct`) shares one.
/// - v2: one directory in the cgroup2 tree; `create()` enables the root's controllers in the
///   `cgroup.subtree_control` of every ancestor, from the root down.
/// - hybrid: v1 for every v1-mounted controller, plus a directory in the unified hierarchy that
///   every process joins too (as runc does). That directory also serves what v1 does not
///   mount: hugetlb limits and `unified` keys when the cgroup2 side has them, the freezer and
///   an eBPF device filter when no v1 freezer or devices hierarchy is mounted, and
///   `cgroup.kill`.
///
/// Every method is synchronous and cheap in system calls: only the files for fields that are
/// set are written, each with open + one write + close.
public protocol CgroupManager: AnyObject {
  /// The host layout this manager works on.
  var mode: CgroupMode { get }

  /// The directories this container's cgroup occupies, by v1 controller name ("memory",
  /// "cpu", "cpuacct", "name=systemd", ...; co-mounted controllers map to the same directory),
  /// and "" for the directory in the cgroup2 hierarchy (v2 and hybrid). Save it in the state
  /// file and re-open the manager with ``CgroupHost/manager(savedPaths:)``.
  var paths: [String: String] { get }

  /// Makes the cgroup's directories (and missing parents) in every hierarchy. An existing
  /// directory is fine. v1 cpuset: new directories (and existing empty ones) get
  /// `cpuset.cpus` and `cpuset.mems` from their parent, without which no process could join.
  /// v2: enables the root's controllers in each ancestor's `cgroup.subtree_control`.
  /// On failure the directories made so far are removed again.
  func create() throws

  /// Writes the limits in `resources` (only the fields that are set; 0 counts as unset for
  /// the memory, swap, reservation, CPU quota/period and real-time fields, as in runc).
  /// Validates everything that can be checked without the kernel first, so that a bad value
  /// fails before any write. Errors name the spec field, the value and the file:
  /// `linux.resources.cpu.period: write "100" to /sys/fs/cgroup/cpu/x/cpu.cfs_period_us: Invalid argument`.
  ///
  /// v2 conversions (as runc and crun): shares → `cpu.weight` = 1 + (shares − 2) × 9999 / 262142;
  /// blkio weight → `io.bfq.weight` as it is, else `io.weight` = 1 + (weight − 10) × 9999 / 990;
  /// swap → `memory.swap.max` = swap − limit; quota and period → `cpu.max`; throttles → one
  /// `io.max` line per device. v1-only fields (swappiness, real-time CPU, net_cls/net_prio,
  /// leaf weights, disableOOMKiller) fail with a clear error on v2; `kernel` and, on v2,
  /// `kernelTCP` are ignored (the kernel dropped them). `unified` keys are written last, as is.
  ///
  /// Devices are default-deny, and the rules apply in order with, per access bit, the last
  /// matching rule winning: v1 writes "a" to `devices.deny` then each rule; v2 (and hybrid
  /// hosts without a v1 devices hierarchy) attach an eBPF program (see ``DeviceRule``).
  func apply(_ resources: LinuxResources) throws

  /// `create()` then `apply(resources)`; when either fails, removes every directory this
  /// manager made (including new parents) before rethrowing, so a failed start leaves nothing
  /// behind.
  func createAndApply(_ resources: LinuxResources?) throws

  /// Changes the limits of a running container. Like ``apply(_:)``, plus what changing live
  /// values needs: v1 writes `memory.memsw.limit_in_bytes` before `memory.limit_in_bytes`
  /// when the limit grows and after when it shrinks (it reads the current limit to tell);
  /// v2 honours `checkBeforeUpdate`; a period without a quota keeps the current quota (v2);
  /// a new device filter replaces the old one atomically (v2, BPF_F_REPLACE). On v1, new
  /// device rules start again from "deny all", so devices are briefly refused while they
  /// are written, and the kernel refuses that reset once the cgroup has child cgroups.
  func update(_ resources: LinuxResources) throws

  /// Moves `pid` (all its threads) into the cgroup in every hierarchy (writes `cgroup.procs`).
  func addProcess(_ pid: Int32) throws

  /// v2 only: an `O_PATH | O_DIRECTORY | O_CLOEXEC` descriptor of the cgroup directory, for
  /// `clone3(CLONE_INTO_CGROUP)`, so that the child starts inside the cgroup without a write
  /// to `cgroup.procs`. The caller closes it. nil on v1 and hybrid hosts (use ``addProcess(_:)``).
  func openDirectoryForClone() throws -> Int32?

  /// Freezes every process and waits until the kernel reports the cgroup frozen (v1
  /// `freezer.state` FROZEN, v2 `cgroup.events` "frozen 1"); thaws and throws after 5 s.
  func freeze() throws
  /// Thaws the cgroup.
  func thaw() throws
  /// Whether the cgroup is frozen (not merely freezing).
  func isFrozen() throws -> Bool

  /// Every process in the cgroup and its child cgroups (`cgroup.procs`, recursively).
  func processes() throws -> [Int32]

  /// Sends `signal` to every process: with SIGKILL and a `cgroup.kill` file (v2, and the
  /// unified directory in hybrid mode), one write; otherwise freeze, signal each process,
  /// thaw (so that no process forks away between listing and signalling).
  func killAll(signal: Int32) throws

  /// Usage statistics, shaped like runc's `events --stats` data.
  func stats() throws -> CgroupStats

  /// How many processes the OOM killer killed in this cgroup (v1 `memory.oom_control`
  /// "oom_kill", v2 `memory.events` "oom_kill"); nil when the kernel does not tell.
  func oomKillCount() throws -> UInt64?

  /// Removes the cgroup's directories, child cgroups first. Retries briefly while processes
  /// are still exiting (EBUSY). Already removed is fine. Parents are left in place (another
  /// container may share them), except those this same manager object made and rolls back.
  func destroy() throws
}

extension CgroupHost {
  /// A manager for a new container's cgroup, from `linux.cgroupsPath` (runc's cgroupfs
  /// semantics).
  ///
  /// - Parameters:
  ///   - cgroupsPath: `linux.cgroupsPath`. Absolute ("/a/b"): relative to the root of each
  ///     hierarchy. Relative ("a/b"): relative to the cgroup of the calling process in each
  ///     hierarchy (from `/proc/self/cgroup`). The systemd form "slice:prefix:name" is refused:
  ///     berth-runtime has only the cgroupfs driver. ".." may not climb above the root (or
  ///     above the calling process's cgroup); the path may not name that root itself.
  ///   - containerID: used when `cgroupsPath` is nil or empty.
  ///   - defaultParent: the cgroup the default path goes under: `defaultParent/containerID`.
  ///     The default "/berth" keeps containers out of the caller's own cgroup, which on v2
  ///     cannot have both processes and children with controllers. Pass "" for runc's default,
  ///     the relative path "containerID" (under the caller's cgroup).
  public func manager(cgroupsPath: String?, containerID: String, defaultParent: String = "/berth") throws -> any CgroupManager {
    let location = try CgroupLocation.resolve(cgroupsPath: cgroupsPath, containerID: containerID, defaultParent: defaultParent)
    var own: [String: String]? = nil
    if !location.isAbsolute { own = try CgroupLocation.ownCgroups() }
    var v1: [(controllers: [String], dir: String, mountPoint: String)] = []
    for hierarchy in hierarchies {
      let dir = try location.directory(in: hierarchy, key: hierarchy.controllers[0], own: own)
      v1.append((hierarchy.controllers, dir, hierarchy.mountPoint))
    }
    var unifiedDir: String? = nil
    if let unified { unifiedDir = try location.directory(in: unified, key: "", own: own) }
    return FSCgroupManager(host: self, v1: v1, unifiedDir: unifiedDir)
  }

  /// Re-opens the cgroup of an existing container from the ``CgroupManager/paths`` saved when
  /// it was created. Every directory must lie inside the matching hierarchy of this host.
  public func manager(savedPaths: [String: String]) throws -> any CgroupManager {
    var byDir: [String: (controllers: [String], mountPoint: String)] = [:]
    var order: [String] = []
    var unifiedDir: String? = nil
    for key in savedPaths.keys.sorted() {
      guard let dir = savedPaths[key] else { continue }
      let clean = Path.clean(dir)
      let mountPoint: String
      if key.isEmpty {
        guard let unified else {
          throw BerthError(.invalidArgument, "saved cgroup path \(quoted(dir)) is in the cgroup2 hierarchy, which this host does not mount")
        }
        mountPoint = unified.mountPoint
      } else {
        guard let hierarchy = hierarchy(for: key) else {
          throw BerthError(.invalidArgument, "saved cgroup path \(quoted(dir)) is for the \(key) controller, which this host does not mount")
        }
        mountPoint = hierarchy.mountPoint
      }
      guard clean.hasPrefix(mountPoint + "/") else {
        throw BerthError(.invalidArgument, "saved cgroup path \(quoted(dir)) for \(key.isEmpty ? "the cgroup2 hierarchy" : key) is not below its mount point \(mountPoint)")
      }
      if key.isEmpty { unifiedDir = clean; continue }
      if byDir[clean] == nil { order.append(clean); byDir[clean] = ([], mountPoint) }
      byDir[clean]?.controllers.append(key)
    }
    let v1 = order.compactMap { dir in byDir[dir].map { (controllers: $0.controllers, dir: dir, mountPoint: $0.mountPoint) } }
    return FSCgroupManager(host: self, v1: v1, unifiedDir: unifiedDir)
  }
}
