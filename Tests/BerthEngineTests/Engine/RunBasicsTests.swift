import BerthOS
import BerthTestSupport
import Foundation
import Testing

/// `berth run`: what reaches the terminal, exit codes, the container's process settings.
@Suite("berth run: streams, exit codes, process settings", .engineSandbox)
struct RunBasicsTests {
  @Test("stdout and stderr stay apart and the container's exit code is run's")
  func streamsAndExitCode() async throws {
    try await EngineSandbox.with { sandbox in
      let failing = try await sandbox.run("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
      #expect(failing.code == 3, "\(failing)")
      #expect(failing.stdout == "out\n")
      #expect(failing.stderr == "err\n")

      let quiet = try await sandbox.run("run", "--rm", "busybox", "true")
      #expect(quiet.code == 0 && quiet.stdout.isEmpty && quiet.stderr.isEmpty, "\(quiet)")
      // "--" ends the flags, as in Docker.
      #expect(try await sandbox.ok("run", "--rm", "--", "busybox", "echo", "after --").stdout == "after --\n")

      // Much output, written faster than the CLI reads it: every line arrives, in order.
      let many = try await sandbox.ok("run", "--rm", "busybox", "seq", "1", "30000")
      #expect(many.lines.count == 30000)
      #expect(many.lines.first == "1" && many.lines.last == "30000")
      #expect(many.lines == (1...30000).map(String.init))
    }
  }

  @Test(
    "a command that cannot run exits 126 (cannot invoke) or 127 (not found), with the runtime's reason",
    arguments: [
      (["/bin"], Int32(126), "is a directory"),
      (["/data/seed"], Int32(126), "permission denied"),
      (["no-such-command"], Int32(127), "executable file not found"),
      (["/no/such/program"], Int32(127), "no such file or directory"),
    ])
  func commandCannotRun(command: [String], code: Int32, reason: String) async throws {
    try await EngineSandbox.with { sandbox in
      let outcome = try await sandbox.run(["run", "--rm", "busybox"] + command)
      #expect(outcome.code == code, "\(outcome)")
      #expect(outcome.stderr.lowercased().contains(reason), "\(outcome)")
      #expect(outcome.stdout.isEmpty)
    }
  }

  @Test("-d prints the 64-hex ID; the hostname defaults to the short ID; --hostname sets it")
  func detachAndHostname() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached("busybox", "sleep", "100")
      #expect(id.count == 64 && id.allSatisfy(\.isHexDigit) && id == id.lowercased(), "run -d printed \(id)")
      #expect(sandbox.containerDirectories == [id])
      #expect(try await sandbox.listedIDs() == [id])
      let names = try await sandbox.ok("exec", id, "sh", "-c", "hostname; cat /etc/hostname; echo $HOSTNAME")
      #expect(names.lines == Array(repeating: String(id.prefix(12)), count: 3))

      let named = try await sandbox.ok("run", "--rm", "--hostname", "harbor", "busybox", "sh", "-c", "hostname; echo $HOSTNAME")
      #expect(named.lines == ["harbor", "harbor"])
    }
  }

  @Test("run -d and start return once the container runs: exec, inspect and kill work at once")
  func detachReturnsWhenRunning() async throws {
    try await EngineSandbox.with { sandbox in
      for _ in 0..<5 {
        let id = try await sandbox.runDetached("busybox", "sleep", "100")
        #expect(sandbox.stateText(id, "state")?.hasPrefix("running ") == true, "no state file when run -d returned")
        let exec = try await sandbox.run("exec", id, "true")
        #expect(exec.code == 0, "\(exec)")
        try await sandbox.ok("kill", id)
        try await sandbox.ok("start", id)
        #expect(try await sandbox.ok("inspect", "-f", "{{.State.Status}}", id).trimmed == "running")
        try await sandbox.ok("rm", "-f", id)
      }
    }
  }

  @Test("--rm removes the container, its upper layer and its anonymous volumes; rm does too")
  func removal() async throws {
    try await EngineSandbox.with { sandbox in
      let before = sandbox.seenIDs
      try await sandbox.ok("run", "--rm", "-v", "/scratch-volume", "busybox", "sh", "-c", "echo x > /written; echo y > /scratch-volume/f")
      let made = sandbox.seenIDs.subtracting(before)
      #expect(made.count == 1)
      for id in made { #expect(!FS.exists(sandbox.containerDirectory(id)), "the container's directory (upper layer) is still there") }
      #expect(sandbox.volumeNames.isEmpty, "anonymous volumes left: \(sandbox.volumeNames)")
      #expect(HostScan.mountPoints(under: sandbox.directory).isEmpty)

      // Detached: the monitor removes it when it exits.
      let detached = try await sandbox.runDetached("--rm", "busybox", "true")
      let gone = await sandbox.eventually { !FS.exists(sandbox.containerDirectory(detached)) }
      #expect(gone, "run -d --rm: the container is still there after it exited")

      // rm -f of a running container: unmounted, upper layer deleted.
      let running = try await sandbox.runDetached("busybox", "sh", "-c", "echo x > /written; exec sleep 100")
      let upper = sandbox.containerDirectory(running) + "/upper/written"
      #expect(await sandbox.eventually { FS.exists(upper) }, "the container's write is not in its upper layer")
      try await sandbox.ok("rm", "-f", running)
      #expect(!FS.exists(sandbox.containerDirectory(running)))
      #expect(HostScan.mountPoints(under: sandbox.directory).isEmpty)
    }
  }

  @Test("-e, --env-file and the image's environment, in Docker's order")
  func environment() async throws {
    try await EngineSandbox.with { sandbox in
      let file = sandbox.scratch + "/env"
      try FS.write(file, "# a comment\n\nFROM_FILE=file value\nOVERRIDDEN=from the file\nPASSED_THROUGH\n")
      let outcome = try await sandbox.ok(
        ["run", "--rm", "--env-file", file, "-e", "OVERRIDDEN=from the flag", "-e", "PLAIN=1", "busybox", "env"],
        environment: ["PASSED_THROUGH=from the CLI's environment"])
      let env = Set(outcome.lines)
      #expect(env.contains("FROM_FILE=file value"))
      #expect(env.contains("OVERRIDDEN=from the flag"))
      #expect(!env.contains("OVERRIDDEN=from the file"))
      #expect(env.contains("PLAIN=1"))
      #expect(env.contains("PASSED_THROUGH=from the CLI's environment"))
      #expect(env.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"))
      #expect(env.contains("HOME=/root"))
      #expect(!outcome.stdout.contains("a comment"))
    }
  }

  @Test("-w makes and enters the directory; -u takes IDs or a name from the image's /etc/passwd")
  func workdirAndUser() async throws {
    try await EngineSandbox.with { sandbox in
      let workdir = try await sandbox.ok("run", "--rm", "-w", "/srv/new/dir", "busybox", "pwd")
      #expect(workdir.stdout == "/srv/new/dir\n")

      let numeric = try await sandbox.ok("run", "--rm", "-u", "1000:1000", "busybox", "sh", "-c", "id -u; id -g; touch /tmp/mine && echo wrote")
      #expect(numeric.lines == ["1000", "1000", "wrote"])

      let named = try await sandbox.ok("run", "--rm", "-u", "alice", "-w", "/tmp", "busybox", "sh", "-c", "id -un; id -g; echo $HOME; pwd")
      #expect(named.lines == ["alice", "1000", "/home/alice", "/tmp"])

      let unknown = try await sandbox.run("run", "--rm", "-u", "nosuchuser", "busybox", "true")
      #expect(unknown.code == 125, "\(unknown)")
      #expect(unknown.stderr.contains("unable to find user nosuchuser"), "\(unknown)")
    }
  }

  @Test("--entrypoint replaces the image's; the command becomes its arguments")
  func entrypoint() async throws {
    try await EngineSandbox.with { sandbox in
      let outcome = try await sandbox.ok("run", "--rm", "--entrypoint", "/bin/echo", "busybox", "a", "b c")
      #expect(outcome.stdout == "a b c\n")
      try await sandbox.importImage("echoer", changes: ["ENTRYPOINT [\"/bin/echo\", \"from the image\"]"])
      let imageEntrypoint = try await sandbox.ok("run", "--rm", "echoer", "and the command")
      #expect(imageEntrypoint.stdout == "from the image and the command\n")
      let replaced = try await sandbox.ok("run", "--rm", "--entrypoint", "/bin/printf", "echoer", "%s-%s", "x", "y")
      #expect(replaced.stdout == "x-y")
    }
  }

  @Test("-l labels are the container's (inspect)")
  func labels() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.ok("create", "-l", "tier=web", "-l", "empty", "--label", "team=ops", "busybox", "true").trimmed
      let inspected = try await sandbox.ok("inspect", id)
      let objects = try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [[String: Any]]
      let labels = (objects?.first?["Config"] as? [String: Any])?["Labels"] as? [String: String]
      #expect(labels == ["tier": "web", "empty": "", "team": "ops"], "\(inspected.stdout.prefix(2000))")
    }
  }

  @Test("--cidfile gets the ID; an existing cidfile is refused before anything is made")
  func cidfile() async throws {
    try await EngineSandbox.with { sandbox in
      let path = sandbox.scratch + "/cid"
      let id = try await sandbox.runDetached("--cidfile", path, "busybox", "true")
      #expect(try FS.readText(path) == id)
      let again = try await sandbox.run("run", "-d", "--cidfile", path, "busybox", "true")
      #expect(again.code == 125, "\(again)")
      #expect(again.stderr.contains("container ID file found"), "\(again)")
      #expect(sandbox.containerDirectories == [id])
    }
  }

  @Test("-i passes stdin through, byte for byte; without -i the container's stdin is empty")
  func standardInput() async throws {
    try await EngineSandbox.with { sandbox in
      let echoed = try await sandbox.ok(["run", "--rm", "-i", "busybox", "cat"], input: Array("hi\n".utf8))
      #expect(echoed.stdout == "hi\n")

      var generator = SystemRandomNumberGenerator()
      let bytes = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
      let hashed = try await sandbox.ok(["run", "--rm", "-i", "busybox", "sh", "-c", "sha256sum | cut -d' ' -f1"], input: bytes)
      #expect(hashed.trimmed == RegistrySupport.sha256Hex(bytes))

      let closed = try await sandbox.ok(["run", "--rm", "busybox", "wc", "-c"], input: Array("ignored".utf8))
      #expect(closed.trimmed == "0")
    }
  }
}
