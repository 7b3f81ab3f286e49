@testable import BerthRuntime
import BerthOCI
import BerthOS
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A bundle directory with an empty rootfs under /tmp, removed afterwards.
func withUnitBundle<T>(_ body: (String) throws -> T) throws -> T {
  var template = Array("/tmp/berth-unit-XXXXXX".utf8CString)
  let made: String? = template.withUnsafeMutableBufferPointer { buffer in
    buffer.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) }
  }
  guard let bundle = made else { throw BerthError.system("mkdtemp") }
  defer { try? FS.removeTree(bundle) }
  try FS.makeDirectories(bundle + "/rootfs")
  return try body(bundle)
}

/// A valid config pointing at `bundle/rootfs`: what the tests below break one field at a time.
func validUnitSpec(bundle: String) -> Spec {
  Spec(
    process: BerthOCI.Process(
      user: User(uid: 0, gid: 0), args: ["/bin/sh", "-c", "true"], env: ["PATH=/bin", "TERM=xterm"], cwd: "/",
      capabilities: LinuxCapabilities(bounding: ["CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"]),
      rlimits: [POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)]),
    root: Root(path: "rootfs"),
    hostname: "unit",
    mounts: [
      Mount(destination: "/proc", type: "proc", source: "proc"),
      Mount(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "mode=755"]),
      Mount(destination: "/dev/pts", type: "devpts", source: "devpts", options: ["newinstance"]),
    ],
    linux: Linux(
      namespaces: [.pid, .network, .ipc, .uts, .mount].map { LinuxNamespace(type: $0) },
      maskedPaths: ["/proc/kcore"], readonlyPaths: ["/proc/sys"]))
}

func buildPlan(_ spec: Spec, bundle: String) throws -> LaunchPlan {
  try PlanBuilder(spec: spec, bundle: bundle, containerID: "unit").build(
    execFifoPath: nil, consoleSocketFD: nil, execStubFD: -1)
}

/// One invalid config and what its error must name.
struct InvalidConfig: Sendable, CustomTestStringConvertible {
  var name: String
  /// Every one of these must appear in the message (the field first).
  var mentions: [String]
  var code: BerthError.Code = .invalidArgument
  var edit: @Sendable (inout Spec, String) -> Void

  var testDescription: String { name }
}

@Suite("PlanBuilder")
struct PlanBuilderTests {
  static let invalidConfigs: [InvalidConfig] = [
    InvalidConfig(name: "duplicate namespace", mentions: ["linux.namespaces", "\"pid\"", "twice"]) { spec, _ in
      spec.linux?.namespaces?.append(LinuxNamespace(type: .pid))
    },
    InvalidConfig(name: "user namespace without uid mappings", mentions: ["linux.uidMappings"]) { spec, _ in
      spec.linux?.namespaces?.append(LinuxNamespace(type: .user))
      spec.linux?.gidMappings = [IDMapping(containerID: 0, hostID: 100_000, size: 65536)]
    },
    InvalidConfig(name: "user namespace without gid mappings", mentions: ["linux.gidMappings"]) { spec, _ in
      spec.linux?.namespaces?.append(LinuxNamespace(type: .user))
      spec.linux?.uidMappings = [IDMapping(containerID: 0, hostID: 100_000, size: 65536)]
    },
    InvalidConfig(name: "uid mappings without a user namespace", mentions: ["linux.uidMappings", "user namespace"]) {
      spec, _ in
      spec.linux?.uidMappings = [IDMapping(containerID: 0, hostID: 100_000, size: 65536)]
      spec.linux?.gidMappings = [IDMapping(containerID: 0, hostID: 100_000, size: 65536)]
    },
    InvalidConfig(name: "gid mappings without a user namespace", mentions: ["linux.gidMappings", "user namespace"]) {
      spec, _ in
      spec.linux?.gidMappings = [IDMapping(containerID: 0, hostID: 100_000, size: 65536)]
    },
    InvalidConfig(name: "a mapping of size 0", mentions: ["linux.uidMappings[1].size"]) { spec, _ in
      spec.linux?.namespaces?.append(LinuxNamespace(type: .user))
      spec.linux?.uidMappings = [
        IDMapping(containerID: 0, hostID: 100_000, size: 1), IDMapping(containerID: 1, hostID: 100_001, size: 0),
      ]
      spec.linux?.gidMappings = [IDMapping(containerID: 0, hostID: 100_000, size: 1)]
    },
    InvalidConfig(name: "no mount namespace", mentions: ["linux.namespaces", "mount"]) { spec, _ in
      spec.linux?.namespaces?.removeAll { $0.type == .mount }
    },
    InvalidConfig(name: "relative namespace path", mentions: ["linux.namespaces[5].path", "\"proc/1/ns/net\""]) {
      spec, _ in
      spec.linux?.namespaces?.append(LinuxNamespace(type: .cgroup, path: "proc/1/ns/net"))
    },
    InvalidConfig(name: "missing namespace path", mentions: ["linux.namespaces[5].path", "/nonexistent/ns"]) {
      spec, _ in
      spec.linux?.namespaces?.append(LinuxNamespace(type: .cgroup, path: "/nonexistent/ns"))
    },
    InvalidConfig(name: "relative mount destination", mentions: ["mounts[3].destination", "\"data\""]) { spec, _ in
      spec.mounts?.append(Mount(destination: "data", type: "tmpfs", source: "tmpfs"))
    },
    InvalidConfig(name: "bind mount with a missing source", mentions: ["mounts[3].source", "/nonexistent/source"]) {
      spec, _ in
      spec.mounts?.append(Mount(destination: "/data", type: "bind", source: "/nonexistent/source", options: ["rbind"]))
    },
    InvalidConfig(name: "bind mount (by option) with a missing relative source", mentions: ["mounts[3].source", "/missing"]) {
      spec, bundle in
      spec.mounts?.append(Mount(destination: "/data", type: "none", source: "missing", options: ["bind"]))
    },
    InvalidConfig(name: "bind mount without a source", mentions: ["mounts[3].source"]) { spec, _ in
      spec.mounts?.append(Mount(destination: "/data", type: "bind", options: ["bind"]))
    },
    InvalidConfig(name: "mount without a type", mentions: ["mounts[3].type"]) { spec, _ in
      spec.mounts?.append(Mount(destination: "/data", source: "tmpfs"))
    },
    InvalidConfig(name: "idmap on a non-bind mount", mentions: ["mounts[3].options", "idmap"]) { spec, _ in
      spec.mounts?.append(Mount(destination: "/data", type: "tmpfs", source: "tmpfs", options: ["idmap"]))
    },
    InvalidConfig(name: "unknown device type", mentions: ["linux.devices[0].type", "\"x\""]) { spec, _ in
      spec.linux?.devices = [LinuxDevice(path: "/dev/foo", type: "x", major: 1, minor: 1)]
    },
    InvalidConfig(name: "device path outside /dev", mentions: ["linux.devices[1].path", "\"/etc/foo\""]) { spec, _ in
      spec.linux?.devices = [
        LinuxDevice(path: "/dev/fuse", type: "c", major: 10, minor: 229),
        LinuxDevice(path: "/etc/foo", type: "c", major: 1, minor: 3),
      ]
    },
    InvalidConfig(name: "device path escaping /dev with ..", mentions: ["linux.devices[0].path", "/dev/../etc/shadow"]) {
      spec, _ in
      spec.linux?.devices = [LinuxDevice(path: "/dev/../etc/shadow", type: "c", major: 1, minor: 3)]
    },
    InvalidConfig(name: "device without a major number", mentions: ["linux.devices[0]", "major"]) { spec, _ in
      spec.linux?.devices = [LinuxDevice(path: "/dev/foo", type: "b", minor: 1)]
    },
    InvalidConfig(name: "rlimit soft above hard", mentions: ["process.rlimits[0]", "2048", "1024"]) { spec, _ in
      spec.process?.rlimits = [POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 2048)]
    },
    InvalidConfig(name: "duplicate rlimit", mentions: ["process.rlimits[1].type", "RLIMIT_NOFILE", "twice"]) { spec, _ in
      spec.process?.rlimits = [
        POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024),
        POSIXRlimit(type: "RLIMIT_NOFILE", hard: 512, soft: 512),
      ]
    },
    InvalidConfig(name: "unknown rlimit", mentions: ["process.rlimits[0].type", "RLIMIT_BOGUS"]) { spec, _ in
      spec.process?.rlimits = [POSIXRlimit(type: "RLIMIT_BOGUS", hard: 1, soft: 1)]
    },
    InvalidConfig(name: "hostname without a UTS namespace", mentions: ["hostname", "uts"]) { spec, _ in
      spec.linux?.namespaces?.removeAll { $0.type == .uts }
    },
    InvalidConfig(name: "domainname without a UTS namespace", mentions: ["domainname"]) { spec, _ in
      spec.hostname = nil
      spec.domainname = "example.org"
      spec.linux?.namespaces?.removeAll { $0.type == .uts }
    },
    InvalidConfig(name: "non-namespaced sysctl", mentions: ["linux.sysctl[\"vm.swappiness\"]", "namespaced"]) { spec, _ in
      spec.linux?.sysctl = ["vm.swappiness": "10"]
    },
    InvalidConfig(name: "net sysctl without a network namespace", mentions: ["linux.sysctl[\"net.ipv4.ip_forward\"]", "network"]) {
      spec, _ in
      spec.linux?.namespaces?.removeAll { $0.type == .network }
      spec.linux?.sysctl = ["net.ipv4.ip_forward": "1"]
    },
    InvalidConfig(name: "IPC sysctl without an IPC namespace", mentions: ["linux.sysctl[\"kernel.shmmax\"]", "IPC"]) {
      spec, _ in
      spec.linux?.namespaces?.removeAll { $0.type == .ipc }
      spec.linux?.sysctl = ["kernel.shmmax": "1000"]
    },
    InvalidConfig(name: "sysctl name with ..", mentions: ["linux.sysctl[\"net/../../vm\"]"]) { spec, _ in
      spec.linux?.sysctl = ["net/../../vm": "1"]
    },
    InvalidConfig(name: "timeOffsets without a time namespace", mentions: ["linux.timeOffsets", "time namespace"]) {
      spec, _ in
      spec.linux?.timeOffsets = ["monotonic": TimeOffset(secs: 100)]
    },
    InvalidConfig(name: "timeOffsets with an unknown clock", mentions: ["linux.timeOffsets", "\"realtime\""]) { spec, _ in
      spec.linux?.namespaces?.append(LinuxNamespace(type: .time))
      spec.linux?.timeOffsets = ["realtime": TimeOffset(secs: 100)]
    },
    InvalidConfig(name: "unknown rootfsPropagation", mentions: ["linux.rootfsPropagation", "\"sideways\""]) { spec, _ in
      spec.linux?.rootfsPropagation = "sideways"
    },
    InvalidConfig(name: "unknown capability", mentions: ["process.capabilities.permitted", "\"CAP_BOGUS\""]) { spec, _ in
      spec.process?.capabilities?.permitted = ["CAP_KILL", "CAP_BOGUS"]
    },
    InvalidConfig(name: "relative cwd", mentions: ["process.cwd", "\"tmp\""]) { spec, _ in
      spec.process?.cwd = "tmp"
    },
    InvalidConfig(name: "consoleSize without a terminal", mentions: ["process.consoleSize", "terminal"]) { spec, _ in
      spec.process?.consoleSize = ConsoleSize(height: 24, width: 80)
    },
    InvalidConfig(name: "oomScoreAdj above 1000", mentions: ["process.oomScoreAdj", "1001"]) { spec, _ in
      spec.process?.oomScoreAdj = 1001
    },
    InvalidConfig(name: "oomScoreAdj below -1000", mentions: ["process.oomScoreAdj", "-1001"]) { spec, _ in
      spec.process?.oomScoreAdj = -1001
    },
    InvalidConfig(name: "empty args", mentions: ["process.args"]) { spec, _ in
      spec.process?.args = []
    },
    InvalidConfig(name: "missing process", mentions: ["process"]) { spec, _ in
      spec.process = nil
    },
    InvalidConfig(name: "missing root", mentions: ["root"]) { spec, _ in
      spec.root = nil
    },
    InvalidConfig(name: "missing rootfs directory", mentions: ["root.path", "/no-such-rootfs"]) { spec, _ in
      spec.root?.path = "no-such-rootfs"
    },
    InvalidConfig(name: "unsupported ociVersion", mentions: ["ociVersion", "\"2.0.0\""]) { spec, _ in
      spec.ociVersion = "2.0.0"
    },
    InvalidConfig(name: "relative masked path", mentions: ["linux.maskedPaths[1]", "\"proc/kcore\""]) { spec, _ in
      spec.linux?.maskedPaths?.append("proc/kcore")
    },
    InvalidConfig(name: "relative read-only path", mentions: ["linux.readonlyPaths[0]"]) { spec, _ in
      spec.linux?.readonlyPaths = ["sys"]
    },
    InvalidConfig(name: "unknown personality", mentions: ["linux.personality.domain", "\"LINUX64\""]) { spec, _ in
      spec.linux?.personality = LinuxPersonality(domain: "LINUX64")
    },
    InvalidConfig(name: "unknown scheduler policy", mentions: ["process.scheduler.policy", "\"SCHED_FAST\""]) { spec, _ in
      spec.process?.scheduler = Scheduler(policy: "SCHED_FAST")
    },
    InvalidConfig(name: "I/O priority out of range", mentions: ["process.ioPriority.priority", "8"]) { spec, _ in
      spec.process?.ioPriority = IOPriority(class: "IOPRIO_CLASS_BE", priority: 8)
    },
    InvalidConfig(name: "umask above 0777", mentions: ["process.user.umask"]) { spec, _ in
      spec.process?.user.umask = 0o1000
    },
    InvalidConfig(name: "env entry without =", mentions: ["process.env[1]", "\"JUSTANAME\""]) { spec, _ in
      spec.process?.env = ["PATH=/bin", "JUSTANAME"]
    },
  ]

  @Test("an invalid config is refused with an error naming the field", arguments: invalidConfigs)
  func invalid(_ config: InvalidConfig) throws {
    try withUnitBundle { bundle in
      var spec = validUnitSpec(bundle: bundle)
      config.edit(&spec, bundle)
      let error = #expect(throws: BerthError.self) { try buildPlan(spec, bundle: bundle) }
      #expect(error?.code == config.code)
      for mention in config.mentions {
        #expect(error?.message.contains(mention) == true, "\(mention) not in: \(error?.message ?? "no error")")
      }
      if let first = config.mentions.first {
        #expect(error?.message.hasPrefix(first) == true, "the message should start with the field: \(error?.message ?? "-")")
      }
    }
  }

  @Test("the valid config builds into the expected plan")
  func valid() throws {
    try withUnitBundle { bundle in
      var spec = validUnitSpec(bundle: bundle)
      spec.linux?.sysctl = ["net.ipv4.ip_forward": "1", "kernel.shmmax": "1000", "kernel.hostname": "x"]
      spec.linux?.devices = [
        LinuxDevice(path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o100600),
        LinuxDevice(path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o640, uid: 5),
        LinuxDevice(path: "/dev/fifo", type: "p"),
      ]
      try FS.makeDirectories(bundle + "/data")
      spec.mounts?.append(Mount(destination: "/data/", type: "bind", source: "data", options: ["rbind", "ro"]))
      let plan = try buildPlan(spec, bundle: bundle)
      #expect(plan.rootfs == bundle + "/rootfs")
      #expect(plan.containerID == "unit")
      // CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS
      #expect(plan.namespaces.cloneFlags == 0x2000_0000 | 0x4000_0000 | 0x0800_0000 | 0x0400_0000 | 0x0002_0000)
      #expect(plan.namespaces.join.isEmpty)
      #expect(!plan.namespaces.newTime)
      #expect(plan.process.args == ["/bin/sh", "-c", "true"])
      #expect(plan.process.umask == 0o022)
      #expect(plan.process.capabilities?.bounding == 1 << 5)
      #expect(plan.process.rlimits.map(\.resource) == [7])
      #expect(plan.mounts.map(\.destination) == ["/proc", "/dev", "/dev/pts", "/data"])
      #expect(plan.mounts.map(\.kind) == [.filesystem, .filesystem, .filesystem, .bind])
      #expect(plan.mounts[3].source == bundle + "/data")
      #expect(plan.mounts[3].options.isRecursiveBind)
      #expect(plan.devIsMounted)
      #expect(plan.hasDevpts)
      #expect(plan.rootPropagation == (1 << 19) | 16384)  // MS_SLAVE | MS_REC, runc's default
      #expect(plan.hostname == "unit")
      #expect(plan.sysctls.map(\.key) == ["kernel.hostname", "kernel.shmmax", "net.ipv4.ip_forward"])
      #expect(plan.maskedPaths == ["/proc/kcore"])
      #expect(plan.readonlyPaths == ["/proc/sys"])
      #expect(plan.seccomp == nil)
      // The six default devices, /dev/null replaced by the configured one, then the others.
      #expect(plan.devices.map(\.path) == ["/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/fuse", "/dev/null", "/dev/fifo"])
      let null = try #require(plan.devices.first { $0.path == "/dev/null" })
      #expect(null.mode == 0o640)
      #expect(null.uid == 5)
      let fuse = try #require(plan.devices.first { $0.path == "/dev/fuse" })
      #expect(fuse.mode == 0o600)
      #expect(fuse.type == UInt32(S_IFCHR))
      #expect((fuse.major, fuse.minor) == (10, 229))
      #expect(plan.devices.first { $0.path == "/dev/fifo" }?.type == UInt32(S_IFIFO))
    }
  }

  @Test("a user namespace with mappings, a time namespace with offsets, joined namespaces")
  func validNamespaces() throws {
    try withUnitBundle { bundle in
      var spec = validUnitSpec(bundle: bundle)
      spec.linux?.namespaces? += [LinuxNamespace(type: .user), LinuxNamespace(type: .time)]
      spec.linux?.namespaces?.removeAll { $0.type == .network }
      spec.linux?.namespaces?.append(LinuxNamespace(type: .network, path: "/proc/self/ns/net"))
      spec.linux?.uidMappings = [IDMapping(containerID: 0, hostID: 100_000, size: 65536)]
      spec.linux?.gidMappings = [IDMapping(containerID: 0, hostID: 100_000, size: 65536)]
      spec.linux?.timeOffsets = ["monotonic": TimeOffset(secs: 86400), "boottime": TimeOffset(secs: 1)]
      spec.linux?.sysctl = ["net.core.somaxconn": "1024"]
      let plan = try buildPlan(spec, bundle: bundle)
      #expect(plan.namespaces.isNew(.user))
      #expect(plan.namespaces.newTime)
      #expect(plan.namespaces.cloneFlags & 0x80 == 0)  // CLONE_NEWTIME is unshared later, not cloned
      #expect(plan.namespaces.joins(.network))
      #expect(!plan.namespaces.isNew(.network))
      #expect(plan.namespaces.join.map(\.path) == ["/proc/self/ns/net"])
      #expect(plan.namespaces.uidMappings.count == 1)
      #expect(plan.namespaces.timeOffsets["monotonic"]?.secs == 86400)
    }
  }

  @Test("root.path may be absolute; rootfsPropagation is read", arguments: [("private", UInt(1 << 18)), ("rshared", UInt(1 << 20) | 16384)])
  func absoluteRootAndPropagation(_ propagation: String, _ flag: UInt) throws {
    try withUnitBundle { bundle in
      var spec = validUnitSpec(bundle: bundle)
      spec.root = Root(path: bundle + "/./rootfs/", readonly: true)
      spec.linux?.rootfsPropagation = propagation
      let plan = try buildPlan(spec, bundle: bundle)
      #expect(plan.rootfs == bundle + "/rootfs")
      #expect(plan.readonlyRoot)
      #expect(plan.rootPropagation == flag)
    }
  }
}
