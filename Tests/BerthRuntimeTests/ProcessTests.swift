import BerthOCI
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `process`: environment, cwd, user, capabilities, rlimits, no_new_privs, oom_score_adj, ...
@Suite("Process", .needsRoot)
struct ProcessTests {
  /// Whether the test process (so the runtime it starts) holds a capability.
  static func hostHas(_ capability: String) -> Bool {
    let status = parseStatus(readText("/proc/self/status") ?? "")
    let effective = UInt64(status["CapEff"] ?? "0", radix: 16) ?? 0
    return effective & Capability.mask([capability]) != 0
  }

  @Test("env is exactly the configured environment")
  func environment() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.process.env = ["PATH=/bin:/sbin", "FOO=bar baz", "EMPTY=", "WITH_EQUALS=a=b"]
      let r = try await c.run(["sh", "-c", "echo \"$FOO|$EMPTY|$WITH_EQUALS|$PATH\"; env | grep -c '^EMPTY=$'"])
      expectSuccess(r)
      #expect(r.lines == ["bar baz||a=b|/bin:/sbin", "1"], "\(r)")
    }
  }

  @Test("the host's environment does not leak into the container")
  func noHostEnvironment() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.process.env = ["PATH=/bin"]
      let r = try await c.run(["env"])
      expectSuccess(r)
      for line in r.lines {
        let name = line.prefix { $0 != "=" }
        #expect(["PATH", "HOME", "HOSTNAME", "TERM", "container"].contains(String(name)), "unexpected variable: \(line)")
      }
      #expect(!r.stdout.contains("LANG=C"), "the runtime's own environment must not be inherited: \(r)")
    }
  }

  @Test("cwd is where the process starts, created when missing")
  func workingDirectory() async throws {
    try await withSandbox { sb in
      let existing = try sb.container("existing")
      existing.process.cwd = "/home/user"
      let r = try await existing.run(["pwd"])
      #expect(r.out == "/home/user", "\(r)")

      let missing = try sb.container("missing")
      missing.process.cwd = "/does/not/exist"
      let created = try await missing.run(["pwd"])
      #expect(created.out == "/does/not/exist", "a missing cwd is created (as runc does): \(created)")
    }
  }

  @Test("user: uid, gid, additionalGids and umask")
  func user() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.process.user = User(uid: 1000, gid: 1000, umask: 0o027, additionalGids: [100, 5])
      c.process.cwd = "/tmp"
      let r = try await c.run([
        "sh", "-c", "id -u; id -g; id -G; umask; touch f; mkdir d; stat -c '%a %u:%g' f d; grep -E '^(Uid|Gid):' /proc/self/status",
      ])
      expectSuccess(r)
      #expect(r.lines.count == 8, "\(r)")
      guard r.lines.count == 8 else { return }
      #expect(r.lines[0] == "1000" && r.lines[1] == "1000", "\(r)")
      #expect(Set(r.lines[2].split(separator: " ")) == ["1000", "100", "5"], "\(r)")
      #expect(r.lines[3] == "0027", "\(r)")
      #expect(r.lines[4] == "640 1000:1000", "umask 027 applied to a new file: \(r)")
      #expect(r.lines[5] == "750 1000:1000", "umask 027 applied to a new directory: \(r)")
      #expect(r.lines[6].split(whereSeparator: \.isWhitespace).dropFirst() == ["1000", "1000", "1000", "1000"])
      #expect(r.lines[7].split(whereSeparator: \.isWhitespace).dropFirst() == ["1000", "1000", "1000", "1000"])
    }
  }

  struct CapabilityCase: Sendable, CustomTestStringConvertible {
    var uid: UInt32
    var testDescription: String { "uid \(uid)" }
  }

  @Test(
    "capabilities: every set reaches the process",
    arguments: [CapabilityCase(uid: 0), CapabilityCase(uid: 1000)])
  func capabilities(_ testCase: CapabilityCase) async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      let caps = LinuxCapabilities(
        bounding: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_SETUID"],
        effective: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
        inheritable: ["CAP_KILL", "CAP_NET_RAW"],
        permitted: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
        ambient: ["CAP_KILL"])
      c.process.capabilities = caps
      c.process.noNewPrivileges = true
      c.process.user = User(uid: testCase.uid, gid: testCase.uid)
      let r = try await c.run(["cat", "/proc/self/status"])
      expectSuccess(r)
      let status = parseStatus(r.stdout)
      func mask(_ key: String) -> UInt64? { UInt64(status[key] ?? "", radix: 16) }
      let bounding = Capability.mask(caps.bounding)
      let inheritable = Capability.mask(caps.inheritable)
      let ambient = Capability.mask(caps.ambient)
      #expect(mask("CapBnd") == bounding, "bounding: \(status["CapBnd"] ?? "?")")
      #expect(mask("CapInh") == inheritable, "inheritable: \(status["CapInh"] ?? "?")")
      #expect(mask("CapAmb") == ambient, "ambient: \(status["CapAmb"] ?? "?")")
      if testCase.uid == 0 {
        // execve as root would make permitted = inheritable | bounding (capabilities(7)), but
        // no_new_privs caps it at the permitted set the runtime left: exactly the configured one.
        let permitted = Capability.mask(caps.permitted)
        #expect(mask("CapPrm") == permitted, "permitted: \(status["CapPrm"] ?? "?")")
        #expect(mask("CapEff") == permitted, "effective: \(status["CapEff"] ?? "?")")
      } else {
        // execve as non-root of a file without capabilities: permitted = effective = ambient.
        #expect(mask("CapPrm") == ambient, "permitted: \(status["CapPrm"] ?? "?")")
        #expect(mask("CapEff") == ambient, "effective: \(status["CapEff"] ?? "?")")
      }
    }
  }

  @Test("capabilities are enforced: chown needs CAP_CHOWN")
  func capabilitiesEnforced() async throws {
    try await withSandbox { sb in
      let without = try sb.container("without")
      let r = try await without.run(["sh", "-c", "touch /tmp/f; chown 1000 /tmp/f 2>&1 || echo refused"])
      #expect(r.lines.contains("refused") && r.stdout.contains("Operation not permitted"), "\(r)")

      let with = try sb.container("with")
      let set = DefaultSpec.capabilities + ["CAP_CHOWN"]
      with.process.capabilities = LinuxCapabilities(bounding: set, effective: set, permitted: set)
      let ok = try await with.run(["sh", "-c", "touch /tmp/f; chown 1000 /tmp/f && stat -c %u /tmp/f"])
      #expect(ok.out == "1000", "\(ok)")
    }
  }

  @Test("rlimits: ulimit -n and /proc/self/limits")
  func rlimits() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.process.rlimits = [
        POSIXRlimit(type: "RLIMIT_NOFILE", hard: 2000, soft: 1000),
        POSIXRlimit(type: "RLIMIT_CORE", hard: 0, soft: 0),
        POSIXRlimit(type: "RLIMIT_NPROC", hard: 5000, soft: 4000),
      ]
      let r = try await c.run(["sh", "-c", "ulimit -n; ulimit -Hn; grep -E '^Max (open files|core file size|processes)' /proc/self/limits"])
      expectSuccess(r)
      #expect(Array(r.lines.prefix(2)) == ["1000", "2000"], "\(r)")
      func limit(_ name: String) -> [String]? {
        r.lines.first { $0.hasPrefix(name) }.map {
          $0.dropFirst(name.count).split(whereSeparator: \.isWhitespace).prefix(2).map(String.init)
        }
      }
      #expect(limit("Max open files") == ["1000", "2000"], "\(r)")
      #expect(limit("Max core file size") == ["0", "0"], "\(r)")
      #expect(limit("Max processes") == ["4000", "5000"], "\(r)")
    }
  }

  @Test("an rlimit above the hard limit the runtime holds fails without CAP_SYS_RESOURCE")
  func rlimitAboveHardLimit() async throws {
    try await withSandbox { sb in
      var current = rlimit()
      getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &current)
      let wanted = UInt64(current.rlim_max) + 10_000
      let c = try sb.container()
      c.process.rlimits = [POSIXRlimit(type: "RLIMIT_NOFILE", hard: wanted, soft: wanted)]
      let r = try await c.run(["sh", "-c", "ulimit -n"])
      if Self.hostHas("CAP_SYS_RESOURCE") {
        #expect(r.out == "\(wanted)", "\(r)")
      } else {
        #expect(!r.succeeded, "raising RLIMIT_NOFILE past \(current.rlim_max) needs CAP_SYS_RESOURCE: \(r)")
        #expect(!r.err.isEmpty)
        if !sb.runtime.isReference {
          #expect(r.stderr.contains("RLIMIT_NOFILE"), "the error must name the limit: \(r)")
        }
      }
    }
  }

  @Test("noNewPrivileges sets NoNewPrivs", arguments: [true, false])
  func noNewPrivileges(enabled: Bool) async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.process.noNewPrivileges = enabled
      let r = try await c.run(["cat", "/proc/self/status"])
      #expect(parseStatus(r.stdout)["NoNewPrivs"] == (enabled ? "1" : "0"), "\(r)")
    }
  }

  @Test("oomScoreAdj is written to /proc/self/oom_score_adj")
  func oomScoreAdj() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.process.oomScoreAdj = 500
      let r = try await c.run(["cat", "/proc/self/oom_score_adj"])
      #expect(r.out == "500", "\(r)")
    }
  }

  @Test("a negative oomScoreAdj fails cleanly without CAP_SYS_RESOURCE")
  func negativeOomScoreAdj() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.process.oomScoreAdj = -500
      let r = try await c.run(["cat", "/proc/self/oom_score_adj"])
      if Self.hostHas("CAP_SYS_RESOURCE") {
        #expect(r.out == "-500", "\(r)")
      } else {
        #expect(!r.succeeded, "lowering oom_score_adj needs CAP_SYS_RESOURCE: \(r)")
        #expect(!r.err.isEmpty)
        if !sb.runtime.isReference {
          #expect(r.stderr.contains("oom_score_adj") || r.stderr.contains("oomScoreAdj"), "\(r)")
        }
      }
    }
  }

  @Test(
    "process.scheduler sets the policy and nice value",
    .berthOnly("runc 1.1.5 ignores process.scheduler (runtime-spec 1.2, runc 1.2)"))
  func scheduler() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.process.scheduler = Scheduler(policy: "SCHED_BATCH", nice: 5)
      // /proc/self/stat fields 19 (nice) and 41 (policy); comm is "cat", without spaces.
      let r = try await c.run(["sh", "-c", "cat /proc/self/stat | awk '{print $19, $41}'"])
      #expect(r.out == "5 3", "nice 5, SCHED_BATCH (3): \(r)")
    }
  }

  @Test(
    "process.ioPriority sets the I/O class",
    .berthOnly("runc 1.1.5 ignores process.ioPriority (runtime-spec 1.2, runc 1.2)"))
  func ioPriority() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.process.ioPriority = IOPriority(class: "IOPRIO_CLASS_BE", priority: 6)
      let r = try await c.run(["sh", "-c", "ionice -p $$"])
      #expect(r.out.contains("best-effort") && r.out.contains("prio 6"), "\(r)")
    }
  }

  @Test(
    "linux.personality LINUX32 makes uname report a 32-bit machine",
    .berthOnly("runc 1.1.5 ignores linux.personality (runc 1.2)"))
  func personality() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.linux.personality = LinuxPersonality(domain: "LINUX32")
      let r = try await c.run(["uname", "-m"])
      #expect(r.out == "i686", "\(r)")
    }
  }
}
