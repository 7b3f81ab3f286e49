import BerthOCI
import BerthOS
import Foundation
import Testing

@testable import BerthCgroups

/// cgroup v2 against the real unified hierarchy of this hybrid host (/sys/fs/cgroup/unified),
/// seen as a pure v2 host: its core files (procs, freeze, kill, events) and the eBPF device
/// filter work without any controller.
@Suite("cgroup v2 on the unified hierarchy", .enabled(if: TestHost.isHybrid, "needs root on a hybrid host with /sys/fs/cgroup/unified"))
struct UnifiedV2Tests {
  @Test func deviceFilter() throws {
    let host = try TestHost.unifiedOnlyHost()
    #expect(host.mode == .v2)
    try withCgroup(host: host) { manager, _ in
      try manager.createAndApply(LinuxResources(devices: [
        .init(allow: false, access: "rwm"),
        .init(allow: true, type: "c", major: 1, minor: 3, access: "rwm"),
      ]))
      let dir = try #require(manager.paths[""])
      let script = "sleep 0.5; echo x > /dev/null || exit 10; (echo x > /dev/zero) 2>/dev/null && exit 11; exit 0"
      try withProcess("/bin/sh", ["sh", "-c", script]) { child in
        try manager.addProcess(child.pid)
        #expect(try child.wait() == .exited(0))
      }
      // update replaces the program: still one attached, and /dev/zero is now allowed.
      try manager.update(LinuxResources(devices: [
        .init(allow: false, access: "rwm"),
        .init(allow: true, type: "c", major: 1, minor: 3, access: "rwm"),
        .init(allow: true, type: "c", major: 1, minor: 5, access: "rw"),
      ]))
      let fd = open(dir, O_RDONLY | O_DIRECTORY)
      defer { close(fd) }
      #expect(try DeviceFilter.attachedPrograms(fd, dir: dir).count == 1)
      let script2 = "sleep 0.5; echo x > /dev/zero || exit 12; exit 0"
      try withProcess("/bin/sh", ["sh", "-c", script2]) { child in
        try manager.addProcess(child.pid)
        #expect(try child.wait() == .exited(0))
      }
    }
  }

  @Test func freezeKillProcesses() throws {
    let host = try TestHost.unifiedOnlyHost()
    try withCgroup(host: host) { manager, path in
      try manager.create()
      let fd = try #require(try manager.openDirectoryForClone())
      close(fd)
      try withProcess("/bin/sleep", ["sleep", "30"]) { child in
        try manager.addProcess(child.pid)
        #expect(procCgroups(child.pid)[""] == path)
        try withProcess("/bin/sleep", ["sleep", "30"]) { other in
          try manager.addProcess(other.pid)
          #expect(try Set(manager.processes()) == [child.pid, other.pid])
          try manager.freeze()
          #expect(try manager.isFrozen())
          #expect(readFile(manager.paths[""]! + "/cgroup.freeze") == "1")
          try manager.thaw()
          #expect(try !manager.isFrozen())
          try manager.killAll(signal: SIGKILL)  // cgroup.kill
          #expect(try other.wait() == .signaled(SIGKILL))
        }
        #expect(try child.wait() == .signaled(SIGKILL))
      }
    }
  }

  @Test func childCgroupsAreListedAndRemoved() throws {
    let host = try TestHost.unifiedOnlyHost()
    try withCgroup(host: host) { manager, _ in
      try manager.create()
      let dir = try #require(manager.paths[""])
      try FileManager.default.createDirectory(atPath: dir + "/inner", withIntermediateDirectories: false)
      try withProcess("/bin/sleep", ["sleep", "30"]) { child in
        try "\(child.pid)".write(toFile: dir + "/inner/cgroup.procs", atomically: false, encoding: .utf8)
        #expect(try manager.processes() == [child.pid])
        try manager.killAll(signal: SIGKILL)
        _ = try child.wait()
      }
      try manager.destroy()
      #expect(!FileManager.default.fileExists(atPath: dir))
    }
  }
}
