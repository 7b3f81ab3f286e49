import BerthOS
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// berth-monitor with real containers (berth-runtime, busybox bundles): the protocol of
/// docs/monitor.md as the engine uses it.
@Suite("berth-monitor", .canRunContainers)
struct MonitorTests {
  // MARK: - Output, log, exit

  @Test("sync messages; json-file log with Docker's escaping and streams; STATE/exit and state; runtime delete")
  func logAndExit() async throws {
    try await withMonitorSandbox { sb in
      let script = #"echo out1; echo err1 >&2; printf 'q"b\\s<t>&\t\001\n'; printf '\377\376ok\n'; "#
        + #"printf 'caf\303\251 \342\200\250\n'; echo err2 >&2; printf partial; exit 3"#
      let c = try sb.container(args: ["sh", "-c", script])
      let (monitor, pid) = try await sb.launch(c)
      #expect(pid > 1)
      #expect(await monitor.syncClosed(), "fd 3 is closed after `started`")
      #expect(await monitor.waitExit() == 0)

      let entries = try c.logEntries()
      let stdout = entries.filter { $0["stream"] == "stdout" }.map { $0["log"] ?? "" }
      let stderr = entries.filter { $0["stream"] == "stderr" }.map { $0["log"] ?? "" }
      #expect(stdout == ["out1\n", "q\"b\\s<t>&\t\u{1}\n", "\u{FFFD}\u{FFFD}ok\n", "café \u{2028}\n", "partial"])
      #expect(stderr == ["err1\n", "err2\n"])
      for entry in entries {
        #expect(entry.keys.sorted() == ["log", "stream", "time"])
        #expect(isRFC3339Nano(entry["time"] ?? ""), "time: \(entry["time"] ?? "")")
      }
      let raw = readText(c.logPath) ?? ""
      #expect(raw.contains(#"{"log":"q\"b\\s\u003ct\u003e\u0026\u0009\u0001\n","stream":"stdout","time":""#), "\(raw)")
      #expect(raw.contains(#"{"log":"\ufffd\ufffdok\n""#), "invalid UTF-8 becomes \\ufffd: \(raw)")
      #expect(raw.contains(#"{"log":"café \u2028\n""#), "valid UTF-8 stays, U+2028 is escaped: \(raw)")

      let exit = c.exitFields
      #expect(exit.count == 3 && exit[0] == "3" && exit[2] == "0", "STATE/exit: \(exit)")
      #expect(exit.count > 1 && isRFC3339Nano(exit[1]))
      let state = c.stateFields
      #expect(state.count == 4 && state[0] == "running" && state[1] == "\(pid)" && state[3] == "0", "\(state)")
      #expect(state.count > 2 && isRFC3339Nano(state[2]))
      if let started = parseTime(state.count > 2 ? state[2] : ""), let finished = parseTime(exit.count > 1 ? exit[1] : "") {
        #expect(finished >= started)
      } else {
        Issue.record("unparsable times: \(state) \(exit)")
      }
      // The monitor ran `delete`: the runtime knows nothing of the container any more.
      #expect(try sb.runtime(["state", c.id]).status != .exited(0))
      #expect((try? FileManager.default.contentsOfDirectory(atPath: sb.runtimeRoot)) ?? [] == [])
      #expect(!FileManager.default.fileExists(atPath: c.socket), "the attach socket is removed at the end")
    }
  }

  @Test("a line without newline is flushed at 16 KiB; a client that does not read is dropped, not waited for")
  func longLinesAndSlowClient() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' a; echo; echo end"])
      c.options.start = "wait"
      let (monitor, _) = try await sb.launch(c)
      let sleeper = try AttachClient(path: c.socket)
      try sleeper.send("attach stdin=0 stdout=1 stderr=1\n")
      let starter = try AttachClient(path: c.socket)
      try starter.send("start\n")
      #expect(await starter.replyLine() == "ok")
      // Nobody reads `sleeper`: the container must finish all the same.
      #expect(await monitor.waitExit(timeout: 60) == 0)
      #expect(c.exitFields.first == "0")
      let entries = try c.logEntries()
      let texts = entries.map { $0["log"] ?? "" }
      #expect(texts.last == "end\n")
      #expect(texts.dropLast().map(\.count).reduce(0, +) == 3_000_001)
      #expect(texts.count == 3_000_000 / 16384 + 2)
      #expect(texts.dropLast(2).allSatisfy { $0.count == 16384 && !$0.hasSuffix("\n") }, "partial lines are cut at 16 KiB")
      #expect(texts.dropLast().last == String(repeating: "a", count: 3_000_000 % 16384) + "\n")
      await sleeper.readUntilClosed()
      #expect(sleeper.exitCode == nil, "the slow client was disconnected before the exit frame")
    }
  }

  @Test("entries hold at most 16 KiB, the newline included, however the output was read (Docker's copy buffer)")
  func sixteenKiBBoundary() async throws {
    try await withMonitorSandbox { sb in
      // Each line in one write: the monitor reads more than 16 KiB at once.
      let lines = [("b", 16383), ("c", 16384), ("d", 20000), ("e", 32768)]
      let script = lines.map { "x=$(head -c \($1) /dev/zero | tr '\\0' \($0)); echo \"$x\"" }.joined(separator: "; ")
      let c = try sb.container(args: ["sh", "-c", script])
      let (monitor, _) = try await sb.launch(c)
      #expect(await monitor.waitExit() == 0)
      let texts = try c.logEntries().map { $0["log"] ?? "" }
      func run(_ letter: String, _ count: Int) -> String { String(repeating: letter, count: count) }
      let expected = [
        run("b", 16383) + "\n",
        run("c", 16384), "\n",
        run("d", 16384), run("d", 20000 - 16384) + "\n",
        run("e", 16384), run("e", 16384), "\n",
      ]
      #expect(texts.map(\.count) == expected.map(\.count))
      #expect(texts == expected)
    }
  }

  @Test("log-driver none: no log file, attached clients still get the output")
  func noLog() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sh", "-c", "echo visible"])
      c.options.logDriver = "none"
      c.options.start = "wait"
      let (monitor, _) = try await sb.launch(c)
      let client = try AttachClient(path: c.socket)
      try client.send("attach stdin=0 stdout=1 stderr=1\n")
      let starter = try AttachClient(path: c.socket)
      try starter.send("start\n")
      #expect(await starter.replyLine() == "ok")
      #expect(await client.readUntilClosed())
      #expect(client.text(1) == "visible\n")
      #expect(await monitor.waitExit() == 0)
      #expect(!FileManager.default.fileExists(atPath: c.logPath))
    }
  }

  // MARK: - Attach

  @Test("attach: stdout and stderr frames per client's choice, then the exit frame; start on the socket")
  func attachFrames() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sh", "-c", "echo o1; echo e1 >&2; echo o2; exit 7"])
      c.options.start = "wait"
      let (monitor, pid) = try await sb.launch(c)
      #expect(c.stateFields.isEmpty, "no STATE/state before start")
      let both = try AttachClient(path: c.socket)
      try both.send("attach stdin=0 stdout=1 stderr=1\n")
      let outOnly = try AttachClient(path: c.socket)
      try outOnly.send("attach stdin=0 stdout=1 stderr=0\n")
      let starter = try AttachClient(path: c.socket)
      try starter.send("start\n")
      #expect(await starter.replyLine() == "ok")
      #expect(await monitor.syncLine() == "started \(pid)")
      #expect(await both.readUntilClosed())
      #expect(await outOnly.readUntilClosed())
      #expect(both.text(1) == "o1\no2\n")
      #expect(both.text(2) == "e1\n")
      #expect(both.exitCode == 7)
      #expect(both.frames.last?.stream == 3, "the exit frame comes last")
      #expect(outOnly.text(1) == "o1\no2\n")
      #expect(outOnly.text(2) == "")
      #expect(outOnly.exitCode == 7)
      #expect(await monitor.waitExit() == 0)
      #expect(c.exitFields.first == "7")
    }
  }

  @Test("stdin through attach reaches the container; an empty stdin frame closes it")
  func attachStdin() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sh", "-c", "cat; echo done-$?"])
      c.options.stdin = true
      let (monitor, _) = try await sb.launch(c)
      let client = try AttachClient(path: c.socket)
      try client.send("attach stdin=1 stdout=1 stderr=1\n")
      try client.sendFrame(0, "hello\n")
      #expect(await eventually { client.pump(); return client.text(1) == "hello\n" }, "cat echoes: \(client.text(1))")
      try client.sendFrame(0, "world\n")
      try client.sendFrame(0, [])
      #expect(await client.readUntilClosed())
      #expect(client.text(1) == "hello\nworld\ndone-0\n")
      #expect(client.exitCode == 0)
      #expect(await monitor.waitExit() == 0)
    }
  }

  @Test("terminal: the pty carries output as stream 1; resize (request and frame) changes `stty size`")
  func terminal() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container()
      try c.setProcess(["sh", "-c", "stty size; read line; echo got:$line; stty size; exit 4"], terminal: true)
      c.options.terminal = true
      c.options.stdin = true
      c.options.start = "wait"
      let (monitor, _) = try await sb.launch(c)
      let resizer = try AttachClient(path: c.socket)
      try resizer.send("resize 30 100\n")
      #expect(await resizer.replyLine() == "ok")
      let client = try AttachClient(path: c.socket)
      try client.send("attach stdin=1 stdout=1 stderr=1\n")
      let starter = try AttachClient(path: c.socket)
      try starter.send("start\n")
      #expect(await starter.replyLine() == "ok")
      #expect(await eventually { client.pump(); return client.text(1).contains("30 100") }, "\(client.text(1))")
      try client.sendFrame(4, "40 120")
      try client.sendFrame(0, "hi\n")
      #expect(await client.readUntilClosed())
      let output = client.text(1)
      #expect(output.contains("got:hi\r\n"), "a tty turns \\n into \\r\\n: \(output)")
      #expect(output.contains("40 120\r\n"), "\(output)")
      #expect(client.text(2) == "", "with a terminal everything is stream 1")
      #expect(client.exitCode == 4)
      #expect(await monitor.waitExit() == 0)
      let entries = try c.logEntries()
      #expect(entries.allSatisfy { $0["stream"] == "stdout" })
      #expect(entries.first?["log"] == "30 100\r\n")
    }
  }

  // MARK: - Failures

  @Test("a failing create: `error …` on fd 3, exit status 1, nothing left behind")
  func failingCreate() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container()
      try "{ not json".write(toFile: c.bundle + "/config.json", atomically: false, encoding: .utf8)
      let monitor = try sb.startMonitor(c)
      let line = await monitor.syncLine() ?? ""
      #expect(line.hasPrefix("error "), "\(line)")
      #expect(line.count > "error ".count + 5, "the runtime's message: \(line)")
      #expect(await monitor.waitExit() == 1)
      #expect(!FileManager.default.fileExists(atPath: c.socket))
      #expect((try? FileManager.default.contentsOfDirectory(atPath: sb.runtimeRoot)) ?? [] == [])
      #expect(!FileManager.default.fileExists(atPath: c.state("exit")))
      #expect(!FileManager.default.fileExists(atPath: c.state("state")))
      #expect(sb.cgroupDirectories(c).isEmpty)
    }
  }

  // MARK: - Restart policies

  @Test("on-failure with restart-max 2: three runs, then the monitor exits")
  func onFailureRestarts() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sh", "-c", "echo run; exit 1"])
      c.options.restart = "on-failure"
      c.options.restartMax = 2
      let (monitor, _) = try await sb.launch(c)
      #expect(await monitor.waitExit(timeout: 60) == 0)
      #expect(try c.logEntries().map { $0["log"] ?? "" } == ["run\n", "run\n", "run\n"])
      #expect(c.stateFields.last == "2", "restart count: \(c.stateFields)")
      #expect(c.exitFields.first == "1")
      #expect((try? FileManager.default.contentsOfDirectory(atPath: sb.runtimeRoot)) ?? [] == [])
    }
  }

  @Test("on-failure does not restart a container that exited 0")
  func onFailureSuccess() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sh", "-c", "echo run; exit 0"])
      c.options.restart = "on-failure"
      let (monitor, _) = try await sb.launch(c)
      #expect(await monitor.waitExit(timeout: 60) == 0)
      #expect(try c.logEntries().count == 1)
      #expect(c.stateFields.last == "0")
    }
  }

  @Test("always and unless-stopped restart a killed container until STATE/stopped exists; SIGTERM does not stop the monitor",
        arguments: ["always", "unless-stopped"])
  func restartUntilStopped(policy: String) async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sh", "-c", "echo run; exec sleep 1000"])
      c.options.restart = policy
      let (monitor, firstPid) = try await sb.launch(c)
      try sb.runtime(["kill", c.id, "KILL"])
      let restarted = await eventually(timeout: 30) {
        let state = c.stateFields
        return state.count == 4 && state[3] == "1" && state[1] != "\(firstPid)"
      }
      #expect(restarted, "\(c.stateFields)")
      #expect(FileManager.default.fileExists(atPath: c.state("exit")) == false, "a new run removes STATE/exit")
      monitor.kill(SIGTERM)
      _ = FileManager.default.createFile(atPath: c.state("stopped"), contents: Data())
      #expect(try sb.runtime(["kill", c.id, "KILL"]).status == .exited(0))
      #expect(await monitor.waitExit() == 0, "no restart once STATE/stopped exists")
      #expect(c.exitFields.first == "137")
      #expect(c.stateFields.last == "1")
      #expect(try c.logEntries().filter { $0["log"] == "run\n" }.count == 2)
    }
  }

  @Test("restart back-off doubles from 100 ms; STATE/stopped ends a back-off")
  func backoffGrows() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sh", "-c", "echo run; exit 1"])
      c.options.restart = "always"
      let (monitor, _) = try await sb.launch(c)
      #expect(await eventually(timeout: 60) { ((try? c.logEntries()) ?? []).count >= 5 })
      _ = FileManager.default.createFile(atPath: c.state("stopped"), contents: Data())
      #expect(await monitor.waitExit() == 0)
      let times = try c.logEntries().compactMap { parseTime($0["time"] ?? "") }
      try #require(times.count >= 5)
      let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
      for (index, gap) in gaps.prefix(4).enumerated() {
        // Each wait is at least 100 ms × 2^n (plus the runtime's delete, create and start). Only
        // lower bounds: on a loaded CI machine one restart's overhead alone can pass a second.
        #expect(gap >= 0.1 * pow(2, Double(index)) * 0.98, "gap \(index): \(gap) s, all: \(gaps)")
      }
      #expect(c.stateFields.first == "running", "a back-off cut short leaves the last run's line: \(c.stateFields)")
      #expect(c.stateFields.last == "\(times.count - 1)")
    }
  }

  @Test("the back-off goes back to 100 ms after a run of 10 s or more")
  func backoffReset() async throws {
    try await withMonitorSandbox { sb in
      // Runs 1-4 fail at once (waits of 0.1, 0.2, 0.4, 0.8 s); run 5 lasts 10.2 s, so the wait
      // before run 6 is 0.1 s again instead of 1.6 s.
      let script = #"n=$(cat /tmp/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/n; echo run-$n; "#
        + #"if [ $n -eq 5 ]; then sleep 10.2; echo long-done; fi; exit 1"#
      let c = try sb.container(args: ["sh", "-c", script])
      c.options.restart = "on-failure"
      c.options.restartMax = 5
      let (monitor, _) = try await sb.launch(c)
      #expect(await monitor.waitExit(timeout: 60) == 0)
      let entries = try c.logEntries()
      #expect(entries.map { $0["log"] ?? "" } == ["run-1\n", "run-2\n", "run-3\n", "run-4\n", "run-5\n", "long-done\n", "run-6\n"])
      let times = entries.compactMap { parseTime($0["time"] ?? "") }
      try #require(times.count == 7)
      #expect(times[4] - times[3] >= 0.8 * 0.98, "the wait before run 5: \(times[4] - times[3]) s")
      #expect(times[6] - times[5] < 1.0, "the wait before run 6: \(times[6] - times[5]) s")
      #expect(c.stateFields.last == "5")
    }
  }

  @Test("during the back-off STATE/state says restarting (the last run's pid, start and count), then running")
  func restartingState() async throws {
    try await withMonitorSandbox { sb in
      // Each run waits for /release in its rootfs, each re-create for a go-N file: the test
      // sees every state line, however busy the machine, and then lets the monitor go on.
      let c = try sb.container(args: ["sh", "-c", "echo run; while [ ! -e /release ]; do sleep 0.02; done; rm /release; exit 1"])
      c.options.runtime = try sb.runtimeWrapper("gated-runtime", script: """
        if [ "$COMMAND" = create ]; then
          echo x >> \(c.dir)/creates
          n=$(wc -l < \(c.dir)/creates)
          while [ "$n" -ge 2 ] && [ ! -e \(c.dir)/go-$n ] && [ -d \(c.dir) ]; do sleep 0.02; done
        fi
        """)
      c.options.restart = "on-failure"
      c.options.restartMax = 3
      let (monitor, firstPid) = try await sb.launch(c)
      var lines: [[String]] = []
      for run in 0...3 {
        let sawRunning = await eventually(timeout: 60) { c.stateFields.first == "running" && c.stateFields.last == "\(run)" }
        try #require(sawRunning, "run \(run): \(c.stateFields)")
        lines.append(c.stateFields)
        try FS.write(c.bundle + "/rootfs/release", "")
        if run == 3 { break }
        let sawRestarting = await eventually(timeout: 60) {
          c.stateFields.first == "restarting" && c.stateFields.last == "\(run)"
            && FileManager.default.fileExists(atPath: c.state("exit"))
        }
        try #require(sawRestarting, "after run \(run): \(c.stateFields)")
        lines.append(c.stateFields)
        try FS.write(c.dir + "/go-\(run + 2)", "")
      }
      #expect(await monitor.waitExit() == 0)
      #expect(lines.allSatisfy { $0.count == 4 && isRFC3339Nano($0[2]) }, "\(lines)")
      #expect(lines.map { "\($0[0]) \($0[3])" } == [
        "running 0", "restarting 0", "running 1", "restarting 1", "running 2", "restarting 2", "running 3",
      ], "\(lines)")
      // A restarting line is the last run's line with another word.
      for index in stride(from: 1, to: lines.count, by: 2) {
        #expect(Array(lines[index].dropFirst()) == Array(lines[index - 1].dropFirst()), "\(lines[index]) after \(lines[index - 1])")
      }
      #expect(lines[0][1] == "\(firstPid)")
      #expect(Set(stride(from: 0, to: lines.count, by: 2).map { lines[$0][1] }).count == 4, "each run has its own pid: \(lines)")
      #expect(c.stateFields.first == "running")
      #expect(c.stateFields.last == "3")
      #expect(c.exitFields.first == "1")
    }
  }

  @Test("a stop that comes while a restart creates and starts the container ends that run")
  func stopDuringRestart() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sh", "-c", "echo run; exec sleep 1000"])
      // The second `start` finds STATE/stopped written meanwhile, as a `berth stop` could.
      c.options.runtime = try sb.runtimeWrapper("stopping-runtime", script: """
        if [ "$COMMAND" = start ]; then
          echo x >> \(c.dir)/starts
          [ "$(wc -l < \(c.dir)/starts)" -eq 2 ] && : > \(c.state("stopped"))
        fi
        """)
      c.options.restart = "always"
      let (monitor, _) = try await sb.launch(c)
      try sb.runtime(["kill", c.id, "KILL"])
      #expect(await monitor.waitExit(timeout: 20) == 0, "the monitor ends the run it started after the stop")
      #expect(c.exitFields.first == "137")
      #expect(c.stateFields.first == "running")
      #expect(c.stateFields.last == "1")
    }
  }

  @Test("a restart that cannot create: STATE/error and exit 127, the policy goes on; a good run clears the error")
  func failedRestart() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sh", "-c", "echo run; exit 1"])
      c.options.runtime = try sb.runtimeWrapper("failing-runtime", script: """
        if [ "$COMMAND" = create ]; then
          echo x >> \(c.dir)/creates
          n=$(wc -l < \(c.dir)/creates)
          if [ "$n" -eq 2 ]; then echo "first line" >&2; echo "planned failure" >&2; exit 1; fi
          # The next attempt waits until the test has seen STATE/error and the exit 127.
          while [ "$n" -eq 3 ] && [ ! -e \(c.dir)/go ] && [ -d \(c.dir) ]; do sleep 0.02; done
        fi
        """)
      c.options.restart = "on-failure"
      c.options.restartMax = 2
      let (monitor, _) = try await sb.launch(c)
      var sawError = false
      var sawFailedExit = false
      _ = await eventually(timeout: 60) {
        if readText(c.state("error")) == "planned failure\n" { sawError = true }
        if c.exitFields.first == "127" { sawFailedExit = true }
        return sawError && sawFailedExit
      }
      try FS.write(c.dir + "/go", "")
      #expect(await monitor.waitExit() == 0)
      #expect(sawError && sawFailedExit, "error: \(sawError), exit 127: \(sawFailedExit)")
      #expect(try c.logEntries().map { $0["log"] ?? "" } == ["run\n", "run\n"], "runs 1 and 3; attempt 2 failed")
      #expect(!FileManager.default.fileExists(atPath: c.state("error")), "the third run cleared STATE/error")
      #expect(c.stateFields.last == "2")
      #expect(c.exitFields.first == "1")
    }
  }

  // MARK: - Health

  @Test("a passing healthcheck makes the container healthy")
  func healthy() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sleep", "1000"])
      c.options.health = ["sh", "-c", "echo fine"]
      c.options.healthRetries = 2
      let (monitor, _) = try await sb.launch(c)
      #expect(await eventually { c.health()?.Status == "healthy" }, "\(String(describing: c.health()))")
      let health = try #require(c.health())
      #expect(health.FailingStreak == 0)
      #expect(health.Log.last?.ExitCode == 0)
      #expect(health.Log.last?.Output == "fine\n")
      for entry in health.Log {
        #expect(isRFC3339Nano(entry.Start))
        #expect(isRFC3339Nano(entry.End))
      }
      try sb.runtime(["kill", c.id, "KILL"])
      #expect(await monitor.waitExit() == 0)
    }
  }

  @Test("a failing healthcheck: starting until `retries` failures, then unhealthy; the last 5 results are kept")
  func unhealthy() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sleep", "1000"])
      c.options.health = ["sh", "-c", "echo broken; exit 2"]
      c.options.healthRetries = 3
      c.options.healthInterval = 100_000_000
      let (monitor, _) = try await sb.launch(c)
      var snapshots: [(String, Int)] = []
      let reached = await eventually(timeout: 60) {
        guard let health = c.health() else { return false }
        snapshots.append((health.Status, health.FailingStreak))
        return health.FailingStreak >= 7
      }
      #expect(reached, "\(snapshots.suffix(5))")
      for (status, streak) in snapshots {
        #expect(status == (streak >= 3 ? "unhealthy" : "starting"), "status \(status) with streak \(streak)")
      }
      let log = try #require(c.health()?.Log)
      #expect(log.count == 5)
      #expect(log.allSatisfy { $0.ExitCode == 2 && $0.Output == "broken\n" })
      try sb.runtime(["kill", c.id, "KILL"])
      #expect(await monitor.waitExit() == 0)
    }
  }

  @Test("failures during the start period do not count")
  func healthStartPeriod() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sleep", "1000"])
      c.options.health = ["false"]
      c.options.healthRetries = 1
      c.options.healthInterval = 100_000_000
      c.options.healthStartPeriod = 600_000_000_000
      let (monitor, _) = try await sb.launch(c)
      #expect(await eventually(timeout: 60) { c.health()?.Log.count ?? 0 >= 3 })
      let health = try #require(c.health())
      #expect(health.Status == "starting")
      #expect(health.FailingStreak == 0)
      #expect(health.Log.allSatisfy { $0.ExitCode == 1 })
      try sb.runtime(["kill", c.id, "KILL"])
      #expect(await monitor.waitExit() == 0)
    }
  }

  @Test("a healthcheck that outlives its timeout is killed and counts as a failure")
  func healthTimeout() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sleep", "1000"])
      // Checks hang until the test writes /tmp/pass (no timing for a busy machine to upset).
      c.options.health = ["sh", "-c", "if [ -e /tmp/pass ]; then echo ok; exit 0; fi; exec sleep 999"]
      c.options.healthTimeout = 300_000_000
      c.options.healthRetries = 1
      let (monitor, _) = try await sb.launch(c)
      #expect(await eventually(timeout: 60) { c.health()?.Log.count ?? 0 >= 1 })
      let first = try #require(c.health()?.Log.first)
      #expect(first.ExitCode == -1)
      #expect(first.Output.contains("exceeded timeout"), "output: \(first.Output)")
      try FS.makeDirectories(c.bundle + "/rootfs/tmp", mode: 0o1777)
      try FS.write(c.bundle + "/rootfs/tmp/pass", "")
      // The hanging `sleep 999` in the container is gone.
      #expect(await eventually { !sb.containerRuns(c, commandLine: ["sleep", "999"]) }, "the timed-out check still runs in the container")
      #expect(await eventually { c.health()?.Status == "healthy" })
      try sb.runtime(["kill", c.id, "KILL"])
      #expect(await monitor.waitExit() == 0)
    }
  }

  @Test("a paused container's checks fail without running, as Docker's do")
  func healthWhilePaused() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sleep", "1000"])
      c.options.health = ["sh", "-c", "echo ran >> /tmp/checks"]
      c.options.healthInterval = 100_000_000
      c.options.healthRetries = 2
      // The engine writes STATE/paused when it freezes the container; the file alone is enough.
      _ = FileManager.default.createFile(atPath: c.state("paused"), contents: Data())
      let (monitor, _) = try await sb.launch(c)
      #expect(await eventually { c.health()?.Status == "unhealthy" }, "\(String(describing: c.health()))")
      let failed = try #require(c.health()?.Log.last)
      #expect(failed.ExitCode == -1)
      #expect(failed.Output == "Container \(c.id) is paused, unpause the container before exec")
      #expect(!FileManager.default.fileExists(atPath: c.bundle + "/rootfs/tmp/checks"), "no check ran")
      try FileManager.default.removeItem(atPath: c.state("paused"))
      #expect(await eventually { c.health()?.Status == "healthy" })
      #expect(FileManager.default.fileExists(atPath: c.bundle + "/rootfs/tmp/checks"))
      try sb.runtime(["kill", c.id, "KILL"])
      #expect(await monitor.waitExit() == 0)
    }
  }

  // MARK: - Log rotation, exit command, scale, memory

  @Test("log rotation: log → log.1 → log.2 at log-max-size, at most log-max-files files")
  func logRotation() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sh", "-c", "i=1; while [ $i -le 60 ]; do echo line-$i; i=$((i+1)); done"])
      c.options.logMaxSize = 400
      c.options.logMaxFiles = 3
      let (monitor, _) = try await sb.launch(c)
      #expect(await monitor.waitExit() == 0)
      let fm = FileManager.default
      let files = [c.logPath + ".2", c.logPath + ".1", c.logPath]
      for file in files {
        #expect(fm.fileExists(atPath: file), "\(file)")
        let size = (try? fm.attributesOfItem(atPath: file)[.size] as? Int) ?? Int.max
        #expect(size <= 400, "\(file): \(size) bytes")
      }
      #expect(!fm.fileExists(atPath: c.logPath + ".3"))
      let lines = try files.flatMap { try c.logEntries($0) }.map { $0["log"] ?? "" }
      #expect(lines.count >= 6)
      let first = 60 - lines.count + 1
      #expect(lines == (first...60).map { "line-\($0)\n" }, "the kept files hold the newest lines in order")
    }
  }

  @Test("log-max-files 1: the file is truncated, never rotated")
  func logTruncation() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sh", "-c", "i=1; while [ $i -le 60 ]; do echo line-$i; i=$((i+1)); done"])
      c.options.logMaxSize = 400
      c.options.logMaxFiles = 1
      let (monitor, _) = try await sb.launch(c)
      #expect(await monitor.waitExit() == 0)
      #expect(!FileManager.default.fileExists(atPath: c.logPath + ".1"))
      let size = (try? FileManager.default.attributesOfItem(atPath: c.logPath)[.size] as? Int) ?? Int.max
      #expect(size <= 400)
      let lines = try c.logEntries().map { $0["log"] ?? "" }
      #expect(!lines.isEmpty && lines == (60 - lines.count + 1...60).map { "line-\($0)\n" }, "\(lines)")
    }
  }

  @Test("the exit command runs once, after the final exit, when the monitor unlinks STATE/autoremove")
  func exitCommand() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sh", "-c", "exit 1"])
      let marker = c.dir + "/marker"
      c.options.restart = "on-failure"
      c.options.restartMax = 1
      c.options.exitArgs = ["sh", "-c", "cat \(c.state("state")) >> \(marker)"]
      _ = FileManager.default.createFile(atPath: c.state("autoremove"), contents: Data())
      let (monitor, _) = try await sb.launch(c)
      #expect(await monitor.waitExit(timeout: 60) == 0)
      #expect(await eventually { FileManager.default.fileExists(atPath: marker) })
      try? await Task.sleep(nanoseconds: 100_000_000)
      let recorded = (readText(marker) ?? "").split(separator: "\n")
      #expect(recorded.count == 1)
      #expect(recorded.first?.hasSuffix(" 1") == true, "ran after the restart, not before: \(recorded)")
      #expect(!FileManager.default.fileExists(atPath: c.state("autoremove")), "the monitor claimed the removal")
    }
  }

  @Test("no exit command when someone else unlinked STATE/autoremove first")
  func exitCommandClaimedElsewhere() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sh", "-c", "exit 0"])
      let marker = c.dir + "/marker"
      c.options.exitArgs = ["/bin/sh", "-c", "touch \(marker)"]
      let (monitor, _) = try await sb.launch(c)
      #expect(await monitor.waitExit() == 0)
      try? await Task.sleep(nanoseconds: 300_000_000)
      #expect(!FileManager.default.fileExists(atPath: marker), "the exit command ran without STATE/autoremove")
    }
  }

  @Test("twenty monitors at once")
  func manyMonitors() async throws {
    try await withMonitorSandbox { sb in
      let containers = try (0..<20).map { i in try sb.container("c\(i)", args: ["sh", "-c", "echo hello-\(i); exit \(i % 5)"]) }
      let monitors = try containers.map { try sb.startMonitor($0) }
      for monitor in monitors {
        #expect(await monitor.syncLine()?.hasPrefix("created ") == true)
        #expect(await monitor.syncLine()?.hasPrefix("started ") == true)
      }
      for (i, (c, monitor)) in zip(containers, monitors).enumerated() {
        #expect(await monitor.waitExit(timeout: 60) == 0)
        #expect(try c.logEntries().map { $0["log"] } == ["hello-\(i)\n"])
        #expect(c.exitFields.first == "\(i % 5)")
      }
      #expect((try? FileManager.default.contentsOfDirectory(atPath: sb.runtimeRoot)) ?? [] == [])
    }
  }

  @Test("an idle monitor's PSS is under 0.7 MB")
  func idleMemory() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container(args: ["sleep", "1000"])
      let (monitor, _) = try await sb.launch(c)
      let client = try AttachClient(path: c.socket)
      try client.send("resize 10 10\n")
      #expect(await client.replyLine() == "ok", "the monitor serves its socket")
      let rollup = readText("/proc/\(monitor.pid)/smaps_rollup") ?? ""
      let pss = rollup.split(separator: "\n").first { $0.hasPrefix("Pss:") }
        .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) }
      let kb = try #require(pss, "no Pss in smaps_rollup: \(rollup)")
      print("berth-monitor idle PSS: \(kb) kB")
      #expect(kb < 700, "idle PSS \(kb) kB")
      try sb.runtime(["kill", c.id, "KILL"])
      #expect(await monitor.waitExit() == 0)
      #expect(c.exitFields.first == "137")
    }
  }

  @Test("an OOM-killed container is recorded with oomKilled 1")
  func oomKilled() async throws {
    try await withMonitorSandbox { sb in
      let c = try sb.container()
      try c.setProcess(["sh", "-c", "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done"]) { spec in
        var linux = spec["linux"] as? [String: Any] ?? [:]
        var resources = linux["resources"] as? [String: Any] ?? [:]
        resources["memory"] = ["limit": 32 << 20, "swap": 32 << 20]
        linux["resources"] = resources
        spec["linux"] = linux
      }
      let (monitor, _) = try await sb.launch(c)
      #expect(await monitor.waitExit(timeout: 60) == 0)
      #expect(c.exitFields.first == "137")
      #expect(c.exitFields.last == "1", "\(c.exitFields)")
    }
  }
}
