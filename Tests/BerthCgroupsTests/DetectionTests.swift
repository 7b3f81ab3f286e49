import BerthOS
import Testing

@testable import BerthCgroups

@Suite("Host detection")
struct DetectionTests {
  static let v1CoMounted = """
    22 28 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
    25 22 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
    26 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
    29 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,cpu,cpuacct
    30 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory
    31 25 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,net_cls,net_prio
    32 25 0:30 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpuset,clone_children
    33 25 0:31 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,pids
    """

  static let pureV2 = """
    22 28 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
    26 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
    """

  static let hybrid = """
    31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
    32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
    33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
    35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
    40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
    41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
    """

  @Test func coMountedV1() throws {
    let host = try CgroupHost.detect(mountinfo: Self.v1CoMounted)
    #expect(host.mode == .v1)
    #expect(host.unified == nil)
    #expect(host.hierarchy(for: "cpu")?.mountPoint == "/sys/fs/cgroup/cpu,cpuacct")
    #expect(host.hierarchy(for: "cpuacct")?.controllers == ["cpu", "cpuacct"])
    #expect(host.hierarchy(for: "name=systemd")?.mountPoint == "/sys/fs/cgroup/systemd")
    #expect(host.hierarchy(for: "net_prio")?.mountPoint == "/sys/fs/cgroup/net_cls,net_prio")
    // "clone_children" and "xattr" are options, not controllers.
    #expect(host.hierarchy(for: "cpuset")?.controllers == ["cpuset"])
    #expect(host.hierarchies.count == 6)
  }

  @Test func coMountedV1SharesOneDirectory() throws {
    let host = try CgroupHost.detect(mountinfo: Self.v1CoMounted)
    let manager = try host.manager(cgroupsPath: "/a/b", containerID: "x")
    #expect(manager.paths["cpu"] == "/sys/fs/cgroup/cpu,cpuacct/a/b")
    #expect(manager.paths["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct/a/b")
    #expect(manager.paths["name=systemd"] == "/sys/fs/cgroup/systemd/a/b")
    #expect(manager.paths[""] == nil)
    #expect(try manager.openDirectoryForClone() == nil)
  }

  @Test func pureV2() throws {
    let host = try CgroupHost.detect(mountinfo: Self.pureV2)
    #expect(host.mode == .v2)
    #expect(host.hierarchies.isEmpty)
    #expect(host.unified?.mountPoint == "/sys/fs/cgroup")
    let manager = try host.manager(cgroupsPath: "/a", containerID: "x")
    #expect(manager.paths == ["": "/sys/fs/cgroup/a"])
  }

  @Test func hybrid() throws {
    let host = try CgroupHost.detect(mountinfo: Self.hybrid)
    #expect(host.mode == .hybrid)
    #expect(host.unified?.mountPoint == "/sys/fs/cgroup/unified")
    #expect(host.hierarchy(for: "cpu")?.mountPoint == "/sys/fs/cgroup/cpu")
    #expect(host.hierarchy(for: "cpuacct")?.mountPoint == "/sys/fs/cgroup/cpuacct")
    #expect(host.mountPoints["memory"] == "/sys/fs/cgroup/memory")
    #expect(host.mountPoints[""] == "/sys/fs/cgroup/unified")
  }

  @Test func escapedMountPoint() throws {
    let text = "26 22 0:24 / /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw\n"
    let host = try CgroupHost.detect(mountinfo: text, root: "/sys/fs/my cgroup")
    #expect(host.unified?.mountPoint == "/sys/fs/my cgroup")
  }

  @Test func noCgroups() {
    #expect(throws: BerthError.self) {
      try CgroupHost.detect(mountinfo: "22 28 0:20 / /sys rw - sysfs sysfs rw\n")
    }
  }

  @Test(.enabled(if: TestHost.isHybrid, "this host is not hybrid"))
  func thisHostIsHybrid() throws {
    let host = try CgroupHost.detect()
    #expect(host.mode == .hybrid)
    #expect(host.unified?.mountPoint == "/sys/fs/cgroup/unified")
    for controller in ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"] {
      #expect(host.hierarchy(for: controller)?.mountPoint == "/sys/fs/cgroup/\(controller)")
    }
    #expect(host.hierarchy(for: "name=systemd")?.mountPoint == "/sys/fs/cgroup/systemd")
    // Cached: the second call returns the same answer without reading mountinfo again.
    #expect(try CgroupHost.detect() == host)
  }
}

@Suite("cgroupsPath")
struct PathTests {
  @Test(arguments: [
    ("/a/b", "/a/b", true), ("/a/./b/", "/a/b", true), ("/a/../b", "/b", true),
    ("a/b", "a/b", false), ("a/../b", "b", false), ("//x//y", "/x/y", true),
  ])
  func resolves(_ input: String, _ path: String, _ absolute: Bool) throws {
    let location = try CgroupLocation.resolve(cgroupsPath: input, containerID: "c", defaultParent: "/berth")
    #expect(location == CgroupLocation(path: path, isAbsolute: absolute))
  }

  @Test func defaults() throws {
    #expect(try CgroupLocation.resolve(cgroupsPath: nil, containerID: "c1", defaultParent: "/berth")
      == CgroupLocation(path: "/berth/c1", isAbsolute: true))
    #expect(try CgroupLocation.resolve(cgroupsPath: "", containerID: "c1", defaultParent: "")
      == CgroupLocation(path: "c1", isAbsolute: false))
    #expect(throws: BerthError.self) {
      try CgroupLocation.resolve(cgroupsPath: nil, containerID: "../x", defaultParent: "/berth")
    }
  }

  @Test func systemdForm() {
    let message = errorMessage {
      _ = try CgroupLocation.resolve(cgroupsPath: "system.slice:docker:abc", containerID: "c", defaultParent: "/berth")
    }
    #expect(message == #"linux.cgroupsPath "system.slice:docker:abc" is in systemd form; berth-runtime supports only the cgroupfs driver (pass a path such as /docker/abc)"#)
  }

  @Test(arguments: ["/../etc", "/a/../../b", "../x", "a/../../x"])
  func climbing(_ input: String) {
    let message = errorMessage { _ = try CgroupLocation.resolve(cgroupsPath: input, containerID: "c", defaultParent: "/berth") }
    #expect(message?.contains("climbs above") == true, "\(message ?? "no error")")
    #expect(message?.contains(input) == true)
  }

  @Test(arguments: ["/", "/.", ".", "a/.."])
  func rootItself(_ input: String) {
    let message = errorMessage { _ = try CgroupLocation.resolve(cgroupsPath: input, containerID: "c", defaultParent: "/berth") }
    #expect(message?.contains("not a cgroup of its own") == true, "\(message ?? "no error")")
  }

  @Test func relativeUsesOwnCgroup() throws {
    let own = try CgroupLocation.ownCgroups(text: "4:memory:/user/1\n1:cpu,cpuacct:/x\n9:name=systemd:/s\n0::/u\n")
    #expect(own["memory"] == "/user/1")
    #expect(own["cpuacct"] == "/x")
    #expect(own["name=systemd"] == "/s")
    #expect(own[""] == "/u")
    let location = CgroupLocation(path: "c/d", isAbsolute: false)
    let memory = CgroupHost.Hierarchy(mountPoint: "/sys/fs/cgroup/memory", controllers: ["memory"])
    #expect(try location.directory(in: memory, key: "memory", own: own) == "/sys/fs/cgroup/memory/user/1/c/d")
    // A mount of a subtree (cgroup namespace, bind mount): the mount's root is cut off.
    let sub = CgroupHost.Hierarchy(mountPoint: "/sys/fs/cgroup/memory", root: "/user", controllers: ["memory"])
    #expect(try location.directory(in: sub, key: "memory", own: own) == "/sys/fs/cgroup/memory/1/c/d")
    let unified = CgroupHost.Hierarchy(mountPoint: "/sys/fs/cgroup")
    #expect(try location.directory(in: unified, key: "", own: own) == "/sys/fs/cgroup/u/c/d")
  }

  @Test func savedPaths() throws {
    let host = try CgroupHost.detect(mountinfo: DetectionTests.hybrid)
    let manager = try host.manager(cgroupsPath: "/x/y", containerID: "c")
    let reopened = try host.manager(savedPaths: manager.paths)
    #expect(reopened.paths == manager.paths)
    #expect(throws: BerthError.self) { try host.manager(savedPaths: ["memory": "/etc/passwd"]) }
    #expect(throws: BerthError.self) { try host.manager(savedPaths: ["memory": "/sys/fs/cgroup/memory"]) }
    #expect(throws: BerthError.self) { try host.manager(savedPaths: ["rdma": "/sys/fs/cgroup/rdma/x"]) }
  }
}
