import BerthEngine
import BerthOS
import Foundation
import Testing

/// `berth logs` end to end: containers started with `berth run -d`, their json-file log
/// written by berth-monitor, read back by the command.
@Suite("berth logs", .engineSandbox)
struct LogsCommandTests {
  @Test("stdout entries go to stdout, stderr entries to stderr, in order")
  func streams() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached("busybox", "sh", "-c", "echo out1; echo err1 >&2; echo out2")
      try await sandbox.ok("wait", id)
      let r = try await sandbox.run("logs", id)
      #expect(r.code == 0, "\(r)")
      #expect(r.stdout == "out1\nout2\n")
      #expect(r.stderr == "err1\n")
    }
  }

  @Test("--tail N and -n N: the last N lines; 0 none; all (the default) every line")
  func tail() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached("busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done")
      try await sandbox.ok("wait", id)
      #expect(try await sandbox.ok("logs", "--tail", "2", id).stdout == "line4\nline5\n")
      #expect(try await sandbox.ok("logs", "-n", "1", id).stdout == "line5\n")
      #expect(try await sandbox.ok("logs", "--tail", "0", id).stdout == "")
      let all = "line1\nline2\nline3\nline4\nline5\n"
      #expect(try await sandbox.ok("logs", "--tail", "all", id).stdout == all)
      #expect(try await sandbox.ok("logs", "--tail", "99", id).stdout == all)
      #expect(try await sandbox.ok("logs", id).stdout == all)
    }
  }

  @Test("-t starts each line with Docker's fixed-width UTC time")
  func timestamps() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached("busybox", "sh", "-c", "echo a; echo b")
      try await sandbox.ok("wait", id)
      let lines = try await sandbox.ok("logs", "-t", id).lines
      try #require(lines.count == 2, "\(lines)")
      let pattern = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (a|b)/
      for line in lines {
        #expect(line.wholeMatch(of: pattern) != nil, "\(line)")
      }
      // The times are those of now, give or take a minute.
      let time = try DockerTime.parse(String(lines[0].prefix { $0 != " " }))
      #expect(abs(time.seconds - DockerTime.now().seconds) < 60, "\(lines[0])")
    }
  }

  @Test("--since and --until select by time")
  func timeFilters() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached("busybox", "sh", "-c", "echo a; echo b")
      try await sandbox.ok("wait", id)
      #expect(try await sandbox.ok("logs", "--since", "2000-01-01T00:00:00Z", id).stdout == "a\nb\n")
      #expect(try await sandbox.ok("logs", "--until", "2000-01-01", id).stdout == "")
      #expect(try await sandbox.ok("logs", "--since", "10m", id).stdout == "a\nb\n")
      #expect(try await sandbox.ok("logs", "--since=-10m", id).stdout == "", "a duration in the future")
      let bad = try await sandbox.run("logs", "--since", "yesterday", id)
      #expect(bad.code == 1)
      #expect(
        bad.stderr.contains(#"invalid value for "since": failed to parse value as time or duration: "yesterday""#), "\(bad)")
    }
  }

  @Test("-f prints what comes while the container runs, and ends when it stops")
  func follow() async throws {
    try await EngineSandbox.with { sandbox in
      // The container waits for a file the test creates: following is seen to wait for output.
      let sync = sandbox.scratch + "/sync"
      try FS.makeDirectories(sync)
      let script = "echo one; echo two; while [ ! -e /sync/go ]; do sleep 0.05; done; echo three"
      let id = try await sandbox.runDetached("-v", sync + ":/sync", "busybox", "sh", "-c", script)

      let all = try sandbox.spawnBerth(["logs", "-f", id])
      let tail = try sandbox.spawnBerth(["logs", "-f", "--tail", "1", id])
      try #require(await all.waitForOutput("two"), "\(all.errorOutput)")
      try #require(await tail.waitForOutput("two"), "\(tail.errorOutput)")
      // Still following: the container runs on.
      try await Task.sleep(for: .milliseconds(300))
      #expect(all.reap() == nil, "logs -f ended while the container runs: \(all.errorOutput)")
      #expect(tail.reap() == nil, "logs -f ended while the container runs: \(tail.errorOutput)")

      try FS.write(sync + "/go", "")
      #expect(await all.wait(seconds: 15) == .exited(0), "\(all.errorOutput)")
      #expect(await tail.wait(seconds: 15) == .exited(0), "\(tail.errorOutput)")
      #expect(all.output == "one\ntwo\nthree\n")
      #expect(tail.output == "two\nthree\n")
    }
  }

  @Test("-f on a stopped container prints the log and returns")
  func followStopped() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached("busybox", "echo", "done")
      try await sandbox.ok("wait", id)
      let r = try await sandbox.run(["logs", "-f", id], timeout: 15)
      #expect(r.code == 0, "\(r)")
      #expect(r.stdout == "done\n")
    }
  }

  @Test("Docker's errors: no such container, a log driver that cannot be read, no argument")
  func errors() async throws {
    try await EngineSandbox.with { sandbox in
      let missing = try await sandbox.run("logs", "nosuchcontainer")
      #expect(missing.code == 1)
      #expect(missing.stderr == "Error: No such container: nosuchcontainer\n")

      let id = try await sandbox.runDetached("--log-driver", "none", "busybox", "echo", "hi")
      try await sandbox.ok("wait", id)
      let none = try await sandbox.run("logs", id)
      #expect(none.code == 1)
      #expect(none.stdout.isEmpty)
      #expect(none.stderr == "Error response from daemon: configured logging driver does not support reading\n")

      let usage = try await sandbox.run("logs")
      #expect(usage.code == 125)
      #expect(usage.stderr.contains(#""logs" requires exactly 1 argument"#), "\(usage)")
    }
  }
}
