import BerthEngine
import BerthOS
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `berth logs` end to end: containers started with `berth run -d`, their json-file log
/// written by berth-monitor, read back by the command.
@Suite("berth logs", .engineCLI)
struct LogsCommandTests {
  /// Waits for the container to exit (its output is all in the log by then).
  func finished(_ sandbox: EngineCLISandbox, _ id: String) async throws {
    try await sandbox.ok(["wait", id])
  }

  @Test("stdout entries go to stdout, stderr entries to stderr, in order")
  func streams() async throws {
    let sandbox = try await EngineCLISandbox.make()
    let id = try await sandbox.runDetached(["busybox", "sh", "-c", "echo out1; echo err1 >&2; echo out2"])
    try await finished(sandbox, id)
    let r = try await sandbox.run(["logs", id])
    #expect(r.status == .exited(0), "\(r.stderr)")
    #expect(r.stdout == "out1\nout2\n")
    #expect(r.stderr == "err1\n")
  }

  @Test("--tail N and -n N: the last N lines; 0 none; all (the default) every line")
  func tail() async throws {
    let sandbox = try await EngineCLISandbox.make()
    let id = try await sandbox.runDetached(["busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done"])
    try await finished(sandbox, id)
    #expect(try await sandbox.ok(["logs", "--tail", "2", id]) == "line4\nline5\n")
    #expect(try await sandbox.ok(["logs", "-n", "1", id]) == "line5\n")
    #expect(try await sandbox.ok(["logs", "--tail", "0", id]) == "")
    let all = "line1\nline2\nline3\nline4\nline5\n"
    #expect(try await sandbox.ok(["logs", "--tail", "all", id]) == all)
    #expect(try await sandbox.ok(["logs", "--tail", "99", id]) == all)
    #expect(try await sandbox.ok(["logs", id]) == all)
  }

  @Test("-t starts each line with Docker's fixed-width UTC time")
  func timestamps() async throws {
    let sandbox = try await EngineCLISandbox.make()
    let id = try await sandbox.runDetached(["busybox", "sh", "-c", "echo a; echo b"])
    try await finished(sandbox, id)
    let lines = try await sandbox.ok(["logs", "-t", id]).split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines.count == 3, "\(lines)")
    let pattern = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (a|b)/
    for line in lines.dropLast() {
      #expect(line.wholeMatch(of: pattern) != nil, "\(line)")
    }
    // The times are those of now, give or take a minute.
    let first = try #require(lines.first.map { String($0.prefix(while: { $0 != " " })) })
    let time = try DockerTime.parse(first)
    #expect(abs(time.seconds - DockerTime.now().seconds) < 60, "\(first)")
  }

  @Test("--since and --until select by time")
  func timeFilters() async throws {
    let sandbox = try await EngineCLISandbox.make()
    let id = try await sandbox.runDetached(["busybox", "sh", "-c", "echo a; echo b"])
    try await finished(sandbox, id)
    #expect(try await sandbox.ok(["logs", "--since", "2000-01-01T00:00:00Z", id]) == "a\nb\n")
    #expect(try await sandbox.ok(["logs", "--until", "2000-01-01", id]) == "")
    #expect(try await sandbox.ok(["logs", "--since", "10m", id]) == "a\nb\n")
    #expect(try await sandbox.ok(["logs", "--since=-10m", id]) == "", "a duration in the future")
    let bad = try await sandbox.run(["logs", "--since", "yesterday", id])
    #expect(bad.status == .exited(1))
    #expect(bad.stderr.contains(#"invalid value for "since": failed to parse value as time or duration: "yesterday""#), "\(bad.stderr)")
  }

  @Test("-f prints what comes while the container runs, and ends when it stops")
  func follow() async throws {
    let sandbox = try await EngineCLISandbox.make()
    // The container waits for a file the test creates: following is seen to wait for output.
    let sync = sandbox.directory + "/sync"
    try FileManager.default.createDirectory(atPath: sync, withIntermediateDirectories: true)
    let script = "echo one; echo two; while [ ! -e /sync/go ]; do sleep 0.05; done; echo three"
    let id = try await sandbox.runDetached(["-v", sync + ":/sync", "busybox", "sh", "-c", script])

    let all = try InitRun(sandbox.command(["logs", "-f", id]))
    defer { all.cleanUp() }
    let tail = try InitRun(sandbox.command(["logs", "-f", "--tail", "1", id]))
    defer { tail.cleanUp() }
    try #require(await all.waitForOutput("two", seconds: 10), "\(all.stderr)")
    try #require(await tail.waitForOutput("two", seconds: 10), "\(tail.stderr)")
    // Still following: the container runs on.
    try await Task.sleep(for: .milliseconds(300))
    #expect(all.isRunning, "logs -f ended while the container runs: \(all.stderr)")
    #expect(tail.isRunning, "logs -f ended while the container runs: \(tail.stderr)")

    try FS.write(sync + "/go", "")
    #expect(await all.finish(seconds: 10) == .exited(0), "\(all.stderr)")
    #expect(await tail.finish(seconds: 10) == .exited(0), "\(tail.stderr)")
    #expect(all.stdout == "one\ntwo\nthree\n")
    #expect(tail.stdout == "two\nthree\n")
  }

  @Test("-f on a stopped container prints the log and returns")
  func followStopped() async throws {
    let sandbox = try await EngineCLISandbox.make()
    let id = try await sandbox.runDetached(["busybox", "echo", "done"])
    try await finished(sandbox, id)
    let r = try await sandbox.run(["logs", "-f", id], seconds: 5)
    #expect(r.status == .exited(0), "\(r.stderr)")
    #expect(r.stdout == "done\n")
  }

  @Test("Docker's errors: no such container, a log driver that cannot be read, no argument")
  func errors() async throws {
    let sandbox = try await EngineCLISandbox.make()
    let missing = try await sandbox.run(["logs", "nosuchcontainer"])
    #expect(missing.status == .exited(1))
    #expect(missing.stderr == "Error: No such container: nosuchcontainer\n")

    let id = try await sandbox.runDetached(["--log-driver", "none", "busybox", "echo", "hi"])
    try await finished(sandbox, id)
    let none = try await sandbox.run(["logs", id])
    #expect(none.status == .exited(1))
    #expect(none.stdout.isEmpty)
    #expect(none.stderr == "Error response from daemon: configured logging driver does not support reading\n")

    let usage = try await sandbox.run(["logs"])
    #expect(usage.status == .exited(125))
    #expect(usage.stderr.contains(#""logs" requires exactly 1 argument"#), "\(usage.stderr)")
  }
}
