#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import Synchronization

/// How the host arranges its cgroup hierarchies.
public enum CgroupMode: String, Sendable, Codable {
  /// Only cgroup v1 hierarchies (one per controller or group of co-mounted controllers).
  case v1
  /// v1 controller hierarchies plus a cgroup2 mount for the unified hierarchy (usually
  /// `/sys/fs/cgroup/unified`) that holds few or no controllers.
  case hybrid
  /// One cgroup2 hierarchy with every controller (most current distributions).
  case v2
}

/// The cgroup hierarchies this host mounts, found at run time (never assumed).
///
/// Detect once per process: `detect()` with its default arguments caches its answer, so
/// `/proc/self/mountinfo` is read at most once per process. On a pure v2 host detection
/// costs one access(2) and does not read mountinfo at all.
public struct CgroupHost: Sendable, Equatable {
  /// One mounted hierarchy.
  public struct Hierarchy: Sendable, Equatable {
    /// Where it is mounted: "/sys/fs/cgroup/memory".
    public var mountPoint: String
    /// The cgroup of the hierarchy that is mounted there ("/" unless a cgroup namespace or a
    /// bind mount shows a subtree); field 4 of mountinfo.
    public var root: String
    /// v1: the controllers of the hierarchy ("cpu", "cpuacct" when co-mounted, or a named
    /// hierarchy such as "name=systemd"). Empty for the cgroup2 hierarchy.
    public var controllers: [String]

    public init(mountPoint: String, root: String = "/", controllers: [String] = []) {
      self.mountPoint = mountPoint
      self.root = root
      self.controllers = controllers
    }
  }

  public var mode: CgroupMode
  /// The v1 hierarchies (empty in v2 mode), in mountinfo order.
  public var hierarchies: [Hierarchy]
  /// The cgroup2 hierarchy: the whole tree in v2 mode, `/sys/fs/cgroup/unified` (or where it
  /// is) in hybrid mode, nil in v1 mode.
  public var unified: Hierarchy?

  public init(mode: CgroupMode, hierarchies: [Hierarchy], unified: Hierarchy?) {
    self.mode = mode
    self.hierarchies = hierarchies
    self.unified = unified
  }

  /// The v1 hierarchy that holds `controller` ("memory", "cpuacct", "name=systemd").
  public func hierarchy(for controller: String) -> Hierarchy? {
    hierarchies.first { $0.controllers.contains(controller) }
  }

  /// Mount points by v1 controller name; "" names the cgroup2 mount when there is one.
  public var mountPoints: [String: String] {
    var result: [String: String] = [:]
    for hierarchy in hierarchies {
      for controller in hierarchy.controllers where result[controller] == nil {
        result[controller] = hierarchy.mountPoint
      }
    }
    if let unified { result[""] = unified.mountPoint }
    return result
  }

  /// The default place where distributions mount cgroups.
  public static let defaultRoot = "/sys/fs/cgroup"

  private static let cache = Mutex<CgroupHost?>(nil)

  /// Finds the host's cgroup layout.
  ///
  /// - Parameters:
  ///   - mountinfo: the text of a mountinfo file, for tests; nil reads `/proc/self/mountinfo`
  ///     (after a check for `root/cgroup.controllers` that answers alone on a pure v2 host). With the
  ///     default arguments the answer is cached for the life of the process.
  ///   - root: where cgroups are mounted. A cgroup2 mount exactly there means v2 mode; v1
  ///     and cgroup2 mounts below it are preferred over mounts elsewhere.
  /// - Throws: `BerthError` `.unsupported` when no cgroup file system is mounted.
  public static func detect(mountinfo: String? = nil, root: String = defaultRoot) throws -> CgroupHost {
    if let mountinfo { return try parse(mountinfo: mountinfo, root: root) }
    let cacheable = root == defaultRoot
    if cacheable, let cached = cache.withLock({ $0 }) { return cached }
    let host: CgroupHost
    // Only a cgroup2 root has cgroup.controllers (the tmpfs of v1 and hybrid hosts does not):
    // one access(2) answers for pure v2 hosts without reading mountinfo.
    if isUnifiedOnly(root: root) {
      host = CgroupHost(mode: .v2, hierarchies: [], unified: Hierarchy(mountPoint: Path.clean(root)))
    } else {
      let text = try FS.readText("/proc/self/mountinfo")
      host = try parse(mountinfo: text, root: root)
    }
    if cacheable { cache.withLock { $0 = host } }
    return host
  }

  /// Whether the host mounts only cgroup2, at `root`: one access(2), no mountinfo. The
  /// runtime asks before it clones (a pure v2 host lets the child start in its cgroup).
  public static func isUnifiedOnly(root: String = defaultRoot) -> Bool {
    access(Path.join(root, "cgroup.controllers"), F_OK) == 0
  }

  /// The controllers a v1 mount's super options can name (everything else there is an option
  /// such as "rw", "xattr" or "release_agent=...").
  static let v1Controllers: Set<String> = [
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "net_prio", "blkio",
    "perf_event", "hugetlb", "pids", "rdma", "misc", "debug",
  ]

  static func parse(mountinfo: String, root: String) throws -> CgroupHost {
    let cleanRoot = Path.clean(root)
    var v1: [Hierarchy] = []
    var v2: [Hierarchy] = []
    // Split on bytes, not Characters: grapheme breaking made this parse the slowest step of
    // a container start.
    let space = UInt8(ascii: " ")
    for line in mountinfo.utf8.split(separator: UInt8(ascii: "\n")) {
      let fields = line.split(separator: space, omittingEmptySubsequences: true)
      guard fields.count >= 8, let dash = fields[6...].firstIndex(where: { $0.elementsEqual("-".utf8) }),
            dash + 1 < fields.count else { continue }
      let fsType = fields[dash + 1]
      let isV2 = fsType.elementsEqual("cgroup2".utf8)
      guard isV2 || fsType.elementsEqual("cgroup".utf8) else { continue }
      let mountPoint = MountTable.unescape(fields[4])
      let mountRoot = MountTable.unescape(fields[3])
      if isV2 {
        v2.append(Hierarchy(mountPoint: mountPoint, root: mountRoot))
        continue
      }
      var controllers: [String] = []
      if dash + 3 < fields.count {
        for option in fields[dash + 3].split(separator: UInt8(ascii: ",")) {
          let name = String(Substring(option))
          if name.hasPrefix("name=") || v1Controllers.contains(name) { controllers.append(name) }
        }
      }
      if controllers.isEmpty { continue }
      v1.append(Hierarchy(mountPoint: mountPoint, root: mountRoot, controllers: controllers))
    }
    func underRoot(_ hierarchy: Hierarchy) -> Bool {
      hierarchy.mountPoint.hasPrefix(cleanRoot + "/") || hierarchy.mountPoint == cleanRoot
    }
    // The same hierarchy can be mounted twice (bind mounts): keep one, preferring mounts under root.
    var seen: Set<[String]> = []
    var hierarchies: [Hierarchy] = []
    for hierarchy in v1.filter(underRoot) + v1.filter({ !underRoot($0) }) where seen.insert(hierarchy.controllers).inserted {
      hierarchies.append(hierarchy)
    }
    hierarchies.sort { (v1.firstIndex(of: $0) ?? 0) < (v1.firstIndex(of: $1) ?? 0) }
    let unified = v2.first { $0.mountPoint == cleanRoot } ?? v2.first(where: underRoot) ?? v2.first
    if let unified, unified.mountPoint == cleanRoot || hierarchies.isEmpty {
      return CgroupHost(mode: .v2, hierarchies: [], unified: unified)
    }
    if hierarchies.isEmpty {
      throw BerthError(.unsupported, "no cgroup file system is mounted: /proc/self/mountinfo lists no cgroup or cgroup2 mount")
    }
    return CgroupHost(mode: unified == nil ? .v1 : .hybrid, hierarchies: hierarchies, unified: unified)
  }
}
