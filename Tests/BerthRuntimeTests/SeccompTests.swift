import BerthOCI
import Foundation
import Testing

/// linux.seccomp: filters built from the config and loaded before the user's process runs.
@Suite("Seccomp", .needsRoot)
struct SeccompTests {
  @Test("no seccomp section: no filter")
  func noFilter() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      let r = try await c.run(["cat", "/proc/self/status"])
      #expect(parseStatus(r.stdout)["Seccomp"] == "0", "\(r)")
    }
  }

  @Test("default ALLOW with mkdir denied with errnoRet 1 (EPERM)")
  func denyMkdir() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.linux.seccomp = LinuxSeccomp(
        defaultAction: .allow,
        syscalls: [SeccompSyscall(names: ["mkdir", "mkdirat"], action: .errno, errnoRet: 1)])
      let r = try await c.run([
        "sh", "-c", "mkdir /tmp/x 2>&1 || echo refused; touch /tmp/file && echo touch-ok; grep '^Seccomp:' /proc/self/status",
      ])
      #expect(r.stdout.contains("Operation not permitted"), "\(r)")
      #expect(r.lines.contains("refused"))
      #expect(r.lines.contains("touch-ok"), "other syscalls stay allowed: \(r)")
      #expect(r.lines.last?.hasSuffix("2") == true, "seccomp filter mode: \(r)")
      #expect(!FileManager.default.fileExists(atPath: c.hostPath("/tmp/x")))
    }
  }

  @Test("errnoRet is the errno the syscall returns")
  func errnoRet() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      // 95 = EOPNOTSUPP.
      c.linux.seccomp = LinuxSeccomp(
        defaultAction: .allow, syscalls: [SeccompSyscall(names: ["mkdir", "mkdirat"], action: .errno, errnoRet: 95)])
      let r = try await c.run(["sh", "-c", "mkdir /tmp/x 2>&1"])
      #expect(r.stdout.contains("Not supported") || r.stdout.contains("not supported"), "\(r)")
    }
  }

  @Test("argument conditions: chmod denied only for mode 0777")
  func argumentConditions() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.linux.seccomp = LinuxSeccomp(
        defaultAction: .allow,
        syscalls: [
          SeccompSyscall(
            names: ["chmod"], action: .errno, errnoRet: 1, args: [SeccompArg(index: 1, value: 0o777, op: .equalTo)]),
          SeccompSyscall(
            names: ["fchmodat"], action: .errno, errnoRet: 1, args: [SeccompArg(index: 2, value: 0o777, op: .equalTo)]),
        ])
      let r = try await c.run([
        "sh", "-c",
        "touch /tmp/f; chmod 755 /tmp/f && echo 755-ok; chmod 777 /tmp/f 2>&1 || echo 777-refused; stat -c %a /tmp/f",
      ])
      #expect(r.lines.contains("755-ok"), "\(r)")
      #expect(r.lines.contains("777-refused") && r.stdout.contains("Operation not permitted"), "\(r)")
      #expect(r.lines.last == "755", "\(r)")
    }
  }

  @Test("masked argument conditions (SCMP_CMP_MASKED_EQ)")
  func maskedArgument() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      // Refuse any mode with the setuid bit (04000), whatever the other bits are.
      c.linux.seccomp = LinuxSeccomp(
        defaultAction: .allow,
        syscalls: [
          SeccompSyscall(
            names: ["chmod"], action: .errno, errnoRet: 1,
            args: [SeccompArg(index: 1, value: 0o4000, valueTwo: 0o4000, op: .maskedEqual)]),
          SeccompSyscall(
            names: ["fchmodat"], action: .errno, errnoRet: 1,
            args: [SeccompArg(index: 2, value: 0o4000, valueTwo: 0o4000, op: .maskedEqual)]),
        ])
      let r = try await c.run([
        "sh", "-c", "touch /tmp/f; chmod 4755 /tmp/f 2>/dev/null || echo suid-refused; chmod 750 /tmp/f && echo plain-ok",
      ])
      #expect(r.lines == ["suid-refused", "plain-ok"], "\(r)")
    }
  }

  @Test("SCMP_ACT_KILL_PROCESS kills the caller with SIGSYS")
  func killProcess() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.linux.seccomp = LinuxSeccomp(
        defaultAction: .allow, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        syscalls: [SeccompSyscall(names: ["sethostname"], action: .killProcess)])
      let r = try await c.run(["sh", "-c", "hostname renamed; echo status=$?; hostname"])
      #expect(r.lines == ["status=\(128 + 31)", "berth-test"], "hostname must die of SIGSYS (31): \(r)")
    }
  }

  @Test("the filter applies to exec'd processes too")
  func execInherits() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.linux.seccomp = LinuxSeccomp(
        defaultAction: .allow, syscalls: [SeccompSyscall(names: ["mkdir", "mkdirat"], action: .errno, errnoRet: 1)])
      try await c.runDetached(["sleep", "100"])
      let r = await c.exec(["sh", "-c", "mkdir /tmp/x 2>&1 || echo refused"])
      #expect(r.lines.last == "refused", "\(r)")
    }
  }

  @Test("SCMP_ACT_NOTIFY: the listener reaches linux.seccomp.listenerPath with the container process state",
        .berthOnly("runc 1.1.5 sends a different state layout"))
  func notifyListener() async throws {
    try await withSandbox { sb in
      let agent = try ConsoleSocket(path: sb.path("agent.sock"))
      let c = try sb.container()
      c.linux.seccomp = LinuxSeccomp(
        defaultAction: .allow, listenerPath: agent.path, listenerMetadata: "berth-test-metadata",
        syscalls: [SeccompSyscall(names: ["mkdir", "mkdirat"], action: .notify)])
      // The mkdir blocks until the agent answers or drops the listener; then it fails (ENOSYS).
      async let result = c.run(["sh", "-c", "mkdir /tmp/x 2>&1; echo done"])
      let (listener, payload) = try await agent.receive()
      let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(listener)")) ?? "?"
      close(listener)
      let r = try await result
      expectSuccess(r)
      #expect(target.contains("seccomp"), "the descriptor is a seccomp listener: \(target)")
      let state = try JSONDecoder().decode(ContainerProcessState.self, from: Data(payload.utf8))
      #expect(state.fds == ["seccompFd"])
      #expect(state.metadata == "berth-test-metadata")
      #expect(state.state.id == c.id)
      #expect(state.pid > 0 && state.state.pid == state.pid, "\(payload)")
      #expect(r.stdout.contains("Function not implemented"), "the notified mkdir fails once the listener is gone: \(r)")
      #expect(r.lines.last == "done")
    }
  }
}
