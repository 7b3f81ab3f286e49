import BerthOCI
import BerthOS
import Foundation
import Testing

@testable import BerthCgroups

@Suite("Bad input")
struct BadInputTests {
  static func fixtureManager() throws -> any CgroupManager {
    try CgroupHost.detect(mountinfo: DetectionTests.hybrid).manager(cgroupsPath: "/never-created", containerID: "x")
  }

  /// Refused by validation before any file is touched (the fixture's directories do not exist).
  @Test(arguments: [
    (LinuxResources(cpu: LinuxCPU(cpus: "abc")), #"linux.resources.cpu.cpus: "abc" is not a CPU list"#),
    (LinuxResources(cpu: LinuxCPU(mems: "0-")), #"linux.resources.cpu.mems: "0-" is not a memory node list"#),
    (LinuxResources(memory: LinuxMemory(swappiness: 101)), "linux.resources.memory.swappiness: 101 is out of range"),
    (LinuxResources(hugepageLimits: [.init(pageSize: "2M", limit: 1)]), #"linux.resources.hugepageLimits[0].pageSize: "2M""#),
    (LinuxResources(devices: [.init(allow: true, type: "z")]), #"linux.resources.devices[0].type: "z""#),
  ])
  func validation(_ resources: LinuxResources, _ prefix: String) throws {
    let message = errorMessage { try Self.fixtureManager().apply(resources) }
    #expect(message?.hasPrefix(prefix) == true, "\(message ?? "no error")")
  }

  @Test func unifiedOnV1Host() throws {
    let manager = try CgroupHost.detect(mountinfo: DetectionTests.v1CoMounted).manager(cgroupsPath: "/x", containerID: "x")
    let message = errorMessage { try manager.apply(LinuxResources(unified: ["memory.high": "1G"])) }
    #expect(message == #"linux.resources.unified["memory.high"]: this host has only cgroup v1 hierarchies, and unified keys are cgroup v2 files"#)
  }

  @Test func systemdPathFromFactory() throws {
    let message = errorMessage { _ = try CgroupHost.detect(mountinfo: DetectionTests.hybrid).manager(cgroupsPath: "system.slice:docker:abc", containerID: "abc") }
    #expect(message == #"linux.cgroupsPath "system.slice:docker:abc" is in systemd form; berth-runtime supports only the cgroupfs driver (pass a path such as /docker/abc)"#)
  }

  @Test(.enabled(if: TestHost.isHybrid, "needs root on a hybrid or v1 host"))
  func cpusetNotSubsetRollsBack() throws {
    let host = try CgroupHost.detect()
    let manager = try host.manager(cgroupsPath: "/" + TestHost.uniqueName("cpuset"), containerID: "x")
    defer { try? manager.destroy() }
    let available = readFile("/sys/fs/cgroup/cpuset/cpuset.effective_cpus")
    let message = errorMessage {
      try manager.createAndApply(LinuxResources(memory: LinuxMemory(limit: 64 << 20), cpu: LinuxCPU(cpus: "0-999")))
    }
    #expect(message == #"linux.resources.cpu.cpus: "0-999" is not a subset of the host's CPUs \#(available)"#)
    for dir in Set(manager.paths.values) { #expect(!FileManager.default.fileExists(atPath: dir), "left behind: \(dir)") }
  }

  @Test(.enabled(if: TestHost.isHybrid, "needs root on a hybrid or v1 host"))
  func kernelRefusalNamesFileAndValue() throws {
    try withCgroup { manager, _ in
      try manager.create()
      let message = errorMessage { try manager.apply(LinuxResources(cpu: LinuxCPU(quota: 500, period: 100))) }
      let cpu = try #require(manager.paths["cpu"])
      #expect(message == #"linux.resources.cpu.period: write "100" to \#(cpu)/cpu.cfs_period_us: Invalid argument"#)
    }
  }
}
