import BerthOCI
import Foundation
import Testing

/// linux.resources and linux.cgroupsPath, checked in the container's cgroup files from the host
/// and, where it shows, from inside.
@Suite("Cgroups", .needsRoot)
struct CgroupTests {
  private var layout: CgroupLayout { CgroupLayout.host }

  @Test("the init process joins cgroupsPath in every v1 hierarchy")
  func joinsEveryHierarchy() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try requireSuccess(try await c.create(["sleep", "100"]))
      let pid = try await c.pid()
      let lines = (readText("/proc/\(pid)/cgroup") ?? "").split(separator: "\n")
      for line in lines {
        let parts = line.split(separator: ":", maxSplits: 2).map(String.init)
        guard parts.count == 3, !parts[1].isEmpty else { continue }  // v1 hierarchies only
        #expect(parts[2] == c.cgroupsPath, "hierarchy \(parts[1]) of pid \(pid): \(line)")
      }
      #expect(!lines.isEmpty)
    }
  }

  @Test("memory limit and swap: the cgroup files, and the view from inside")
  func memoryLimit() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.resources.memory = LinuxMemory(limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20)
      try await c.runDetached(["sleep", "100"])
      if layout.isV1 {
        #expect(c.cgroupValue("memory", "memory.limit_in_bytes") == "\(64 << 20)")
        #expect(c.cgroupValue("memory", "memory.soft_limit_in_bytes") == "\(32 << 20)")
        if c.cgroupFile("memory", "memory.memsw.limit_in_bytes").map({ FileManager.default.fileExists(atPath: $0) }) == true {
          #expect(c.cgroupValue("memory", "memory.memsw.limit_in_bytes") == "\(128 << 20)")
        }
        let inside = await c.exec(["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"])
        #expect(inside.out == "\(64 << 20)", "the container's cgroup mount must show its own cgroup: \(inside)")
      } else {
        #expect(c.cgroupValue("memory", "memory.max") == "\(64 << 20)")
        #expect(c.cgroupValue("memory", "memory.low") == "\(32 << 20)")
        #expect(c.cgroupValue("memory", "memory.swap.max") == "\(64 << 20)")
        let inside = await c.exec(["cat", "/sys/fs/cgroup/memory.max"])
        #expect(inside.out == "\(64 << 20)", "\(inside)")
      }
    }
  }

  @Test("exceeding the memory limit gets the process OOM-killed")
  func memoryLimitEnforced() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.resources.memory = LinuxMemory(limit: 32 << 20, swap: 32 << 20)
      // dd allocates its 64 MiB block up front.
      let r = try await c.run(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"])
      #expect(r.status == 128 + 9, "dd must be OOM-killed: \(r)")
    }
  }

  @Test("cpu shares, quota and period")
  func cpu() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.resources.cpu = LinuxCPU(shares: 512, quota: 50_000, period: 100_000)
      try requireSuccess(try await c.create(["sleep", "100"]))
      if layout.isV1 {
        #expect(c.cgroupValue("cpu", "cpu.shares") == "512")
        #expect(c.cgroupValue("cpu", "cpu.cfs_quota_us") == "50000")
        #expect(c.cgroupValue("cpu", "cpu.cfs_period_us") == "100000")
      } else {
        #expect(c.cgroupValue("cpu", "cpu.max") == "50000 100000")
        #expect(c.cgroupValue("cpu", "cpu.weight") == "20")  // 1 + ((512 - 2) * 9999) / 262142
      }
    }
  }

  @Test("cpuset cpus and mems: files and the process's affinity")
  func cpuset() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.resources.cpu = LinuxCPU(cpus: "0", mems: "0")
      let r = try await c.run(["sh", "-c", "nproc; grep Cpus_allowed_list /proc/self/status"])
      expectSuccess(r)
      #expect(r.lines.first == "1", "\(r)")
      #expect(r.lines.last?.hasSuffix("\t0") == true || r.lines.last?.hasSuffix(" 0") == true, "\(r)")

      let created = try sb.container("files")
      created.resources.cpu = LinuxCPU(cpus: "0", mems: "0")
      try requireSuccess(try await created.create(["sleep", "100"]))
      #expect(created.cgroupValue("cpuset", "cpuset.cpus") == "0")
      #expect(created.cgroupValue("cpuset", "cpuset.mems") == "0")
    }
  }

  @Test("pids limit: the file, and a fork bomb stays bounded")
  func pidsLimit() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.resources.pids = LinuxPids(limit: 10)
      // Globbing and `set` are shell builtins: counting needs no fork once the limit is hit.
      let r = try await c.run([
        "sh", "-c",
        "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; "
          + "for i in $(seq 40); do sleep 30 & done 2>/dev/null; set -- /proc/[0-9]*; echo $#",
      ])
      #expect(r.lines.first == "10", "\(r)")
      let count = Int(r.lines.last ?? "") ?? 0
      #expect(count > 1 && count <= 10, "at most 10 processes may exist: \(r)")
    }
  }

  @Test("pids limit read from the host while running")
  func pidsFile() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.resources.pids = LinuxPids(limit: 25)
      try requireSuccess(try await c.create(["sleep", "100"]))
      #expect(c.cgroupValue("pids", "pids.max") == "25")
      // (pids.current counts threads: a runtime's waiting init may have several.)
      #expect(Int(c.cgroupValue("pids", "pids.current") ?? "") ?? 0 >= 1, "the waiting init process is in the cgroup")
    }
  }

  @Test("device rules reach the devices cgroup", .enabled(if: CgroupLayout.host.v1["devices"] != nil, "v1 devices controller"))
  func devicesList() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.resources.devices = [
        LinuxDeviceCgroup(allow: false, access: "rwm"),
        LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 11, access: "r"),
      ]
      try requireSuccess(try await c.create(["sleep", "100"]))
      let list = c.cgroupValue("devices", "devices.list") ?? ""
      #expect(list.split(separator: "\n").contains("c 1:11 r"), "\(list)")
      #expect(list.split(separator: "\n").contains("c 1:3 rwm"), "default devices allowed: \(list)")
      #expect(!list.contains("a *:* rwm"), "everything else denied: \(list)")
    }
  }

  @Test("without cgroupsPath the runtime picks a cgroup and removes it on delete")
  func defaultCgroupsPath() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.linux.cgroupsPath = nil
      c.setNamespace(.cgroup, present: false)
      try await c.runDetached(["sleep", "100"])
      let pid = try await c.pid()
      let path = (readText("/proc/\(pid)/cgroup") ?? "").split(separator: "\n")
        .first { $0.contains(":pids:") }.map { String($0.split(separator: ":", maxSplits: 2)[2]) }
      let cgroup = try #require(path, "no pids cgroup for \(pid)")
      #expect(cgroup.contains(c.id), "the default cgroup should be named after the container: \(cgroup)")
      let dir = try #require(layout.v1["pids"] ?? layout.unified) + cgroup
      #expect(FileManager.default.fileExists(atPath: dir))
      expectSuccess(await c.delete(force: true))
      #expect(await eventually { !FileManager.default.fileExists(atPath: dir) }, "\(dir) left behind")
    }
  }
}
