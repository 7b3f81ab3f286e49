#if canImport(Glibc)
import Glibc
#endif
import BerthOCI
import BerthOS

/// The cgroupfs implementation of ``CgroupManager`` for v1, hybrid and v2 hosts: one class, since
/// a hybrid host needs both sides at once. Each resource goes to the v1 hierarchy of its
/// controller when one is mounted, else to the directory in the cgroup2 hierarchy.
final class FSCgroupManager: CgroupManager {
  struct V1Directory {
    var controllers: [String]
    var dir: String
    var mountPoint: String
  }

  let host: CgroupHost
  /// One entry per v1 hierarchy (co-mounted controllers share an entry).
  let v1: [V1Directory]
  /// The directory in the cgroup2 hierarchy (v2 and hybrid).
  let unifiedDir: String?
  let v1ByController: [String: String]
  let paths: [String: String]
  var mode: CgroupMode { host.mode }

  /// Directories this object made, parents before children: what `rollback()` removes.
  private(set) var created: [String] = []
  /// The controllers of the cgroup2 root (`cgroup.controllers`), read when first needed.
  private var rootControllersCache: [String]?
  /// Controllers known to be enabled for `unifiedDir` (hybrid mode enables them on demand).
  var unifiedEnabled: Set<String> = []

  init(host: CgroupHost, v1: [(controllers: [String], dir: String, mountPoint: String)], unifiedDir: String?) {
    self.host = host
    self.v1 = v1.map { V1Directory(controllers: $0.controllers, dir: $0.dir, mountPoint: $0.mountPoint) }
    self.unifiedDir = unifiedDir
    var byController: [String: String] = [:]
    for entry in v1 { for controller in entry.controllers { byController[controller] = entry.dir } }
    self.v1ByController = byController
    var paths = byController
    if let unifiedDir { paths[""] = unifiedDir }
    self.paths = paths
  }

  // MARK: - Directories

  func create() throws {
    do {
      for entry in v1 {
        try makeDirectory(entry.dir, below: entry.mountPoint, cpuset: entry.controllers.contains("cpuset"))
      }
      if let unifiedDir, let unified = host.unified {
        try makeDirectory(unifiedDir, below: unified.mountPoint, cpuset: false)
        if mode == .v2 { try enableControllers(nil, for: unifiedDir) }
      }
    } catch {
      rollback()
      throw error
    }
  }

  func createAndApply(_ resources: LinuxResources?) throws {
    try create()
    guard let resources else { return }
    do {
      try set(resources, updating: false)
    } catch {
      rollback()
      throw error
    }
  }

  /// Removes, newest first, the directories this object made.
  func rollback() {
    for dir in created.reversed() { rmdir(dir) }
    created.removeAll()
  }

  /// mkdir, making missing parents up to the mount point; v1 cpuset directories get their
  /// parent's cpus and mems.
  private func makeDirectory(_ dir: String, below mountPoint: String, cpuset: Bool) throws {
    var error = CgroupIO.makeDirectory(dir)
    if error == ENOENT {
      let parent = Path.dirname(dir)
      guard parent != dir, parent.hasPrefix(mountPoint + "/") else {
        throw BerthError.system("create cgroup \(dir)", errno: error)
      }
      try makeDirectory(parent, below: mountPoint, cpuset: cpuset)
      error = CgroupIO.makeDirectory(dir)
    }
    if error == 0 {
      created.append(dir)
      if cpuset { try copyCpuset(into: dir, below: mountPoint, onlyIfEmpty: false) }
      return
    }
    if error == EEXIST {
      guard FS.isDirectory(dir) else {
        throw BerthError(.invalidArgument, "create cgroup \(dir): it exists and is not a directory")
      }
      if cpuset { try copyCpuset(into: dir, below: mountPoint, onlyIfEmpty: true) }
      return
    }
    throw BerthError.system("create cgroup \(dir)", errno: error)
  }

  /// Gives a v1 cpuset directory its parent's `cpuset.cpus` and `cpuset.mems` (filling empty
  /// parents first): an empty cpuset refuses processes with ENOSPC.
  func copyCpuset(into dir: String, below mountPoint: String, onlyIfEmpty: Bool) throws {
    for file in ["cpuset.cpus", "cpuset.mems"] {
      if onlyIfEmpty, !CgroupIO.trimmed(try CgroupIO.read(dir + "/" + file)).isEmpty { continue }
      let parent = Path.dirname(dir)
      var value = CgroupIO.trimmed(try CgroupIO.read(parent + "/" + file))
      if value.isEmpty && parent.hasPrefix(mountPoint + "/") {
        try copyCpuset(into: parent, below: mountPoint, onlyIfEmpty: true)
        value = CgroupIO.trimmed(try CgroupIO.read(parent + "/" + file))
      }
      if value.isEmpty { continue }
      try CgroupIO.write(dir + "/" + file, value)
    }
  }

  /// The controllers the cgroup2 root offers.
  func rootControllers() throws -> [String] {
    if let cached = rootControllersCache { return cached }
    guard let unified = host.unified else { return [] }
    let text = try CgroupIO.readTrimmedIfPresent(unified.mountPoint + "/cgroup.controllers") ?? ""
    let list = text.split(separator: " ").map(String.init)
    rootControllersCache = list
    return list
  }

  /// Enables `wanted` (nil: all the root offers) in `cgroup.subtree_control` of every ancestor
  /// of `dir`, from the root down. Levels that cannot enable a controller (a non-root ancestor
  /// with processes of its own refuses with EBUSY) are skipped: writes of that controller's
  /// files then fail with a message that says so.
  func enableControllers(_ wanted: [String]?, for dir: String) throws {
    guard let unified = host.unified else { return }
    var list = try wanted ?? rootControllers()
    if list.isEmpty { return }
    var ancestors: [String] = []
    var current = Path.dirname(dir)
    while current.hasPrefix(unified.mountPoint + "/") {
      ancestors.append(current)
      current = Path.dirname(current)
    }
    ancestors.append(unified.mountPoint)
    for ancestor in ancestors.reversed() {
      let file = ancestor + "/cgroup.subtree_control"
      if CgroupIO.tryWrite(file, list.map { "+" + $0 }.joined(separator: " ")) == 0 { continue }
      let offered = (try CgroupIO.readTrimmedIfPresent(ancestor + "/cgroup.controllers") ?? "").split(separator: " ").map(String.init)
      list = list.filter { offered.contains($0) }
      if list.isEmpty { break }
      if CgroupIO.tryWrite(file, list.map { "+" + $0 }.joined(separator: " ")) == 0 { continue }
      list = list.filter { CgroupIO.tryWrite(file, "+" + $0) == 0 }
      if list.isEmpty { break }
    }
    unifiedEnabled.formUnion(list)
  }

  func destroy() throws {
    var firstError: Error?
    var dirs = v1.map(\.dir)
    if let unifiedDir { dirs.append(unifiedDir) }
    for dir in dirs {
      do {
        try removeCgroup(dir)
        created.removeAll { $0 == dir || $0.hasPrefix(dir + "/") }
      } catch {
        if firstError == nil { firstError = error }
      }
    }
    if let firstError { throw firstError }
  }

  /// rmdir, child cgroups first; waits up to 1 s for exiting processes.
  private func removeCgroup(_ dir: String) throws {
    let deadline = Clock.monotonicNanoseconds() + 1_000_000_000
    var delay: UInt32 = 1_000
    while true {
      if rmdir(dir) == 0 { return }
      let error = errno
      if error == ENOENT { return }
      guard error == EBUSY || error == ENOTEMPTY else { throw BerthError.system("remove cgroup \(dir)", errno: error) }
      let children = CgroupIO.subdirectories(dir)
      if !children.isEmpty {
        for child in children { try removeCgroup(dir + "/" + child) }
        continue
      }
      if error == ENOTEMPTY { throw BerthError.system("remove cgroup \(dir)", errno: error) }
      if Clock.monotonicNanoseconds() >= deadline {
        let pids = (try? processes(in: dir)) ?? []
        let list = pids.prefix(10).map(String.init).joined(separator: ", ")
        throw BerthError(.invalidState, "remove cgroup \(dir): still in use after 1 s" + (pids.isEmpty ? "" : " by processes \(list)"), errno: EBUSY)
      }
      usleep(delay)
      delay = min(delay * 2, 50_000)
    }
  }

  // MARK: - Processes

  func addProcess(_ pid: Int32) throws {
    let value = String(pid)
    for entry in v1 {
      let file = entry.dir + "/cgroup.procs"
      var error = CgroupIO.tryWrite(file, value)
      if error == ENOSPC && entry.controllers.contains("cpuset") {
        try copyCpuset(into: entry.dir, below: entry.mountPoint, onlyIfEmpty: true)
        error = CgroupIO.tryWrite(file, value)
      }
      if error != 0 { throw CgroupIO.writeError(file, value, error).prefixed("add process \(pid) to its cgroup") }
    }
    if let unifiedDir {
      let file = unifiedDir + "/cgroup.procs"
      let error = CgroupIO.tryWrite(file, value)
      if error != 0 { throw CgroupIO.writeError(file, value, error).prefixed("add process \(pid) to its cgroup") }
    }
  }

  func openDirectoryForClone() throws -> Int32? {
    guard mode == .v2, let unifiedDir else { return nil }
    let oPath: Int32 = 0o10000000  // O_PATH (Linux, all architectures Berth builds for)
    return try check("open cgroup directory \(unifiedDir)") { open(unifiedDir, oPath | O_DIRECTORY | O_CLOEXEC) }
  }

  /// The directory that holds every process of the container: the cgroup2 one when there is
  /// one (hybrid too: every process joins it), else a v1 hierarchy.
  private var processDirectory: String? {
    unifiedDir ?? v1ByController["freezer"] ?? v1ByController["pids"] ?? v1ByController["memory"] ?? v1.first?.dir
  }

  func processes() throws -> [Int32] {
    guard let dir = processDirectory else { return [] }
    return try processes(in: dir)
  }

  func processes(in dir: String) throws -> [Int32] {
    var result = CgroupIO.parsePids(try CgroupIO.read(dir + "/cgroup.procs"))
    for child in CgroupIO.subdirectories(dir) {
      result += try processes(in: dir + "/" + child)
    }
    return result
  }

  func killAll(signal: Int32) throws {
    if signal == SIGKILL, let unifiedDir {
      let error = CgroupIO.tryWrite(unifiedDir + "/cgroup.kill", "1")
      if error == 0 { return }
      if error != ENOENT { throw CgroupIO.writeError(unifiedDir + "/cgroup.kill", "1", error) }
    }
    var frozen = false
    if freezerTarget != nil {
      do { try freeze(); frozen = true } catch {}  // signal anyway: a stuck freeze must not block a kill
    }
    defer { if frozen { try? thaw() } }
    for pid in try processes() {
      if kill(pid, signal) != 0 && errno != ESRCH {
        throw BerthError.system("send signal \(Signals.name(of: signal)) to process \(pid)")
      }
    }
  }

  // MARK: - Freezer

  enum FreezerTarget {
    case v1(String)
    case v2(String)
  }

  var freezerTarget: FreezerTarget? {
    if let dir = v1ByController["freezer"] { return .v1(dir) }
    if let unifiedDir { return .v2(unifiedDir) }
    return nil
  }

  private func requireFreezer() throws -> FreezerTarget {
    guard let target = freezerTarget else {
      throw BerthError(.unsupported, "this host mounts neither a v1 freezer hierarchy nor cgroup2: containers cannot be frozen")
    }
    return target
  }

  func freeze() throws {
    let target = try requireFreezer()
    let deadline = Clock.monotonicNanoseconds() + 5_000_000_000
    var delay: UInt32 = 100
    var rounds = 0
    switch target {
    case .v1(let dir):
      let file = dir + "/freezer.state"
      try CgroupIO.write(file, "FROZEN")
      while true {
        let state = CgroupIO.trimmed(try CgroupIO.read(file))
        if state == "FROZEN" { return }
        if Clock.monotonicNanoseconds() >= deadline {
          _ = CgroupIO.tryWrite(file, "THAWED")
          throw BerthError(.system, "freeze \(dir): \(file) still says \(state) after 5 s; thawed again")
        }
        usleep(delay)
        delay = min(delay * 2, 10_000)
        rounds += 1
        // Processes forked while freezing can escape a single write: repeat it now and then.
        if rounds % 10 == 0 { try CgroupIO.write(file, "FROZEN") }
      }
    case .v2(let dir):
      try CgroupIO.write(dir + "/cgroup.freeze", "1")
      while true {
        if try isFrozenV2(dir) { return }
        if Clock.monotonicNanoseconds() >= deadline {
          _ = CgroupIO.tryWrite(dir + "/cgroup.freeze", "0")
          throw BerthError(.system, "freeze \(dir): \(dir)/cgroup.events does not say \"frozen 1\" after 5 s; thawed again")
        }
        usleep(delay)
        delay = min(delay * 2, 10_000)
      }
    }
  }

  func thaw() throws {
    switch try requireFreezer() {
    case .v1(let dir): try CgroupIO.write(dir + "/freezer.state", "THAWED")
    case .v2(let dir): try CgroupIO.write(dir + "/cgroup.freeze", "0")
    }
  }

  func isFrozen() throws -> Bool {
    switch try requireFreezer() {
    case .v1(let dir): return CgroupIO.trimmed(try CgroupIO.read(dir + "/freezer.state")) == "FROZEN"
    case .v2(let dir): return try isFrozenV2(dir)
    }
  }

  private func isFrozenV2(_ dir: String) throws -> Bool {
    CgroupIO.parseFlatKeyed(try CgroupIO.read(dir + "/cgroup.events"))["frozen"] == 1
  }

  // MARK: - OOM

  func oomKillCount() throws -> UInt64? {
    if let dir = v1ByController["memory"] {
      guard let text = try CgroupIO.readTrimmedIfPresent(dir + "/memory.oom_control") else { return nil }
      return CgroupIO.parseFlatKeyed(text)["oom_kill"]
    }
    if let unifiedDir {
      guard let text = try CgroupIO.readTrimmedIfPresent(unifiedDir + "/memory.events") else { return nil }
      return CgroupIO.parseFlatKeyed(text)["oom_kill"]
    }
    return nil
  }
}
