#if canImport(Glibc)
import Glibc
#endif
import BerthCgroups
import BerthOS
import CLinux

/// How a new process enters its container's cgroups without the runtime moving it.
///
/// Moving a process by writing its pid to `cgroup.procs` takes the kernel's global
/// threadgroup lock for writing, which waits for an RCU grace period: measured here, 0.2 to
/// 6 ms per container start. Two ways avoid it: clone3(CLONE_INTO_CGROUP) starts the child in
/// a cgroup2 directory (v2, and the unified hierarchy of hybrid hosts); and a thread moving
/// itself through a v1 `tasks` file ("0") skips that lock. The runtime (root) opens the
/// `tasks` files, the child inherits the descriptors and writes to them first thing; the kernel
/// checks permission against the opener's credentials, so this works in user namespaces too.
struct CgroupEntry {
  /// A cgroup2 directory for CLONE_INTO_CGROUP.
  var cloneFD: Int32?
  /// The `tasks` file of each v1 hierarchy the container has a directory in.
  var taskFDs: [Int32] = []

  init(manager: any CgroupManager, host: CgroupHost) throws {
    let paths = manager.paths
    if let unified = paths[""] {
      let fd = open(unified, BERTH_O_PATH | O_DIRECTORY | O_CLOEXEC)
      if fd < 0 { throw BerthError.system("open the container's cgroup \(unified)") }
      cloneFD = fd
    }
    var seen = Set<String>()
    for (key, dir) in paths where !key.isEmpty && seen.insert(dir).inserted {
      let fd = open(dir + "/tasks", O_WRONLY | O_CLOEXEC)
      if fd < 0 {
        let failure = errno
        close()
        throw BerthError.system("open \(dir)/tasks", errno: failure)
      }
      taskFDs.append(fd)
    }
  }

  func close() {
    if let cloneFD { _ = Glibc.close(cloneFD) }
    for fd in taskFDs { _ = Glibc.close(fd) }
  }

  /// In the new process: moves the calling (single-threaded) process into every v1 hierarchy's
  /// cgroup, then closes the descriptors.
  static func enter(taskFDs: [Int32]) throws {
    for fd in taskFDs {
      let rc = retryOnInterrupt { write(fd, "0", 1) }
      if rc < 0 { throw BerthError.system("enter the container's cgroups") }
      _ = Glibc.close(fd)
    }
  }

  /// The slow way, for kernels without CLONE_INTO_CGROUP: the runtime moves the process.
  static func move(_ pid: pid_t, into dir: String) throws {
    try FS.writeExisting(dir + "/cgroup.procs", String(pid))
  }
}
