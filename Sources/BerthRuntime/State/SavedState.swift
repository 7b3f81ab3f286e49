#if canImport(Glibc)
import Glibc
#endif
import BerthCgroups
import BerthJSON
import BerthOCI
import BerthOS

/// What the runtime remembers of a container between commands: `<root>/<id>/state.json`.
///
/// Written once, right after the init is cloned (so that `delete` can clean up after a
/// `create` that was killed half-way), and rewritten only by `update`.
struct SavedState: Codable {
  var id: String
  var bundle: String
  var rootfs: String
  var created: String
  /// The init's pid as the host sees it, and its start time (field 22 of /proc/PID/stat),
  /// which tells a live init from a reused pid.
  var pid: Int
  var pidStartTime: UInt64
  var annotations: [String: String]?
  var cgroupPaths: [String: String]
  var resources: LinuxResources?
  var hooks: Hooks?
  /// The namespaces the container has (created or joined), by spec name: `exec` joins these.
  var namespaces: [NamespaceType]
  /// Whether the compiled seccomp filter was saved beside the state, for `exec`.
  var hasSeccomp: Bool
  var owner: String?
}

/// The runtime's state directory (`--root`): one directory per container.
struct ContainerStore {
  let root: String

  static let stateFile = "state.json"
  static let execFifo = "exec.fifo"
  static let seccompFile = "seccomp.bpf"

  func directory(_ id: String) -> String { Path.join(root, id) }

  /// runc's rule for container IDs: letters, digits, "_", "+", "-" and "."; not "." or "..".
  static func validate(id: String) throws {
    let allowed = id.utf8.allSatisfy { byte in
      (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
        || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }
    guard !id.isEmpty, allowed, id != ".", id != ".." else {
      throw BerthError(.invalidArgument, "invalid container id \(quoted(id)): use letters, digits, \"_\", \"+\", \"-\" and \".\"")
    }
  }

  /// Makes the container's directory; fails if the ID is taken.
  func makeDirectory(for id: String) throws -> String {
    try ContainerStore.validate(id: id)
    if mkdir(root, 0o711) != 0 && errno != EEXIST {
      try FS.makeDirectories(root, mode: 0o711)
    }
    let dir = directory(id)
    if mkdir(dir, 0o711) != 0 {
      if errno == EEXIST { throw BerthError(.alreadyExists, "container with id \(quoted(id)) already exists") }
      throw BerthError.system("create the state directory \(dir)")
    }
    return dir
  }

  func save(_ state: SavedState) throws {
    try FS.writeAtomically(Path.join(directory(state.id), ContainerStore.stateFile), try JSON.encode(state), mode: 0o600)
  }

  func load(_ id: String) throws -> SavedState {
    try ContainerStore.validate(id: id)
    let path = Path.join(directory(id), ContainerStore.stateFile)
    let bytes: [UInt8]
    do {
      bytes = try FS.read(path)
    } catch let error as BerthError where error.errno == ENOENT {
      throw BerthError(.notFound, "container \(quoted(id)) does not exist")
    }
    do {
      return try JSON.decode(SavedState.self, from: bytes)
    } catch {
      throw BerthError(.internalError, "the state of container \(quoted(id)) is damaged (\(path): \(error)); remove it with delete --force")
    }
  }

  /// The IDs of every container in the store.
  func list() throws -> [String] {
    guard FS.isDirectory(root) else { return [] }
    return try FS.list(root).filter { FS.isDirectory(directory($0)) }.sorted()
  }

  /// The container's status now: from its init's liveness, the exec fifo and the freezer.
  func status(of state: SavedState, cgroups: (any CgroupManager)?) -> ContainerStatus {
    guard ProcessInfo.isAlive(pid: state.pid, startTime: state.pidStartTime) else { return .stopped }
    if FS.exists(Path.join(directory(state.id), ContainerStore.execFifo)) { return .created }
    if let cgroups, (try? cgroups.isFrozen()) == true { return .paused }
    return .running
  }

  /// The spec's state object for a container.
  func containerState(_ state: SavedState, status: ContainerStatus) -> ContainerState {
    ContainerState(
      id: state.id, status: status, pid: status == .stopped ? 0 : state.pid, bundle: state.bundle,
      rootfs: state.rootfs, created: state.created, owner: state.owner ?? "", annotations: state.annotations)
  }
}

/// Facts about host processes from /proc.
enum ProcessInfo {
  /// Field 22 of /proc/PID/stat (start time in clock ticks after boot), and field 3 (state).
  static func stat(pid: Int) -> (startTime: UInt64, state: Character)? {
    guard let bytes = try? FS.read("/proc/\(pid)/stat") else { return nil }
    // The command name (field 2) may hold spaces and parentheses: fields start after the last ")".
    guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
    let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
    guard fields.count > 19, let state = fields[0].first,
          let start = UInt64(String(decoding: fields[19], as: UTF8.self)) else { return nil }
    return (start, Character(Unicode.Scalar(state)))
  }

  /// Alive and not a zombie, and still the same process (same start time).
  static func isAlive(pid: Int, startTime: UInt64) -> Bool {
    guard pid > 0, let info = stat(pid: pid) else { return false }
    return info.startTime == startTime && info.state != "Z" && info.state != "X"
  }
}
