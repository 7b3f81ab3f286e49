import BerthOCI
import BerthOS
import Foundation
import Testing

@testable import BerthCgroups

/// What the integration tests need from the machine.
enum TestHost {
  static let isRoot = getuid() == 0

  /// Root, and a cgroup tree this process may write (a v1 hierarchy or cgroup2 root).
  static let canWriteCgroups: Bool = {
    guard isRoot, let host = try? CgroupHost.detect() else { return false }
    let dir = host.hierarchies.first?.mountPoint ?? host.unified?.mountPoint ?? "/nonexistent"
    return access(dir, W_OK) == 0
  }()

  static let skipReason: Comment = "needs root and a writable /sys/fs/cgroup (run the tests as root on a host with cgroups)"

  /// This host is hybrid with the cgroup2 side at /sys/fs/cgroup/unified (the project's machines).
  static let isHybrid: Bool = canWriteCgroups && (try? CgroupHost.detect())?.mode == .hybrid

  static let unifiedMountPoint = "/sys/fs/cgroup/unified"

  /// A v2 host view of the real unified hierarchy of a hybrid host.
  static func unifiedOnlyHost() throws -> CgroupHost {
    try CgroupHost.detect(mountinfo: "41 31 0:38 / \(unifiedMountPoint) rw,relatime - cgroup2 cgroup2 rw\n", root: unifiedMountPoint)
  }

  static func uniqueName(_ tag: String = "") -> String {
    "berth-test-\(tag)\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
  }

  /// Controllers the cgroup2 root offers.
  static func unifiedRootControllers() -> [String] {
    ((try? String(contentsOfFile: unifiedMountPoint + "/cgroup.controllers", encoding: .utf8)) ?? "")
      .split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
  }
}

/// Runs `body` with a manager for a fresh absolute cgroup path, and destroys the cgroup however
/// the body ends.
func withCgroup(
  host: CgroupHost? = nil, tag: String = "", _ body: (any CgroupManager, String) throws -> Void
) throws {
  let host = try host ?? CgroupHost.detect()
  let path = "/" + TestHost.uniqueName(tag)
  let manager = try host.manager(cgroupsPath: path, containerID: "unused")
  defer {
    do { try manager.destroy() } catch { Issue.record("destroy \(path): \(error)") }
    for dir in manager.paths.values where FileManager.default.fileExists(atPath: dir) {
      Issue.record("left behind: \(dir)")
    }
  }
  try body(manager, path)
}

/// A child process of a test.
final class Child {
  let pid: pid_t
  private(set) var reaped = false

  init(pid: pid_t) { self.pid = pid }

  /// Waits up to `seconds` for the process to end.
  func wait(seconds: UInt64 = 10) throws -> BerthOS.ExitStatus? {
    let status = try Subprocess.wait(pid, timeoutNanoseconds: seconds * 1_000_000_000)
    if status != nil { reaped = true }
    return status
  }
}

/// Starts a child process; kills and reaps it when `body` ends, unless `body` reaped it.
func withProcess(_ path: String, _ args: [String], _ body: (Child) throws -> Void) throws {
  let child = Child(pid: try Subprocess.spawn(path, args: args, env: ["PATH=/usr/bin:/bin"]))
  defer {
    if !child.reaped {
      kill(child.pid, SIGKILL)
      _ = try? child.wait()
    }
  }
  try body(child)
}

func readFile(_ path: String) -> String {
  (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "<unreadable>"
}

/// The cgroup lines of /proc/PID/cgroup: controller list → path.
func procCgroups(_ pid: pid_t) -> [String: String] {
  var result: [String: String] = [:]
  for line in readFile("/proc/\(pid)/cgroup").split(separator: "\n") {
    let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
    if fields.count == 3 { result[String(fields[1])] = String(fields[2]) }
  }
  return result
}

/// The message of the error `body` throws (nil when it does not throw).
func errorMessage(_ body: () throws -> Void) -> String? {
  do {
    try body()
    return nil
  } catch {
    return "\(error)"
  }
}
