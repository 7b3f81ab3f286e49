import BerthOCI
import BerthOS
import Foundation
import Testing

@testable import BerthCgroups

/// The v2 file writes, against a fake cgroup2 tree: a plain directory with the interface files
/// made beforehand (plain files keep exactly what was written, so the contents can be checked).
@Suite("cgroup v2 files (fake tree)")
struct FakeV2Tests {
  static let leafFiles = [
    "cgroup.procs", "memory.max", "memory.low", "memory.swap.max", "cpu.weight", "cpu.max", "cpu.max.burst",
    "cpu.idle", "io.weight", "io.max", "pids.max", "cpuset.cpus", "cpuset.mems", "hugetlb.2MB.max", "memory.high",
    "rdma.max",
  ]

  /// A fake root with a leaf "/c1"; returns (root, host).
  static func makeTree(files: [String] = leafFiles) throws -> (String, CgroupHost) {
    let root = NSTemporaryDirectory() + "berth-fake-cgroup2-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: root + "/c1", withIntermediateDirectories: true)
    try "cpuset cpu io memory hugetlb pids\n".write(toFile: root + "/cgroup.controllers", atomically: false, encoding: .utf8)
    _ = FileManager.default.createFile(atPath: root + "/cgroup.subtree_control", contents: nil)
    for file in files { _ = FileManager.default.createFile(atPath: root + "/c1/" + file, contents: nil) }
    let host = try CgroupHost.detect(mountinfo: "30 23 0:26 / \(root) rw,relatime - cgroup2 cgroup2 rw\n", root: root)
    return (root, host)
  }

  static func read(_ root: String, _ file: String) -> String {
    (try? String(contentsOfFile: root + "/c1/" + file, encoding: .utf8)) ?? "<missing>"
  }

  @Test func writesConvertedValues() throws {
    let (root, host) = try Self.makeTree()
    defer { try? FileManager.default.removeItem(atPath: root) }
    #expect(host.mode == .v2)
    let manager = try host.manager(cgroupsPath: "/c1", containerID: "x")
    var resources = LinuxResources()
    resources.memory = LinuxMemory(limit: 64 << 20, reservation: 16 << 20, swap: 96 << 20, kernel: 1 << 20, kernelTCP: 1 << 20)
    resources.cpu = LinuxCPU(shares: 1024, quota: 20_000, burst: 1000, period: 100_000, cpus: "0-1", mems: "0")
    resources.pids = LinuxPids(limit: -1)
    resources.blockIO = LinuxBlockIO(
      weight: 500,
      throttleReadBpsDevice: [.init(major: 8, minor: 0, rate: 1 << 20)],
      throttleWriteIOPSDevice: [.init(major: 8, minor: 0, rate: 100)])
    resources.hugepageLimits = [.init(pageSize: "2MB", limit: 4 << 20)]
    resources.rdma = ["mlx4_0": .init(hcaHandles: 2, hcaObjects: 2000)]
    resources.unified = ["memory.high": "50M"]
    try manager.createAndApply(resources)

    #expect((try? String(contentsOfFile: root + "/cgroup.subtree_control", encoding: .utf8)) == "+cpuset +cpu +io +memory +hugetlb +pids")
    #expect(Self.read(root, "memory.max") == "67108864")
    #expect(Self.read(root, "memory.low") == "16777216")
    #expect(Self.read(root, "memory.swap.max") == "33554432")
    #expect(Self.read(root, "cpu.weight") == "39")
    #expect(Self.read(root, "cpu.max") == "20000 100000")
    #expect(Self.read(root, "cpu.max.burst") == "1000")
    #expect(Self.read(root, "cpuset.cpus") == "0-1")
    #expect(Self.read(root, "cpuset.mems") == "0")
    #expect(Self.read(root, "pids.max") == "max")
    #expect(Self.read(root, "io.weight") == "default 4950")
    #expect(Self.read(root, "io.max") == "8:0 rbps=1048576 wiops=100")
    #expect(Self.read(root, "hugetlb.2MB.max") == "4194304")
    #expect(Self.read(root, "rdma.max") == "mlx4_0 hca_handle=2 hca_object=2000")
    #expect(Self.read(root, "memory.high") == "50M")
    #expect(Self.read(root, "cpu.idle") == "")  // not set, not written
  }

  @Test(arguments: [
    (LinuxCPU(quota: -1, period: 50_000), "max 50000"),
    (LinuxCPU(quota: 30_000), "30000"),
    (LinuxCPU(period: 200_000), "max 200000"),
  ])
  func cpuMax(_ cpu: LinuxCPU, _ expected: String) throws {
    let (root, host) = try Self.makeTree()
    defer { try? FileManager.default.removeItem(atPath: root) }
    try host.manager(cgroupsPath: "/c1", containerID: "x").apply(LinuxResources(cpu: cpu))
    #expect(Self.read(root, "cpu.max") == expected)
  }

  @Test func unlimitedMemoryAndSwap() throws {
    let (root, host) = try Self.makeTree()
    defer { try? FileManager.default.removeItem(atPath: root) }
    try host.manager(cgroupsPath: "/c1", containerID: "x").apply(LinuxResources(memory: LinuxMemory(limit: -1)))
    #expect(Self.read(root, "memory.max") == "max")
    #expect(Self.read(root, "memory.swap.max") == "max")
  }

  @Test func bfqWeightPreferred() throws {
    let (root, host) = try Self.makeTree(files: ["io.bfq.weight", "io.weight"])
    defer { try? FileManager.default.removeItem(atPath: root) }
    try host.manager(cgroupsPath: "/c1", containerID: "x").apply(LinuxResources(blockIO: LinuxBlockIO(weight: 500)))
    #expect(Self.read(root, "io.bfq.weight") == "500")
    #expect(Self.read(root, "io.weight") == "")
  }

  @Test func unknownUnifiedKey() throws {
    let (root, host) = try Self.makeTree()
    defer { try? FileManager.default.removeItem(atPath: root) }
    let manager = try host.manager(cgroupsPath: "/c1", containerID: "x")
    let message = errorMessage { try manager.apply(LinuxResources(unified: ["memory.nonexistent": "1"])) }
    #expect(message?.hasPrefix(#"linux.resources.unified["memory.nonexistent"]: "#) == true, "\(message ?? "no error")")
    #expect(message?.contains("does not exist") == true)
    let slash = errorMessage { try manager.apply(LinuxResources(unified: ["../memory.max": "1"])) }
    #expect(slash?.hasPrefix(#"linux.resources.unified["../memory.max"]: not the name"#) == true, "\(slash ?? "no error")")
  }

  @Test func v1OnlyFieldsRefused() throws {
    let (root, host) = try Self.makeTree()
    defer { try? FileManager.default.removeItem(atPath: root) }
    let manager = try host.manager(cgroupsPath: "/c1", containerID: "x")
    let cases: [(LinuxResources, String)] = [
      (LinuxResources(memory: LinuxMemory(swappiness: 10)), "linux.resources.memory.swappiness"),
      (LinuxResources(cpu: LinuxCPU(realtimeRuntime: 1000)), "linux.resources.cpu.realtime"),
      (LinuxResources(network: LinuxNetwork(classID: 7)), "linux.resources.network.classID"),
      (LinuxResources(blockIO: LinuxBlockIO(leafWeight: 100)), "linux.resources.blockIO.leafWeight"),
    ]
    for (resources, field) in cases {
      let message = errorMessage { try manager.apply(resources) }
      #expect(message?.hasPrefix(field) == true, "\(message ?? "no error")")
    }
  }

  @Test func checkBeforeUpdate() throws {
    let (root, host) = try Self.makeTree(files: ["memory.max", "memory.current"])
    defer { try? FileManager.default.removeItem(atPath: root) }
    try "104857600\n".write(toFile: root + "/c1/memory.current", atomically: false, encoding: .utf8)
    let manager = try host.manager(cgroupsPath: "/c1", containerID: "x")
    let message = errorMessage { try manager.update(LinuxResources(memory: LinuxMemory(limit: 1 << 20, checkBeforeUpdate: true))) }
    #expect(message == "linux.resources.memory.limit: 1048576 is below the current usage 104857600 of \(root)/c1 (checkBeforeUpdate)")
  }
}
