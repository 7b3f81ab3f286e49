import BerthOCI
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Attacks from inside the container: the runtime binary (CVE-2019-5736), inherited
/// descriptors, symlinked working directories.
@Suite("Safety", .needsRoot)
struct SafetyTests {
  static func sha256(_ path: String) async -> String {
    await Subprocess.run(["/usr/bin/sha256sum", path]).out.split(separator: " ").first.map(String.init) ?? "?"
  }

  @Test("CVE-2019-5736: a container cannot rewrite the runtime binary through /proc/<pid>/exe")
  func runtimeBinaryUnreachable() async throws {
    try await withSandbox { sb in
      let binary = sb.runtime.path
      let before = await Self.sha256(binary)
      let shared = try sb.makeDirectory("shared")

      // The attacker: PID 1 of a PID namespace the victim will join. Root with CAP_SYS_PTRACE and
      // CAP_DAC_OVERRIDE, so only the runtime's own defences stand in the way. It grabs a read-only
      // descriptor on the victim's /proc/<pid>/exe while the victim waits for start, and once that
      // process has exec'd, reopens the descriptor for writing and appends to it. runc 1.1.5
      // refuses the reopen (EROFS: its init runs from a read-only bind mount of itself);
      // berth-runtime's created container waits in a sealed memfd copy of its exec stub, which
      // may be opened but never written (EPERM). Either way the write must fail, the descriptor
      // must not name the runtime binary, and the binary must stay as it was.
      let attacker = try sb.container("attacker")
      let caps = DefaultSpec.capabilities + ["CAP_SYS_PTRACE", "CAP_DAC_OVERRIDE"]
      attacker.process.capabilities = LinuxCapabilities(bounding: caps, effective: caps, permitted: caps)
      attacker.spec.mounts?.append(Mount(destination: "/shared", type: "bind", source: shared, options: ["rbind"]))
      try await attacker.runDetached([
        "sh", "-c",
        """
        while [ ! -e /shared/target ]; do sleep 0.02; done
        t=$(cat /shared/target)
        # (A failed redirection on `exec` ends a non-interactive shell: try in a subshell first.)
        if (exec 3< /proc/$t/exe) 2>/dev/null; then exec 3< /proc/$t/exe; echo opened > /shared/opened; readlink /proc/self/fd/3 > /shared/opened-file; else echo open-failed > /shared/opened; fi
        while [ ! -e /shared/go ]; do sleep 0.02; done
        if (echo pwned >> /proc/self/fd/3) 2> /shared/write-error; then echo WROTE > /shared/result; else echo DENIED > /shared/result; fi
        sleep 100
        """,
      ])
      let attackerPid = try await attacker.pid()

      // The victim: its entrypoint is a script whose interpreter is /proc/self/exe, so the
      // runtime's init executes the runtime binary itself inside the container.
      let victim = try sb.container("victim")
      try "#!/proc/self/exe\n".write(toFile: victim.hostPath("/evil"), atomically: false, encoding: .utf8)
      chmod(victim.hostPath("/evil"), 0o755)
      victim.setNamespace(.pid, path: "/proc/\(attackerPid)/ns/pid")
      try requireSuccess(try await victim.create(["/evil"]), "create victim")
      let victimPid = try await victim.pid()

      let nsPid = parseStatus(readText("/proc/\(victimPid)/status") ?? "")["NSpid"]?
        .split(whereSeparator: \.isWhitespace).last.map(String.init)
      let target = try #require(nsPid, "NSpid of \(victimPid)")
      try (target + "\n").write(toFile: shared + "/target.tmp", atomically: false, encoding: .utf8)
      rename(shared + "/target.tmp", shared + "/target")
      #expect(await eventually { readText(shared + "/opened") != nil }, "the attacker never tried")

      expectSuccess(await victim.start(), "start victim")
      // Whatever the runtime binary does when run as "/proc/self/exe /evil", it must be gone before
      // the attacker's second step: a binary being executed cannot be opened for writing (ETXTBSY)
      // and the test would pass for the wrong reason.
      if !(try await victim.waitFor(.stopped, timeout: 3)) {
        _ = await victim.kill("KILL")
        #expect(try await victim.waitFor(.stopped, timeout: 5), "the victim would not stop")
      }
      #expect(FileManager.default.createFile(atPath: shared + "/go", contents: nil))
      #expect(await eventually(timeout: 10) { readText(shared + "/result") != nil }, "the attacker never finished")

      let result = readText(shared + "/result") ?? "?"
      #expect(
        result == "DENIED",
        "the container could write through /proc/<pid>/exe (step 1: \(readText(shared + "/opened") ?? "?"), step 2: \(result) \(readText(shared + "/write-error") ?? ""))")
      if !sb.runtime.isReference {
        // runc's read-only bind mount of itself keeps its name; berth's stub is a memfd.
        let openedFile = readText(shared + "/opened-file") ?? ""
        #expect(openedFile.hasPrefix("/memfd:"), "the container reached \(openedFile)")
      }
      #expect(await Self.sha256(binary) == before, "\(binary) was modified from inside a container")
    }
  }

  @Test("descriptors the runtime inherits do not reach the container", arguments: ["run", "exec"])
  func noInheritedDescriptors(via command: String) async throws {
    try await withSandbox { sb in
      let secret = try sb.writeFile("secret", "host secret\n")
      let fds = (0..<3).map { _ in open(secret, O_RDONLY | O_CLOEXEC) }
      defer { for fd in fds { close(fd) } }
      let c = try sb.container()
      let probe = ["sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; cat <&3 2>/dev/null && echo LEAKED; true"]
      let r: CommandResult
      if command == "run" {
        r = try await c.run(probe, extraFds: fds)
      } else {
        try await c.runDetached(["sleep", "100"])
        r = await sb.runtime(["exec", c.id] + probe, extraFds: fds)
      }
      expectSuccess(r)
      // 0-2 are stdio, 3 is the directory ls is reading.
      #expect(r.lines.first == "0 1 2 3", "only stdio may be open in the container: \(r)")
      #expect(!r.stdout.contains("LEAKED"), "\(r)")
    }
  }

  @Test("--preserve-fds N passes fds 3..3+N-1", arguments: ["run", "exec"])
  func preserveFds(via command: String) async throws {
    try await withSandbox { sb in
      let first = try sb.writeFile("fd3", "fd3-content\n")
      let second = try sb.writeFile("fd4", "fd4-content\n")
      let third = try sb.writeFile("fd5", "fd5-content\n")
      let fds = [first, second, third].map { (path: String) -> Int32 in open(path, O_RDONLY | O_CLOEXEC) }
      defer { for fd in fds { close(fd) } }
      let c = try sb.container()
      let probe = ["sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; echo; cat <&3; cat <&4; cat <&5 2>/dev/null || echo no-fd5"]
      let r: CommandResult
      if command == "run" {
        r = try await c.run(probe, options: ["--preserve-fds", "2"], extraFds: fds)
      } else {
        try await c.runDetached(["sleep", "100"])
        r = await sb.runtime(["exec", "--preserve-fds", "2", c.id] + probe, extraFds: fds)
      }
      expectSuccess(r)
      #expect(r.lines == ["0 1 2 3 4 5", "fd3-content", "fd4-content", "no-fd5"], "\(r)")
    }
  }

  @Test("a cwd that is a symlink is resolved inside the new root")
  func cwdSymlink() async throws {
    try await withSandbox { sb in
      let hostDir = try sb.makeDirectory("host-dir")
      try sb.writeFile("host-dir/host-secret", "secret\n")

      let dotdot = try sb.container("dotdot")
      try "".write(toFile: dotdot.hostPath("/inside-marker"), atomically: false, encoding: .utf8)
      symlink("/..", dotdot.hostPath("/escape"))
      symlink("../../../../../../../../..", dotdot.hostPath("/tmp/relative-escape"))
      dotdot.process.cwd = "/escape"
      let r = try await dotdot.run(["sh", "-c", "pwd -P; ls; cd /tmp/relative-escape && pwd -P"])
      expectSuccess(r)
      #expect(r.lines.first == "/", "\(r)")
      #expect(r.lines.contains("inside-marker"), "cwd must be the container's root, not the host's: \(r)")
      #expect(r.lines.last == "/", "\(r)")

      let absolute = try sb.container("absolute")
      symlink(hostDir, absolute.hostPath("/hostlink"))
      absolute.process.cwd = "/hostlink"
      let outside = try await absolute.run(["sh", "-c", "pwd -P; ls -A"])
      #expect(!outside.stdout.contains("host-secret"), "cwd escaped to the host: \(outside)")
      if outside.succeeded {
        #expect(outside.lines.first == hostDir, "the link resolves to \(hostDir) inside the rootfs: \(outside)")
      }
    }
  }

  @Test("the container cannot see the runtime's state directory")
  func stateDirectoryHidden() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try await c.runDetached(["sleep", "100"])
      let r = await c.exec(["sh", "-c", "ls \(sb.stateRoot) 2>&1 || echo hidden"])
      #expect(r.lines.last == "hidden", "\(r)")
    }
  }
}
