import BerthOS
import BerthTestSupport
import Foundation
import Testing

/// Docker's default confinement and the flags that change it, seen from inside the container.
@Suite("berth run: security defaults and flags", .engineSandbox)
struct RunSecurityTests {
  /// Capability numbers (linux/capability.h) of Docker's default set.
  static let dockerDefaultCapabilities: [Int] = [
    0,  // CHOWN
    1,  // DAC_OVERRIDE
    3,  // FOWNER
    4,  // FSETID
    5,  // KILL
    6,  // SETGID
    7,  // SETUID
    8,  // SETPCAP
    10,  // NET_BIND_SERVICE
    13,  // NET_RAW
    18,  // SYS_CHROOT
    27,  // MKNOD
    29,  // AUDIT_WRITE
    31,  // SETFCAP
  ]

  static func mask(_ capabilities: [Int]) -> UInt64 { capabilities.reduce(0) { $0 | (1 << UInt64($1)) } }

  /// "Name:\tvalue" lines of /proc/self/status as printed by `grep`.
  static func statusFields(_ text: String) -> [String: String] {
    var fields: [String: String] = [:]
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: ":", maxSplits: 1)
      if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
    }
    return fields
  }

  /// The words after `key` on the line that starts with it.
  static func words(after key: String, in lines: [String]) -> Set<String> {
    guard let line = lines.first(where: { $0.hasPrefix(key + " ") }) else { return [] }
    return Set(line.split(separator: " ").dropFirst().map(String.init))
  }

  static let statusProbe = ["sh", "-c", "grep -E '^(CapEff|CapBnd|CapPrm|Seccomp|NoNewPrivs):' /proc/self/status"]

  func status(_ sandbox: EngineSandbox, _ flags: [String]) async throws -> [String: String] {
    Self.statusFields(try await sandbox.ok(["run", "--rm"] + flags + ["busybox"] + Self.statusProbe).stdout)
  }

  @Test("by default: Docker's capabilities, seccomp filtering, no no_new_privs flag")
  func defaultConfinement() async throws {
    try await EngineSandbox.with { sandbox in
      let fields = try await status(sandbox, [])
      let expected = String(format: "%016llx", Self.mask(Self.dockerDefaultCapabilities))
      #expect(fields["CapEff"] == expected)
      #expect(fields["CapBnd"] == expected)
      #expect(fields["Seccomp"] == "2")
      #expect(fields["NoNewPrivs"] == "0")
      // The default profile refuses what Docker's does: unshare without CAP_SYS_ADMIN (allowed
      // with seccomp=unconfined, below).
      let unshare = try await sandbox.run("run", "--rm", "busybox", "unshare", "-U", "true")
      #expect(unshare.code == 1 && unshare.stderr.contains("Operation not permitted"), "\(unshare)")
    }
  }

  @Test("by default: masked and read-only /proc paths, a 64 MB /dev/shm, a minimal /dev")
  func defaultFilesystemView() async throws {
    try await EngineSandbox.with { sandbox in
      // Masked files read empty; masked directories are empty; /proc/sys and friends are read-only.
      let script = """
        for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats; do
          [ -e $f ] && echo "masked-file $f $(cat $f | wc -c)"
        done
        for d in /proc/acpi /proc/scsi /sys/firmware; do
          [ -d $d ] && echo "masked-dir $d $(ls -A $d | wc -l)"
        done
        echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo "proc-sys writable"
        echo 1 > /proc/sysrq-trigger 2>/dev/null && echo "sysrq-trigger writable"
        echo "shm $(df -k /dev/shm | tail -1 | awk '{print $2}')"
        echo "dev $(ls /dev | tr '\\n' ' ')"
        """
      let outcome = try await sandbox.ok("run", "--rm", "busybox", "sh", "-c", script)
      let lines = outcome.lines
      let maskedFiles = lines.filter { $0.hasPrefix("masked-file ") }
      // /proc/keys exists on every kernel with keys; the others depend on the kernel's options.
      #expect(maskedFiles.contains { $0.hasPrefix("masked-file /proc/keys ") }, "\(lines)")
      for line in maskedFiles { #expect(line.hasSuffix(" 0"), "not masked: \(line)") }
      for line in lines where line.hasPrefix("masked-dir ") { #expect(line.hasSuffix(" 0"), "not masked: \(line)") }
      #expect(!lines.contains("proc-sys writable"))
      #expect(!lines.contains("sysrq-trigger writable"))
      #expect(lines.contains("shm 65536"), "\(lines)")
      let devices = Self.words(after: "dev", in: lines)
      for expected in ["null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "mqueue"] {
        #expect(devices.contains(expected), "/dev lacks \(expected): \(devices.sorted())")
      }
      // Nothing of the host's disks or kernel interfaces.
      for hidden in ["kmsg", "mem", "fuse", "loop0", "sda", "vda"] { #expect(!devices.contains(hidden), "/dev has \(hidden)") }
    }
  }

  @Test(
    "--cap-add and --cap-drop change the capability set",
    arguments: [
      (["--cap-drop", "ALL"], [Int]()),
      (["--cap-drop", "ALL", "--cap-add", "NET_ADMIN"], [12]),
      (["--cap-drop", "chown"], RunSecurityTests.dockerDefaultCapabilities.filter { $0 != 0 }),
      (["--cap-add", "CAP_SYS_ADMIN", "--cap-drop", "NET_RAW"], RunSecurityTests.dockerDefaultCapabilities.filter { $0 != 13 } + [21]),
    ])
  func capabilities(flags: [String], expected: [Int]) async throws {
    try await EngineSandbox.with { sandbox in
      let fields = try await status(sandbox, flags)
      #expect(fields["CapEff"] == String(format: "%016llx", Self.mask(expected)), "\(flags)")
    }
  }

  @Test("a dropped capability is really gone: chown fails without CAP_CHOWN")
  func droppedCapabilityIsEnforced() async throws {
    try await EngineSandbox.with { sandbox in
      let allowed = try await sandbox.run("run", "--rm", "busybox", "sh", "-c", "touch /tmp/f && chown 1000 /tmp/f")
      #expect(allowed.code == 0, "\(allowed)")
      let refused = try await sandbox.run("run", "--rm", "--cap-drop", "CHOWN", "busybox", "sh", "-c", "touch /tmp/f && chown 1000 /tmp/f")
      #expect(refused.code == 1 && refused.stderr.contains("Operation not permitted"), "\(refused)")
    }
  }

  @Test("--privileged: every capability the host allows, no seccomp, the host's devices")
  func privileged() async throws {
    try await EngineSandbox.with { sandbox in
      // Root here lacks CAP_SYS_RESOURCE (DESIGN.md): "every capability" can only be the ones
      // the engine itself holds, as podman grants them.
      let hostBounding = Self.statusFields(try FS.readText("/proc/self/status"))["CapBnd"]
      let outcome = try await sandbox.run(["run", "--rm", "--privileged", "busybox"] + Self.statusProbe)
      #expect(outcome.code == 0, "\(outcome)")
      let fields = Self.statusFields(outcome.stdout)
      #expect(fields["CapEff"] == hostBounding)
      #expect(fields["Seccomp"] == "0")
      let devices = try await sandbox.ok("run", "--rm", "--privileged", "busybox", "ls", "/dev")
      #expect(devices.lines.contains("fuse"))
    }
  }

  @Test("--security-opt no-new-privileges, seccomp=unconfined and seccomp=PROFILE")
  func securityOptions() async throws {
    try await EngineSandbox.with { sandbox in
      #expect(try await status(sandbox, ["--security-opt", "no-new-privileges"])["NoNewPrivs"] == "1")
      #expect(try await status(sandbox, ["--security-opt", "no-new-privileges=true"])["NoNewPrivs"] == "1")
      #expect(try await status(sandbox, ["--security-opt", "seccomp=unconfined"])["Seccomp"] == "0")
      let unshare = try await sandbox.run("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "unshare", "-U", "true")
      #expect(unshare.code == 0, "\(unshare)")

      // A profile of our own: everything allowed but mkdir.
      let profile = sandbox.scratch + "/profile.json"
      try FS.write(profile, #"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#)
      let confined = try await sandbox.run("run", "--rm", "--security-opt", "seccomp=" + profile, "busybox", "sh", "-c", "touch /tmp/file && echo touched; mkdir /tmp/dir")
      #expect(confined.code == 1, "\(confined)")
      #expect(confined.stdout == "touched\n")
      #expect(confined.stderr.contains("Operation not permitted"))
    }
  }

  @Test("--device HOST:CONTAINER puts the node in the container; default access is rwm")
  func device() async throws {
    try await EngineSandbox.with { sandbox in
      let outcome = try await sandbox.ok(
        "run", "--rm", "--device", "/dev/null:/dev/xnull", "busybox", "sh", "-c",
        "stat -c '%F %t:%T' /dev/xnull; echo data > /dev/xnull && echo written")
      #expect(outcome.lines == ["character special file 1:3", "written"])
    }
  }

  /// Berth's runtime, and runc when it is installed.
  static let runtimes = ["berth-runtime"] + (RegistrySupport.which("runc") == nil ? [] : ["runc"])

  @Test("--device HOST:CONTAINER:r allows reading, not writing (the devices cgroup)", arguments: RunSecurityTests.runtimes)
  func readOnlyDevice(runtime: String) async throws {
    try await EngineSandbox.with { sandbox in
      let script = "exec 3< /dev/xfuse && echo read-ok; exec 4> /dev/xfuse && echo write-ok"
      let full = try await sandbox.run("run", "--rm", "--runtime", runtime, "--device", "/dev/fuse:/dev/xfuse", "busybox", "sh", "-c", script)
      #expect(full.stdout == "read-ok\nwrite-ok\n", "\(full)")
      let readOnly = try await sandbox.run("run", "--rm", "--runtime", runtime, "--device", "/dev/fuse:/dev/xfuse:r", "busybox", "sh", "-c", script)
      #expect(readOnly.stdout == "read-ok\n", "\(readOnly)")
      #expect(readOnly.stderr.contains("Operation not permitted"), "\(readOnly)")
    }
  }

  @Test("--read-only: the root filesystem refuses writes; --tmpfs and /dev/shm stay writable")
  func readOnlyRoot() async throws {
    try await EngineSandbox.with { sandbox in
      let refused = try await sandbox.run("run", "--rm", "--read-only", "busybox", "touch", "/file")
      #expect(refused.code == 1 && refused.stderr.contains("Read-only file system"), "\(refused)")

      let script = """
        touch /run/ok && echo run-writable
        touch /dev/shm/ok && echo shm-writable
        df -k /run | tail -1 | awk '{print "size " $2}'
        grep ' /run ' /proc/self/mountinfo | grep -q 'nosuid,nodev,noexec' && echo docker-options
        """
      let outcome = try await sandbox.ok("run", "--rm", "--read-only", "--tmpfs", "/run:size=1m", "busybox", "sh", "-c", script)
      #expect(outcome.lines == ["run-writable", "shm-writable", "size 1024", "docker-options"])
    }
  }

  @Test("--sysctl sets namespaced sysctls in the container only; others are refused")
  func sysctls() async throws {
    try await EngineSandbox.with { sandbox in
      let hostForwarding = try FS.readText("/proc/sys/net/ipv4/ip_forward", trimmingNewline: true)
      let wanted = hostForwarding == "1" ? "0" : "1"
      let outcome = try await sandbox.ok(
        "run", "--rm", "--sysctl", "net.ipv4.ip_forward=" + wanted, "--sysctl", "kernel.shmmax=1048576", "busybox",
        "cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmax")
      #expect(outcome.lines == [wanted, "1048576"])
      #expect(try FS.readText("/proc/sys/net/ipv4/ip_forward", trimmingNewline: true) == hostForwarding)

      let refused = try await sandbox.run("run", "--rm", "--sysctl", "vm.swappiness=10", "busybox", "true")
      #expect(refused.code == 125, "\(refused)")
      #expect(refused.stderr.contains("sysctl 'vm.swappiness=10' is not allowed"), "\(refused)")
    }
  }
}
