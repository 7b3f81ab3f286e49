import BerthOS
import BerthTestSupport
import Foundation
import Testing

/// Limits (cgroups, rlimits, /dev/shm), namespaces shared with the host, and the OCI runtime.
@Suite("berth run: limits, namespaces, runtimes", .engineSandbox)
struct RunResourceTests {
  /// Whether the host mounts v1 controllers (then containers see them too).
  static let cgroupV1 = FS.isDirectory("/sys/fs/cgroup/memory")

  @Test("memory, CPU and pids limits are in the container's cgroup files")
  func cgroupLimits() async throws {
    try await EngineSandbox.with { sandbox in
      let flags = [
        "-m", "64m", "--memory-reservation", "32m", "--memory-swap", "128m", "--cpus", "0.5", "--cpu-shares", "512",
        "--pids-limit", "50", "--cpuset-cpus", "0",
      ]
      // File → value Docker's settings give, on each cgroup version.
      let expected: [String: String] =
        Self.cgroupV1
        ? [
          "memory/memory.limit_in_bytes": "67108864", "memory/memory.soft_limit_in_bytes": "33554432",
          "cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000", "cpu/cpu.shares": "512",
          "pids/pids.max": "50", "cpuset/cpuset.cpus": "0",
        ]
        : [
          "memory.max": "67108864", "memory.low": "33554432", "memory.swap.max": "67108864", "cpu.max": "50000 100000",
          "pids.max": "50", "cpuset.cpus": "0",
        ]
      let script = expected.keys.sorted().map { "echo \"\($0)=$(cat /sys/fs/cgroup/\($0))\"" }.joined(separator: "; ")
      let outcome = try await sandbox.ok(["run", "--rm"] + flags + ["busybox", "sh", "-c", script])
      var seen: [String: String] = [:]
      for line in outcome.lines {
        let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
        if parts.count == 2 { seen[parts[0]] = parts[1] }
      }
      #expect(seen == expected)
      if Self.cgroupV1 && FS.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") {
        let swap = try await sandbox.ok(["run", "--rm"] + flags + ["busybox", "cat", "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"])
        #expect(swap.trimmed == "134217728")
      }
    }
  }

  @Test("the memory limit holds: a process beyond it is killed and the exit says OOM")
  func outOfMemory() async throws {
    try await EngineSandbox.with { sandbox in
      let outcome = try await sandbox.run(
        "run", "--name", "hungry", "-m", "16m", "--memory-swap", "16m", "busybox", "sh", "-c",
        "head -c 100000000 /dev/zero | sort > /dev/null")
      #expect(outcome.code == 137, "\(outcome)")
      let id = try #require(sandbox.containerDirectories.first)
      let exit = try #require(sandbox.stateText(id, "exit")).split(separator: " ")
      #expect(exit.first == "137" && exit.last == "1", "the monitor's exit record: \(exit)")
    }
  }

  @Test("--ulimit sets soft and hard limits; beyond the host's hard limit it fails and says why")
  func ulimits() async throws {
    try await EngineSandbox.with { sandbox in
      let outcome = try await sandbox.ok(
        "run", "--rm", "--ulimit", "nofile=1024:2048", "--ulimit", "nproc=100", "busybox", "sh", "-c",
        "ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu")
      #expect(outcome.lines == ["1024", "2048", "100", "100"])

      var limit = rlimit()
      getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
      guard limit.rlim_max != rlim_t.max else { return }
      // Root here cannot raise a hard limit (no CAP_SYS_RESOURCE): the error names the limit.
      let capabilities = try FS.readText("/proc/self/status")
      guard let line = capabilities.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
        let mask = UInt64(line.split(separator: "\t").last ?? "", radix: 16), mask & (1 << 24) == 0
      else { return }
      let above = limit.rlim_max + 1
      let refused = try await sandbox.run("run", "--rm", "--ulimit", "nofile=\(above):\(above)", "busybox", "true")
      #expect(refused.code == 125 || refused.code == 126, "\(refused)")
      #expect(refused.stderr.contains("RLIMIT_NOFILE"), "\(refused)")
    }
  }

  @Test("--shm-size sizes /dev/shm")
  func shmSize() async throws {
    try await EngineSandbox.with { sandbox in
      let outcome = try await sandbox.ok("run", "--rm", "--shm-size", "8m", "busybox", "sh", "-c", "df -k /dev/shm | tail -1 | awk '{print $2}'")
      #expect(outcome.trimmed == "8192")
    }
  }

  @Test(
    "--pid, --ipc, --uts and --network host share the host's namespace; by default each is the container's own",
    arguments: [("--pid", "pid"), ("--ipc", "ipc"), ("--uts", "uts"), ("--network", "net")])
  func hostNamespaces(flag: String, namespace: String) async throws {
    try await EngineSandbox.with { sandbox in
      let host = try FS.readLink("/proc/self/ns/" + namespace)
      let shared = try await sandbox.ok("run", "--rm", flag, "host", "busybox", "readlink", "/proc/self/ns/" + namespace)
      #expect(shared.trimmed == host)
      let own = try await sandbox.ok("run", "--rm", "busybox", "readlink", "/proc/self/ns/" + namespace)
      #expect(own.trimmed.hasPrefix(namespace + ":[") && own.trimmed != host)
    }
  }

  @Test("--uts host and --network host give the host's name; --network none only a loopback")
  func networkModes() async throws {
    try await EngineSandbox.with { sandbox in
      let hostname = try FS.readText("/proc/sys/kernel/hostname", trimmingNewline: true)
      #expect(try await sandbox.ok("run", "--rm", "--uts", "host", "busybox", "hostname").trimmed == hostname)
      // The host's namespace itself (its interface list changes as other tests' veths come and go).
      let onHost = try await sandbox.ok("run", "--rm", "--network", "host", "busybox", "sh", "-c", "hostname; readlink /proc/self/ns/net")
      #expect(onHost.lines.first == hostname)
      #expect(onHost.lines.last == (try FS.readLink("/proc/self/ns/net")))

      let isolated = try await sandbox.ok("run", "--rm", "--network", "none", "busybox", "sh", "-c", "ls /sys/class/net; grep -c localhost /etc/hosts")
      #expect(isolated.lines.first == "lo" && isolated.lines.count == 2)
      #expect((Int(isolated.lines.last ?? "") ?? 0) >= 1)
    }
  }

  @Test("--runtime runc: the same container life through runc (run, exec, stop, rm)", .engineNeeds("runc"))
  func runc() async throws {
    try await EngineSandbox.with { sandbox in
      let foreground = try await sandbox.run("run", "--rm", "--runtime", "runc", "busybox", "sh", "-c", "echo via runc; exit 4")
      #expect(foreground.code == 4 && foreground.stdout == "via runc\n", "\(foreground)")

      let id = try await sandbox.runDetached("--runtime", "runc", "busybox", "sleep", "100")
      #expect(FS.exists(sandbox.runRoot + "/runtime/runc/" + id), "runc's state is not in the run root")
      #expect(try await sandbox.ok("exec", id, "hostname").trimmed == String(id.prefix(12)))
      try await sandbox.ok("stop", "-t", "1", id)
      #expect(try await sandbox.ok("wait", id).trimmed == "137")
      try await sandbox.ok("start", id)
      #expect(try await sandbox.ok("exec", id, "echo", "again").trimmed == "again")
      try await sandbox.ok("rm", "-f", id)
    }
  }
}
