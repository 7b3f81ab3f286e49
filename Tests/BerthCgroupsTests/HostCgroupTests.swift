import BerthOCI
import BerthOS
import Foundation
import Testing

@testable import BerthCgroups

/// Real cgroups of this host, through `CgroupHost.detect()` (hybrid on the project's machines:
/// v1 controllers plus the unified directory).
@Suite("Host cgroups", .enabled(if: TestHost.canWriteCgroups, TestHost.skipReason))
struct HostCgroupTests {
  @Test func createApplyReadBack() throws {
    try withCgroup { manager, path in
      try manager.create()
      for dir in Set(manager.paths.values) { #expect(FileManager.default.fileExists(atPath: dir), "\(dir)") }
      var resources = LinuxResources()
      resources.memory = LinuxMemory(limit: 64 << 20, reservation: 32 << 20)
      resources.cpu = LinuxCPU(shares: 512, quota: 50_000, period: 100_000, cpus: "0", mems: "0")
      resources.pids = LinuxPids(limit: 42)
      resources.blockIO = LinuxBlockIO(weight: 300)
      try manager.apply(resources)

      let host = try CgroupHost.detect()
      switch host.mode {
      case .v1, .hybrid:
        let memory = try #require(manager.paths["memory"])
        #expect(readFile(memory + "/memory.limit_in_bytes") == "67108864")
        #expect(readFile(memory + "/memory.soft_limit_in_bytes") == "33554432")
        let cpu = try #require(manager.paths["cpu"])
        #expect(readFile(cpu + "/cpu.shares") == "512")
        #expect(readFile(cpu + "/cpu.cfs_quota_us") == "50000")
        #expect(readFile(cpu + "/cpu.cfs_period_us") == "100000")
        let cpuset = try #require(manager.paths["cpuset"])
        #expect(readFile(cpuset + "/cpuset.cpus") == "0")
        #expect(readFile(cpuset + "/cpuset.mems") == "0")
        #expect(readFile(try #require(manager.paths["pids"]) + "/pids.max") == "42")
        let blkio = try #require(manager.paths["blkio"])
        let weightFile = FileManager.default.fileExists(atPath: blkio + "/blkio.weight") ? "/blkio.weight" : "/blkio.bfq.weight"
        #expect(readFile(blkio + weightFile).hasSuffix("300"))
      case .v2:
        let dir = try #require(manager.paths[""])
        #expect(readFile(dir + "/memory.max") == "67108864")
        #expect(readFile(dir + "/cpu.max") == "50000 100000")
        #expect(readFile(dir + "/pids.max") == "42")
      }
      _ = path
    }
  }

  @Test func processesFreezeKillStats() throws {
    try withCgroup { manager, path in
      try manager.createAndApply(LinuxResources(pids: LinuxPids(limit: 100)))
      try withProcess("/bin/sleep", ["sleep", "30"]) { child in
        try manager.addProcess(child.pid)
        // /proc/PID/cgroup shows the container's path in every hierarchy.
        let lines = procCgroups(child.pid)
        let host = try CgroupHost.detect()
        for hierarchy in host.hierarchies {
          #expect(lines[hierarchy.controllers.joined(separator: ",")] == path, "\(hierarchy.controllers)")
        }
        if host.unified != nil { #expect(lines[""] == path) }
        #expect(try manager.processes() == [child.pid])

        try manager.freeze()
        #expect(try manager.isFrozen())
        if let freezer = manager.paths["freezer"] {
          #expect(readFile(freezer + "/freezer.state") == "FROZEN")
          // The v1 freezer parks tasks in an uninterruptible sleep: /proc shows "D".
          #expect(readFile("/proc/\(child.pid)/status").contains("State:\tD"))
        }
        try manager.thaw()
        #expect(try !manager.isFrozen())

        try manager.killAll(signal: SIGKILL)
        let status = try child.wait()
        #expect(status == .signaled(SIGKILL))
        #expect(try manager.processes().isEmpty)
      }
    }
  }

  @Test func killAllWithOtherSignal() throws {
    try withCgroup { manager, _ in
      try manager.create()
      try withProcess("/bin/sleep", ["sleep", "30"]) { child in
        try manager.addProcess(child.pid)
        try manager.killAll(signal: SIGTERM)
        #expect(try child.wait() == .signaled(SIGTERM))
      }
    }
  }

  @Test func statsAfterBusyLoop() throws {
    try withCgroup { manager, _ in
      try manager.createAndApply(LinuxResources(memory: LinuxMemory(limit: 256 << 20), pids: LinuxPids(limit: 50)))
      // The child waits a moment, so that it is inside the cgroup before it starts working.
      let script = "sleep 0.3; i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done"
      try withProcess("/bin/sh", ["sh", "-c", script]) { child in
        try manager.addProcess(child.pid)
        let running = try manager.stats()
        #expect(running.pids.current >= 1)
        #expect(running.pids.limit == 50)
        #expect(try child.wait() == .exited(0))
      }
      let stats = try manager.stats()
      #expect(stats.cpu.usage.total > 0)
      #expect(stats.cpu.usage.user + stats.cpu.usage.kernel > 0)
      #expect(stats.memory.usage.limit == 256 << 20 || stats.memory.usage.limit == UInt64.max)
      #expect(stats.memory.raw?.isEmpty == false)
      if manager.paths["cpuacct"] != nil { #expect(stats.cpu.usage.percpu?.isEmpty == false) }
      #expect(try manager.oomKillCount() == 0)
      let json = String(decoding: try JSONEncoder().encode(stats), as: UTF8.self)
      #expect(json.contains("\"throttledPeriods\""))
      #expect(json.contains("\"kernelTCP\""))
    }
  }

  @Test func updateMemoryGrowAndShrink() throws {
    try withCgroup { manager, _ in
      try manager.createAndApply(LinuxResources(memory: LinuxMemory(limit: 64 << 20, swap: 128 << 20)))
      guard let memory = manager.paths["memory"] else { return }  // v2: covered by the fake-layout tests
      let memsw = memory + "/memory.memsw.limit_in_bytes"
      let hasSwapAccounting = FileManager.default.fileExists(atPath: memsw)
      // Growing past the old memsw limit needs memsw first.
      try manager.update(LinuxResources(memory: LinuxMemory(limit: 512 << 20, swap: 1024 << 20)))
      #expect(readFile(memory + "/memory.limit_in_bytes") == String(512 << 20))
      if hasSwapAccounting { #expect(readFile(memsw) == String(1024 << 20)) }
      // Shrinking below the old limit needs the limit first.
      try manager.update(LinuxResources(memory: LinuxMemory(limit: 32 << 20, swap: 48 << 20)))
      #expect(readFile(memory + "/memory.limit_in_bytes") == String(32 << 20))
      if hasSwapAccounting { #expect(readFile(memsw) == String(48 << 20)) }
      // Unlimited.
      try manager.update(LinuxResources(memory: LinuxMemory(limit: -1)))
      #expect(readFile(memory + "/memory.limit_in_bytes") == "9223372036854771712")
    }
  }

  @Test func destroyRemovesChildCgroups() throws {
    try withCgroup { manager, _ in
      try manager.create()
      for dir in Set(manager.paths.values) {
        try FileManager.default.createDirectory(atPath: dir + "/child/grandchild", withIntermediateDirectories: true)
      }
      try manager.destroy()
      for dir in Set(manager.paths.values) { #expect(!FileManager.default.fileExists(atPath: dir)) }
      try manager.destroy()  // idempotent
    }
  }

  @Test func savedPathsReopen() throws {
    try withCgroup { manager, _ in
      try manager.create()
      try withProcess("/bin/sleep", ["sleep", "30"]) { child in
        try manager.addProcess(child.pid)
        let reopened = try CgroupHost.detect().manager(savedPaths: manager.paths)
        #expect(try reopened.processes() == [child.pid])
        try reopened.killAll(signal: SIGKILL)
        #expect(try child.wait() == .signaled(SIGKILL))
      }
    }
  }

  @Test func nestedPathMakesAndRollsBackParents() throws {
    let host = try CgroupHost.detect()
    let top = "/" + TestHost.uniqueName("nest")
    let manager = try host.manager(cgroupsPath: top + "/a/b", containerID: "x")
    defer { for dir in Set(manager.paths.values) { _ = try? FS.removeTree(Path.dirname(Path.dirname(dir))) } }
    // An invalid value the validation cannot see: only the kernel refuses it.
    let bad = LinuxResources(pids: LinuxPids(limit: 10), unified: ["cgroup.no_such_file": "1"])
    let message = errorMessage { try manager.createAndApply(bad) }
    #expect(message?.contains("linux.resources.unified[\"cgroup.no_such_file\"]") == true, "\(message ?? "no error")")
    for dir in Set(manager.paths.values) {
      #expect(!FileManager.default.fileExists(atPath: dir), "\(dir)")
      #expect(!FileManager.default.fileExists(atPath: Path.dirname(Path.dirname(dir))), "parent of \(dir)")
    }
  }

  @Test func relativePathUnderOwnCgroup() throws {
    let host = try CgroupHost.detect()
    let name = TestHost.uniqueName("rel")
    let manager = try host.manager(cgroupsPath: name, containerID: "x")
    let own = try CgroupLocation.ownCgroups()
    if let memory = manager.paths["memory"], let mine = own["memory"] {
      #expect(memory == Path.join("/sys/fs/cgroup/memory", mine, name))
    }
  }
}

@Suite("Host cgroups: v1 devices", .enabled(if: TestHost.isHybrid, "needs root on a hybrid or v1 host"))
struct V1DeviceTests {
  @Test func denyAllButNull() throws {
    try withCgroup { manager, _ in
      try manager.createAndApply(LinuxResources(devices: [
        .init(allow: false, access: "rwm"),
        .init(allow: true, type: "c", major: 1, minor: 3, access: "rwm"),
      ]))
      let devices = try #require(manager.paths["devices"])
      #expect(readFile(devices + "/devices.list") == "c 1:3 rwm")
      // Exit 0 only when /dev/null works and /dev/zero is refused.
      let script = "sleep 0.5; echo x > /dev/null || exit 10; (echo x > /dev/zero) 2>/dev/null && exit 11; exit 0"
      try withProcess("/bin/sh", ["sh", "-c", script]) { child in
        try manager.addProcess(child.pid)
        #expect(try child.wait() == .exited(0))
      }
    }
  }
}

@Suite("Host cgroups: hugetlb through the unified hierarchy",
       .enabled(if: TestHost.isHybrid && TestHost.unifiedRootControllers().contains("hugetlb")
         && FileManager.default.fileExists(atPath: "/sys/kernel/mm/hugepages/hugepages-2048kB"),
         "needs a hybrid host whose cgroup2 side offers hugetlb"))
struct HybridHugetlbTests {
  @Test func hugepageLimit() throws {
    try withCgroup { manager, _ in
      try manager.createAndApply(LinuxResources(hugepageLimits: [.init(pageSize: "2MB", limit: 8 << 20)]))
      let unified = try #require(manager.paths[""])
      #expect(readFile(unified + "/hugetlb.2MB.max") == String(8 << 20))
      let stats = try manager.stats()
      #expect(stats.hugetlb["2MB"] != nil)
      let message = errorMessage { try manager.apply(LinuxResources(hugepageLimits: [.init(pageSize: "3MB", limit: 1)])) }
      #expect(message?.hasPrefix("linux.resources.hugepageLimits[0].pageSize: \"3MB\" is not a hugepage size") == true, "\(message ?? "no error")")
    }
  }
}
