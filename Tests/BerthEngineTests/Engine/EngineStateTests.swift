import BerthOS
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// State you can trust: many berth processes at once, a reboot, a CLI killed half-way.
/// Serialized: each of these loads the machine on its own.
@Suite("engine state: concurrency, reboot, killed CLI", .engineSandbox, .serialized)
struct EngineStateTests {
  /// Runs `body(0..<count)` with at most `limit` at once; the results in index order.
  static func inParallel<T: Sendable>(
    _ count: Int, limit: Int, _ body: @escaping @Sendable (Int) async throws -> T
  ) async throws -> [T] {
    try await withThrowingTaskGroup(of: (Int, T).self) { group in
      var results = [T?](repeating: nil, count: count)
      var next = 0
      func startNext() {
        let index = next
        group.addTask { (index, try await body(index)) }
        next += 1
      }
      while next < min(limit, count) { startNext() }
      while let (index, value) = try await group.next() {
        results[index] = value
        if next < count { startNext() }
      }
      return results.compactMap { $0 }
    }
  }

  @Test("100 parallel run -d, then 100 parallel rm -f: every one succeeds, nothing is lost or left")
  func hundredInParallel() async throws {
    try await EngineSandbox.with { sandbox in
      let runs = try await Self.inParallel(100, limit: 20) { _ in
        try await sandbox.run(["run", "-d", "busybox", "sleep", "1000"], timeout: 180)
      }
      for outcome in runs where outcome.code != 0 { Issue.record("\(outcome)") }
      let ids = runs.map(\.trimmed)
      #expect(Set(ids).count == 100)
      #expect(Set(try await sandbox.listedIDs()) == Set(ids))
      let names = try await sandbox.ok("ps", "-a", "--format", "{{.Names}}").lines
      #expect(Set(names).count == 100, "generated names clashed: \(names.count) rows, \(Set(names).count) names")
      let running = ids.filter { (sandbox.stateText($0, "state") ?? "").hasPrefix("running ") }
      #expect(running.count == 100)

      let removals = try await Self.inParallel(100, limit: 20) { index in
        try await sandbox.run(["rm", "-f", ids[index]], timeout: 180)
      }
      for outcome in removals where outcome.code != 0 { Issue.record("\(outcome)") }
      #expect(try await sandbox.listedIDs().isEmpty)
      // EngineSandbox.with checks that no mount, monitor, cgroup or run-root entry is left.
    }
  }

  @Test("parallel runs with the same name: exactly one gets it, the others are refused and make nothing")
  func contestedName() async throws {
    try await EngineSandbox.with { sandbox in
      let runs = try await Self.inParallel(10, limit: 10) { _ in
        try await sandbox.run(["run", "-d", "--name", "contested", "busybox", "sleep", "100"], timeout: 120)
      }
      let winners = runs.filter { $0.code == 0 }
      #expect(winners.count == 1, "\(runs)")
      for loser in runs where loser.code != 0 {
        #expect(loser.code == 125 && loser.stderr.contains("Conflict. The container name \"/contested\" is already in use"), "\(loser)")
      }
      #expect(sandbox.seenIDs == Set(winners.map(\.trimmed)))
    }
  }

  @Test("after a reboot (monitors and containers killed, mounts gone, run root cleared) containers show exited and start again")
  func reboot() async throws {
    try await EngineSandbox.with { sandbox in
      try await sandbox.ok("run", "-d", "--name", "was-running", "-v", "kept:/kept", "busybox", "sh", "-c", "echo before > /kept/f; exec sleep 1000")
      try await sandbox.ok("create", "--name", "never-started", "busybox", "echo", "first start")
      let exited = try await sandbox.runDetached("--name", "had-exited", "busybox", "sh", "-c", "exit 2")
      #expect(try await sandbox.ok("wait", exited).trimmed == "2")
      #expect(await sandbox.eventually { FS.exists(sandbox.root + "/volumes/kept/_data/f") })

      try await sandbox.simulateReboot()

      func status(_ name: String) async throws -> String {
        try await sandbox.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}", name).trimmed
      }
      #expect(try await status("was-running") == "exited 255 false")
      #expect(try await status("never-started") == "created 0 false")
      #expect(try await status("had-exited") == "exited 2 false")
      #expect(Set(try await sandbox.listedIDs()).count == 3)
      let table = try await sandbox.ok("ps", "-a", "--filter", "name=was-running", "--format", "{{.Names}} {{.Status}}")
      #expect(table.trimmed.hasPrefix("was-running Exited (255)"), "\(table)")

      try await sandbox.ok("start", "was-running")
      #expect(try await sandbox.ok("exec", "was-running", "cat", "/kept/f").trimmed == "before")
      #expect(try await status("was-running") == "running 0 true")
      #expect(try await sandbox.ok("start", "-a", "never-started").stdout == "first start\n")
      let again = try await sandbox.run("start", "-a", "had-exited")
      #expect(again.code == 2, "\(again)")
      try await sandbox.ok("stop", "-t", "1", "was-running")
      #expect(try await status("was-running") == "exited 137 false")
    }
  }

  @Test("kill -9 of the CLI in the middle of run leaves nothing that ps -a does not show or rm -f cannot remove")
  func killedRun() async throws {
    try await EngineSandbox.with { sandbox in
      let delays: [UInt64] = [0, 20, 50, 80, 120, 160, 220, 300, 400, 600]
      for (index, delay) in delays.enumerated() {
        // Foreground and detached runs alternate: they stop at different steps.
        let mode = index % 2 == 0 ? "-i" : "-d"
        let run = try sandbox.spawnBerth(["run", mode, "--name", "cut-\(index)", "-v", "/anonymous", "busybox", "sleep", "100"])
        try await Task.sleep(nanoseconds: delay * 1_000_000)
        run.signal(SIGKILL)
        _ = await run.wait(seconds: 10)
      }
      // Whatever is on disk, mounted or running belongs to a container ps -a lists.
      let listed = Set(try await sandbox.listedIDs())
      for id in sandbox.containerDirectories { #expect(listed.contains(id), "\(id) has a directory but no row") }
      for mount in HostScan.mountPoints(under: sandbox.containersDirectory) {
        let id = mount.dropFirst(sandbox.containersDirectory.count + 1).prefix { $0 != "/" }
        #expect(listed.contains(String(id)), "mounted for a container ps -a does not show: \(mount)")
      }
      let unlisted = sandbox.seenIDs.subtracting(listed)
      for pid in HostScan.processes(inCgroupsOf: unlisted) { Issue.record("process \(pid) of an unlisted container") }

      if !listed.isEmpty { try await sandbox.ok(["rm", "-f", "-v"] + listed.sorted()) }
      #expect(sandbox.volumeNames.isEmpty, "anonymous volumes no container knows: \(sandbox.volumeNames)")
      // Every name is free again.
      for index in delays.indices { try await sandbox.ok("run", "--rm", "--name", "cut-\(index)", "busybox", "true") }
    }
  }

  @Test("a killed monitor: the container runs on unsupervised; stop, start and rm still work")
  func killedMonitor() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached("busybox", "sleep", "1000")
      let monitor = try #require(sandbox.stateText(id, "monitor")?.split(separator: " ").first.flatMap { pid_t($0) })
      kill(monitor, SIGKILL)
      #expect(try await sandbox.ok("inspect", "-f", "{{.State.Status}}", id).trimmed == "running")
      #expect(try await sandbox.ok("exec", id, "echo", "unsupervised").trimmed == "unsupervised")
      try await sandbox.ok("stop", "-t", "1", id)
      #expect(try await sandbox.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id).trimmed == "exited 137")

      try await sandbox.ok("start", id)
      let pid = try #require(sandbox.stateText(id, "state")?.split(separator: " ").dropFirst().first.flatMap { pid_t($0) })
      // Monitor and container killed at once, as the OOM killer or a careless kill might:
      // until PID 1 reaps it, the container's process is a zombie, which has ended.
      if let newMonitor = sandbox.stateText(id, "monitor")?.split(separator: " ").first.flatMap({ pid_t($0) }) {
        kill(newMonitor, SIGKILL)
      }
      kill(pid, SIGKILL)
      try await Task.sleep(nanoseconds: 200_000_000)
      #expect(try await sandbox.ok("inspect", "-f", "{{.State.Status}}", id).trimmed == "exited")
      try await sandbox.ok("start", id)
      #expect(sandbox.stateText(id, "state")?.split(separator: " ").dropFirst().first.flatMap { pid_t($0) } != pid)
      let restarted = await sandbox.eventually(15) {
        _ = try? await sandbox.run("start", id)
        return (try? await sandbox.ok("exec", id, "true")) != nil
      }
      #expect(restarted, "the container did not start again after its monitor and process were killed")
      try await sandbox.ok("rm", "-f", id)
    }
  }

  @Test("kill -9 of rm -f half-way: the next rm -f finishes the job")
  func killedRemove() async throws {
    try await EngineSandbox.with { sandbox in
      for delay: UInt64 in [0, 30, 60, 100, 150, 250] {
        let id = try await sandbox.runDetached("-v", "/anonymous", "busybox", "sleep", "100")
        let remove = try sandbox.spawnBerth(["rm", "-f", "-v", id])
        try await Task.sleep(nanoseconds: delay * 1_000_000)
        remove.signal(SIGKILL)
        _ = await remove.wait(seconds: 10)
        let again = try await sandbox.run("rm", "-f", "-v", id)
        #expect(again.code == 0, "\(again)")
        #expect(!FS.exists(sandbox.containerDirectory(id)))
      }
      #expect(sandbox.volumeNames.isEmpty, "anonymous volumes left: \(sandbox.volumeNames)")
    }
  }
}
