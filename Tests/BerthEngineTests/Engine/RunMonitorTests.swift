import BerthEngine
import BerthOS
import Foundation
import Testing

/// What the monitor does for a container: restarts, healthchecks, stops, the init, logs.
@Suite("berth run: restart, health, stop, init, logs", .engineSandbox)
struct RunMonitorTests {
  /// The restart count in the monitor's state file ("running PID STARTED RESTARTS").
  static func restartCount(_ sandbox: EngineSandbox, _ id: String) -> Int? {
    sandbox.stateText(id, "state")?.split(separator: " ").last.flatMap { Int($0) }
  }

  @Test("--restart on-failure:2 runs a failing container three times, then it is exited with its code")
  func restartOnFailure() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached(
        "--restart", "on-failure:2", "-v", "runs:/runs", "busybox", "sh", "-c", "echo run >> /runs/count; exit 5")
      #expect(try await sandbox.ok("wait", id).trimmed == "5")
      let runs = try FS.readText(sandbox.root + "/volumes/runs/_data/count")
      #expect(runs == "run\nrun\nrun\n")
      #expect(Self.restartCount(sandbox, id) == 2)

      // A success is not restarted by on-failure.
      let succeeding = try await sandbox.runDetached("--restart", "on-failure:2", "-v", "once:/runs", "busybox", "sh", "-c", "echo run >> /runs/count")
      #expect(try await sandbox.ok("wait", succeeding).trimmed == "0")
      #expect(try FS.readText(sandbox.root + "/volumes/once/_data/count") == "run\n")
      #expect(Self.restartCount(sandbox, succeeding) == 0)
    }
  }

  @Test("--restart always restarts until stop, which ends it for good")
  func restartAlwaysUntilStopped() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached("--restart", "always", "busybox", "sh", "-c", "sleep 0.2")
      let restarted = await sandbox.eventually(15) { (Self.restartCount(sandbox, id) ?? 0) >= 2 }
      #expect(restarted, "state: \(sandbox.stateText(id, "state") ?? "none")")
      try await sandbox.ok("stop", "-t", "1", id)
      let after = Self.restartCount(sandbox, id)
      try await Task.sleep(nanoseconds: 1_000_000_000)
      #expect(Self.restartCount(sandbox, id) == after, "restarted after stop")
      #expect(try await sandbox.ok("inspect", "-f", "{{.State.Status}}", id).trimmed == "exited")
    }
  }

  /// Docker's State.Health status in the monitor's health file.
  static func healthStatus(_ sandbox: EngineSandbox, _ id: String) -> String? {
    guard let text = sandbox.stateText(id, "health"),
      let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    else { return nil }
    return object["Status"] as? String
  }

  @Test("--health-cmd: unhealthy after the retries fail, healthy once the check passes")
  func healthcheck() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached(
        "--health-cmd", "test -e /tmp/ready", "--health-interval", "100ms", "--health-timeout", "2s", "--health-retries", "2",
        "busybox", "sleep", "100")
      let unhealthy = await sandbox.eventually(15) { Self.healthStatus(sandbox, id) == "unhealthy" }
      #expect(unhealthy, "health: \(sandbox.stateText(id, "health") ?? "none")")
      try await sandbox.ok("exec", id, "touch", "/tmp/ready")
      let healthy = await sandbox.eventually(15) { Self.healthStatus(sandbox, id) == "healthy" }
      #expect(healthy, "health: \(sandbox.stateText(id, "health") ?? "none")")
      #expect(try await sandbox.ok("inspect", "-f", "{{.State.Health.Status}}", id).trimmed == "healthy")

      // --no-healthcheck: no checks, no health record.
      let unchecked = try await sandbox.runDetached("--no-healthcheck", "busybox", "sleep", "100")
      try await Task.sleep(nanoseconds: 300_000_000)
      #expect(sandbox.stateText(unchecked, "health") == nil)
    }
  }

  /// Whether the container's shell has set its trap (it then writes /trapped, which shows in
  /// the upper layer).
  static func trapIsSet(_ sandbox: EngineSandbox, _ id: String) async -> Bool {
    await sandbox.eventually { FS.exists(sandbox.containerDirectory(id) + "/upper/trapped") }
  }

  @Test("--stop-signal is what stop sends")
  func stopSignal() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached(
        "--stop-signal", "USR1", "busybox", "sh", "-c", "trap 'exit 7' USR1; touch /trapped; while true; do sleep 0.1; done")
      #expect(await Self.trapIsSet(sandbox, id))
      try await sandbox.ok("stop", id)
      // 7 comes only from the trap: SIGTERM would be ignored by PID 1, then SIGKILL gives 137.
      #expect(try await sandbox.ok("wait", id).trimmed == "7")
    }
  }

  @Test("--stop-timeout: a container that ignores SIGTERM is killed after that many seconds")
  func stopTimeout() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached(
        "--stop-timeout", "1", "busybox", "sh", "-c", "trap '' TERM; touch /trapped; while true; do sleep 0.1; done")
      #expect(await Self.trapIsSet(sandbox, id))
      let asked = DockerTime.now()
      try await sandbox.ok("stop", id)
      #expect(try await sandbox.ok("wait", id).trimmed == "137")
      // From the stop to the kill: the timeout, not Docker's default 10 s (the monitor's
      // record of the end, not stop's own duration, which includes cleaning up).
      let exit = try #require(sandbox.stateText(id, "exit")?.split(separator: " "))
      let finished = try DockerTime.parse(String(exit[1]))
      let took = Double(finished.seconds - asked.seconds) + Double(finished.nanoseconds - asked.nanoseconds) / 1e9
      // Docker's default would be 10 s; a busy host may add a few to the CLI's start and the kill.
      #expect(took >= 0.9 && took < 9, "killed \(took) s after the stop")
    }
  }

  @Test("--init reaps orphans that the command never waits for")
  func initReaps() async throws {
    try await EngineSandbox.with { sandbox in
      if FS.exists(EngineSandbox.productsDirectory + "/berth-init") {
        // The orphan's parent becomes PID 1; `exec sleep` would never reap it.
        let id = try await sandbox.runDetached("--init", "busybox", "sh", "-c", "(sleep 0.1 &); exec sleep 100")
        var table = ""
        let reaped = await sandbox.eventually(10) {
          table = (try? await sandbox.ok("exec", id, "ps", "-o", "stat,comm"))?.stdout ?? ""
          return table.split(separator: "\n").count == 4 && !table.contains("Z ")
        }
        #expect(reaped, "processes: \(table)")
        #expect(table.contains("docker-init"))
      } else {
        Issue.record("berth-init is not built next to the tests: --init cannot be tested")
      }
    }
  }

  @Test("--log-driver none writes no log; --log-opt max-size/max-file rotate the json-file log")
  func logs() async throws {
    try await EngineSandbox.with { sandbox in
      let silent = try await sandbox.runDetached("--log-driver", "none", "busybox", "echo", "unlogged")
      try await sandbox.ok("wait", silent)
      let silentFiles = try FS.list(sandbox.containerDirectory(silent)).filter { $0.contains("json.log") }
      #expect(silentFiles.isEmpty)

      let script = "i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done"
      let id = try await sandbox.runDetached("--log-opt", "max-size=1k", "--log-opt", "max-file=2", "busybox", "sh", "-c", script)
      try await sandbox.ok("wait", id)
      let log = sandbox.containerDirectory(id) + "/\(id)-json.log"
      let files = try FS.list(sandbox.containerDirectory(id)).filter { $0.contains("json.log") }.sorted()
      #expect(files == ["\(id)-json.log", "\(id)-json.log.1"])
      var numbers: [Int] = []
      for path in [log + ".1", log] {
        let text = try FS.readText(path)
        #expect(text.utf8.count <= 1024, "\(path) is \(text.utf8.count) bytes")
        for line in text.split(separator: "\n") {
          let entry = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
          let logged = (entry?["log"] as? String) ?? ""
          numbers.append(Int(logged.dropFirst("line-".count).dropLast()) ?? -1)
        }
      }
      // The newest lines, in order, with nothing missing between the two files.
      #expect(numbers.last == 199)
      #expect(numbers == Array((200 - numbers.count)..<200), "\(numbers)")
      #expect(numbers.count < 200)
    }
  }
}
