import BerthOCI
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// berth-runtime on a pure cgroup v2 host. This machine is hybrid (v1 controllers, a cgroup2 at
/// /sys/fs/cgroup/unified), so each runtime command runs in a private mount namespace where
/// that same cgroup2 hierarchy is mounted at /sys/fs/cgroup: the runtime then sees a pure v2
/// host and takes its v2 paths for real (clone into the cgroup, the eBPF device filter,
/// cgroup.freeze, cgroup.kill, the cgroup2 mount in the container). The hierarchy has no
/// memory or cpu controller here; the v2 limit files are covered by BerthCgroupsTests.
@Suite("cgroup v2 host", .needsRoot, .berthOnly("runc 1.1.5 is tested on this host's own layout only"))
struct CgroupV2Tests {
  static let unifiedMount = "/sys/fs/cgroup/unified"
  static var available: Bool {
    FileManager.default.fileExists(atPath: unifiedMount + "/cgroup.controllers")
      && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
  }

  /// Runs the runtime with `--root` in a mount namespace whose /sys/fs/cgroup is the cgroup2
  /// hierarchy.
  static func v2Runtime(_ sb: Sandbox, _ args: [String], timeout: Double = 20) async -> CommandResult {
    let script = "mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec \"$0\" \"$@\""
    return await sb.host(
      ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script, sb.runtime.path,
       "--root", sb.stateRoot] + args,
      timeout: timeout)
  }

  /// The container's cgroup directory as this (hybrid) host sees it.
  static func hostCgroup(_ c: TestContainer) -> String { unifiedMount + c.cgroupsPath }

  /// A sandbox whose containers are deleted in the v2 view before the sandbox's own checks
  /// (its host-view `delete` cannot reach cgroups recorded as v2 paths).
  static func withV2Sandbox(_ tag: String = #function, _ body: (Sandbox) async throws -> Void) async throws {
    try await withSandbox(tag) { sb in
      do {
        try await body(sb)
      } catch {
        for c in sb.containers { _ = await v2Runtime(sb, ["delete", "--force", c.id]) }
        throw error
      }
      for c in sb.containers { _ = await v2Runtime(sb, ["delete", "--force", c.id]) }
    }
  }

  @Test("a container starts inside its cgroup2 directory and sees only it", .enabled(if: available))
  func runInCgroup() async throws {
    try await Self.withV2Sandbox { sb in
      let c = try sb.container()
      c.process.args = ["sh", "-c", "cat /proc/self/cgroup; test -e /sys/fs/cgroup/cgroup.controllers && echo cgroup2-mounted; test -e /sys/fs/cgroup/memory || echo no-v1"]
      try c.writeSpec()
      let result = await Self.v2Runtime(sb, ["run", "--bundle", c.bundle, c.id])
      expectSuccess(result)
      // A cgroup namespace (in the default spec) makes the container's cgroup its root. (The
      // process is still in this host's v1 hierarchies too: only the cgroup2 line counts.)
      #expect(result.lines.first { $0.hasPrefix("0::") } == "0::/", "\(result)")
      #expect(result.lines.contains("cgroup2-mounted"), "\(result)")
      #expect(result.lines.contains("no-v1"), "\(result)")
      #expect(!FileManager.default.fileExists(atPath: Self.hostCgroup(c)), "the cgroup outlived the container")
      #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory" + c.cgroupsPath), "a v1 cgroup was made on a v2 host")
    }
  }

  @Test("the init is cloned into its cgroup: it never shows in the caller's", .enabled(if: available))
  func clonedIntoCgroup() async throws {
    try await Self.withV2Sandbox { sb in
      let c = try sb.container(args: ["sleep", "30"])
      try c.writeSpec()
      expectSuccess(await Self.v2Runtime(sb, ["run", "--detach", "--bundle", c.bundle, c.id]))
      let state = await Self.v2Runtime(sb, ["state", c.id])
      let decoded = try JSONDecoder().decode(ContainerState.self, from: Data(state.stdout.utf8))
      let pid = try #require(decoded.pid)
      let procs = try String(contentsOfFile: Self.hostCgroup(c) + "/cgroup.procs", encoding: .utf8)
      #expect(procs.split(separator: "\n").contains(Substring(String(pid))), "cgroup.procs: \(procs)")
      let line = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
        .split(separator: "\n").first { $0.hasPrefix("0::") }
      #expect(line == Substring("0::" + c.cgroupsPath), "\(line ?? "none")")
      expectSuccess(await Self.v2Runtime(sb, ["delete", "--force", c.id]))
      #expect(!FileManager.default.fileExists(atPath: Self.hostCgroup(c)))
    }
  }

  @Test("the eBPF device filter allows the default devices and denies the others", .enabled(if: available))
  func deviceFilter() async throws {
    try await Self.withV2Sandbox { sb in
      let c = try sb.container()
      let caps = DefaultSpec.capabilities + ["CAP_MKNOD"]
      c.process.capabilities = LinuxCapabilities(bounding: caps, effective: caps, permitted: caps)
      c.resources.devices = [LinuxDeviceCgroup(allow: false, access: "rwm")]
      // 1:11 is /dev/kmsg: not among the devices every container may use.
      c.process.args = [
        "sh", "-c",
        "head -c 4 /dev/zero | wc -c; mknod /tmp/kmsg c 1 11 && (cat /tmp/kmsg >/dev/null 2>&1 && echo kmsg-open || echo kmsg-denied)",
      ]
      try c.writeSpec()
      let r = await Self.v2Runtime(sb, ["run", "--bundle", c.bundle, c.id])
      expectSuccess(r)
      #expect(r.lines == ["4", "kmsg-denied"], "\(r)")
    }
  }

  @Test("pause and resume through cgroup.freeze; kill --all through cgroup.kill", .enabled(if: available))
  func freezeAndKill() async throws {
    try await Self.withV2Sandbox { sb in
      let c = try sb.container(args: ["sh", "-c", "sleep 30 & sleep 30"])
      try c.writeSpec()
      expectSuccess(await Self.v2Runtime(sb, ["run", "--detach", "--bundle", c.bundle, c.id]))
      expectSuccess(await Self.v2Runtime(sb, ["pause", c.id]))
      let freeze = try String(contentsOfFile: Self.hostCgroup(c) + "/cgroup.freeze", encoding: .utf8)
      #expect(freeze.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
      let paused = await Self.v2Runtime(sb, ["state", c.id])
      #expect(paused.stdout.contains("\"paused\""), "\(paused)")
      expectSuccess(await Self.v2Runtime(sb, ["resume", c.id]))
      let running = await Self.v2Runtime(sb, ["state", c.id])
      #expect(running.stdout.contains("\"running\""), "\(running)")
      let exec = await Self.v2Runtime(sb, ["exec", c.id, "sh", "-c", "grep ^0:: /proc/self/cgroup"])
      #expect(exec.out == "0::/", "exec joins the container's cgroup namespace and cgroup: \(exec)")
      expectSuccess(await Self.v2Runtime(sb, ["kill", "--all", c.id, "KILL"]))
      let gone = await eventually(timeout: 5) {
        ((try? String(contentsOfFile: Self.hostCgroup(c) + "/cgroup.procs", encoding: .utf8)) ?? "").isEmpty
      }
      #expect(gone, "kill --all left processes in the cgroup")
      expectSuccess(await Self.v2Runtime(sb, ["delete", c.id]))
      #expect(!FileManager.default.fileExists(atPath: Self.hostCgroup(c)))
    }
  }
}
