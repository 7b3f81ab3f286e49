import BerthOCI
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// create / start / state / kill / delete / run / list / ps / pause / resume / events / update.
@Suite("Lifecycle", .needsRoot)
struct LifecycleTests {
  @Test("run in the foreground returns the process's exit code", arguments: [0, 3, 42])
  func runExitCode(code: Int) async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      let r = try await c.run(["sh", "-c", "echo out; echo err >&2; exit \(code)"])
      #expect(r.status == Int32(code), "\(r)")
      #expect(r.out == "out", "container stdout must reach the runtime's stdout: \(r)")
      #expect(r.stderr.contains("err"), "container stderr must reach the runtime's stderr: \(r)")
      // run deletes the container when the process exits.
      let state = await sb.runtime(["state", c.id])
      #expect(!state.succeeded, "container still exists after run returned: \(state)")
    }
  }

  @Test("run returns 128+9 when the container is killed with SIGKILL")
  func runKilled() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      async let result = c.run(["sleep", "100"])
      let running = await eventually(timeout: 10) {
        let r = await sb.runtime(["state", c.id])
        return r.succeeded && r.stdout.contains("\"running\"")
      }
      try #require(running, "container never reached running")
      expectSuccess(await c.kill("KILL"), "kill")
      let r = try await result
      #expect(r.status == 128 + 9, "\(r)")
    }
  }

  @Test("run passes stdin to the process")
  func runStdin() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      let r = try await c.run(["sh", "-c", "read a; read b; echo \"$b-$a\""], stdin: .text("one\ntwo\n"))
      expectSuccess(r)
      #expect(r.out == "two-one", "\(r)")
    }
  }

  @Test(
    "create, state created, start, state running, kill, state stopped, delete",
    arguments: ["KILL", "9", "SIGKILL"])
  func fullLifecycle(signal: String) async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try requireSuccess(try await c.create(["sleep", "100"]), "create")

      let created = try await c.state()
      #expect(created.status == .created)
      #expect(created.id == c.id)
      #expect(created.bundle == c.bundle)
      let pid = try #require(created.pid)
      #expect(pid > 1, "a created container has an init process waiting for start")
      #expect(!processIsGone(pid), "state says pid \(pid) but it does not exist")
      // The process waiting for start is in the container's cgroup already.
      if let procs = c.cgroupFile("pids", "cgroup.procs").flatMap(readText) {
        #expect(procs.split(separator: "\n").contains(Substring(String(pid))), "init \(pid) not in cgroup: \(procs)")
      }

      expectSuccess(await c.start(), "start")
      let running = try await c.state()
      #expect(running.status == .running)
      #expect(running.pid == pid, "start must exec in the process that create made")
      #expect(readText("/proc/\(pid)/comm") == "sleep", "the user's process must be running after start")

      expectSuccess(await c.kill(signal), "kill \(signal)")
      #expect(try await c.waitFor(.stopped), "state did not become stopped after kill \(signal)")

      expectSuccess(await c.delete(), "delete")
      let gone = await sb.runtime(["state", c.id])
      #expect(!gone.succeeded, "state of a deleted container must fail: \(gone)")
      #expect(!FileManager.default.fileExists(atPath: sb.stateRoot + "/" + c.id), "state dir entry not removed")
    }
  }

  @Test("kill without a signal sends SIGTERM")
  func killDefaultSignal() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try await c.runDetached([
        "sh", "-c", "trap 'echo term > /tmp/got; exit 0' TERM; touch /tmp/ready; while true; do sleep 0.05; done",
      ])
      #expect(await eventually { FileManager.default.fileExists(atPath: c.hostPath("/tmp/ready")) })
      expectSuccess(await c.kill(), "kill")
      #expect(await eventually { readText(c.hostPath("/tmp/got")) == "term" }, "the process never got SIGTERM")
      #expect(try await c.waitFor(.stopped))
    }
  }

  @Test("start twice fails; create with an existing ID fails")
  func startTwiceAndDuplicateID() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try requireSuccess(try await c.create(["sleep", "100"]), "create")
      let duplicate = try await c.create(["sleep", "100"])
      #expect(!duplicate.succeeded, "a second create with the same ID must fail: \(duplicate)")
      #expect(!duplicate.err.isEmpty)
      expectSuccess(await c.start(), "start")
      let again = await c.start()
      #expect(!again.succeeded, "starting a running container must fail: \(again)")
      #expect(try await c.state().status == .running, "the failed create/start must not disturb the container")
    }
  }

  @Test("run --detach with --pid-file: the file holds the state's pid")
  func runDetachedPidFile() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      let pidFile = sb.path("container.pid")
      let state = try await c.runDetached(["sleep", "100"], options: ["--pid-file", pidFile])
      #expect(state.status == .running)
      let written = try #require(readText(pidFile), "pid file not written")
      #expect(Int(written) == state.pid, "pid file says \(written), state says \(String(describing: state.pid))")
    }
  }

  @Test("create --pid-file writes the init pid")
  func createPidFile() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      let pidFile = sb.path("create.pid")
      try requireSuccess(try await c.create(["sleep", "100"], options: ["--pid-file", pidFile]))
      #expect(readText(pidFile).flatMap { Int($0) } == (try await c.pid()))
    }
  }

  @Test("list and list --format json show the containers of the root")
  func list() async throws {
    try await withSandbox { sb in
      let a = try sb.container("a")
      let b = try sb.container("b")
      try await a.runDetached(["sleep", "100"])
      try requireSuccess(try await b.create(["sleep", "100"]))

      let table = await sb.runtime(["list"])
      expectSuccess(table)
      let header = try #require(table.lines.first)
      #expect(header.hasPrefix("ID"), "table header: \(table)")
      #expect(header.contains("STATUS"))
      let rowA = table.lines.first { $0.hasPrefix(a.id + " ") }
      let rowB = table.lines.first { $0.hasPrefix(b.id + " ") }
      #expect(rowA?.contains("running") == true, "\(table)")
      #expect(rowB?.contains("created") == true, "\(table)")

      let quiet = await sb.runtime(["list", "--quiet"])
      #expect(Set(quiet.lines) == [a.id, b.id], "\(quiet)")

      let json = await sb.runtime(["list", "--format", "json"])
      expectSuccess(json)
      let states = try JSONDecoder().decode([ContainerState].self, from: Data(json.stdout.utf8))
      #expect(Set(states.map(\.id)) == [a.id, b.id])
      #expect(states.first { $0.id == a.id }?.status == .running)
      #expect(states.first { $0.id == b.id }?.status == .created)
      #expect(states.first { $0.id == a.id }?.pid == (try await a.pid()))
      #expect(states.first { $0.id == a.id }?.bundle == a.bundle)
    }
  }

  @Test("ps and ps --format json list the container's processes")
  func ps() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try await c.runDetached(["sh", "-c", "sleep 100 & sleep 101; wait"])
      let initPid = try await c.pid()
      #expect(await eventually { (c.cgroupValue("pids", "cgroup.procs") ?? "").split(separator: "\n").count == 3 })

      let json = await sb.runtime(["ps", "--format", "json", c.id])
      expectSuccess(json)
      let pids = try JSONDecoder().decode([Int].self, from: Data(json.stdout.utf8))
      #expect(pids.contains(initPid), "\(json)")
      #expect(pids.count == 3, "sh + two sleeps: \(json)")

      let table = await sb.runtime(["ps", c.id])
      expectSuccess(table)
      #expect(table.lines.first?.contains("PID") == true, "\(table)")
      #expect(table.lines.contains { $0.contains("sleep 101") }, "\(table)")
      #expect(table.lines.count == 4, "header + 3 processes: \(table)")
    }
  }

  @Test("pause freezes the container and resume thaws it")
  func pauseResume() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try await c.runDetached([
        "sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/counter.new; mv /tmp/counter.new /tmp/counter; sleep 0.02; done",
      ])
      let counter = { Int(readText(c.hostPath("/tmp/counter")) ?? "") ?? 0 }
      #expect(await eventually { counter() > 2 }, "the counter never ran")

      expectSuccess(await sb.runtime(["pause", c.id]), "pause")
      #expect(try await c.state().status == .paused)
      if let freezer = c.cgroupValue("freezer", "freezer.state") { #expect(freezer == "FROZEN") }
      try await Task.sleep(nanoseconds: 100_000_000)
      let frozenAt = counter()
      try await Task.sleep(nanoseconds: 400_000_000)
      #expect(counter() == frozenAt, "a paused container must not make progress")

      expectSuccess(await sb.runtime(["resume", c.id]), "resume")
      #expect(try await c.state().status == .running)
      #expect(await eventually { counter() > frozenAt + 2 }, "a resumed container must make progress")
    }
  }

  @Test("delete of a running container fails without --force and succeeds with it")
  func deleteRunning() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      let pid = try await c.runDetached(["sleep", "100"]).pid ?? 0
      let refused = await c.delete()
      #expect(!refused.succeeded, "delete without --force must refuse a running container: \(refused)")
      #expect(!refused.err.isEmpty)
      #expect(try await c.state().status == .running, "the refused delete must leave the container running")

      expectSuccess(await c.delete(force: true), "delete --force")
      #expect(await eventually { processIsGone(pid) }, "delete --force must kill the init process")
      #expect(!(await sb.runtime(["state", c.id])).succeeded)
    }
  }

  @Test("delete --force of a created (never started) container")
  func deleteCreated() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try requireSuccess(try await c.create(["sleep", "100"]))
      let pid = try await c.pid()
      expectSuccess(await c.delete(force: true))
      #expect(await eventually { processIsGone(pid) })
    }
  }

  @Test("kill --all signals every process in the container")
  func killAll() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      // Without a PID namespace, killing init would not take the other processes with it.
      c.setNamespace(.pid, present: false)
      try await c.runDetached(["sleep", "100"])
      let pidFile = sb.path("exec.pid")
      expectSuccess(await c.exec(["sleep", "101"], options: ["--detach", "--pid-file", pidFile]), "exec -d")
      let extra = try #require(readText(pidFile).flatMap { Int($0) }, "exec pid file")
      #expect(!processIsGone(extra))

      expectSuccess(await c.kill("KILL", all: true), "kill --all")
      #expect(await eventually { processIsGone(extra) }, "kill --all must reach the exec'd process too")
      #expect(try await c.waitFor(.stopped))
    }
  }

  @Test("events --stats prints one stats object with cpu, memory and pids")
  func eventsStats() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try await c.runDetached(["sh", "-c", "sleep 100 & sleep 100 & wait"])
      #expect(await eventually { (c.cgroupValue("pids", "cgroup.procs") ?? "").split(separator: "\n").count == 3 })
      let r = await sb.runtime(["events", "--stats", c.id])
      expectSuccess(r)
      #expect(r.lines.count == 1, "one JSON object on one line: \(r)")
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "not a JSON object: \(r)")
      #expect(object["type"] as? String == "stats")
      #expect(object["id"] as? String == c.id)
      let data = try #require(object["data"] as? [String: Any], "no data: \(r)")
      let memory = try #require(data["memory"] as? [String: Any], "no memory stats: \(r)")
      let usage = memory["usage"] as? [String: Any]
      #expect(((usage?["usage"] as? NSNumber)?.int64Value ?? 0) > 0, "memory usage: \(r)")
      let cpu = try #require(data["cpu"] as? [String: Any], "no cpu stats: \(r)")
      #expect(((cpu["usage"] as? [String: Any])?["total"] as? NSNumber)?.int64Value ?? 0 > 0, "cpu usage: \(r)")
      let pids = try #require(data["pids"] as? [String: Any], "no pids stats: \(r)")
      #expect((pids["current"] as? NSNumber)?.intValue == 3, "sh + 2 sleeps: \(r)")
    }
  }

  @Test("update --memory --pids-limit changes the cgroup")
  func updateFlags() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try await c.runDetached(["sleep", "100"])
      expectSuccess(await sb.runtime(["update", "--memory", "64M", "--pids-limit", "50", c.id]), "update")
      if CgroupLayout.host.isV1 {
        #expect(c.cgroupValue("memory", "memory.limit_in_bytes") == "67108864")
      } else {
        #expect(c.cgroupValue("memory", "memory.max") == "67108864")
      }
      #expect(c.cgroupValue("pids", "pids.max") == "50")
    }
  }

  @Test("update -r resources.json changes the cgroup")
  func updateResourcesFile() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try await c.runDetached(["sleep", "100"])
      let resources = LinuxResources(
        memory: LinuxMemory(limit: 96 << 20), cpu: LinuxCPU(shares: 256, quota: 20000, period: 100_000),
        pids: LinuxPids(limit: 40))
      let file = sb.path("resources.json")
      try DefaultSpec.encode(resources).write(to: URL(fileURLWithPath: file))
      expectSuccess(await sb.runtime(["update", "--resources", file, c.id]), "update -r")
      #expect(c.cgroupValue("pids", "pids.max") == "40")
      if CgroupLayout.host.isV1 {
        #expect(c.cgroupValue("memory", "memory.limit_in_bytes") == "\(96 << 20)")
        #expect(c.cgroupValue("cpu", "cpu.shares") == "256")
        #expect(c.cgroupValue("cpu", "cpu.cfs_quota_us") == "20000")
        #expect(c.cgroupValue("cpu", "cpu.cfs_period_us") == "100000")
      } else {
        #expect(c.cgroupValue("memory", "memory.max") == "\(96 << 20)")
        #expect(c.cgroupValue("cpu", "cpu.max") == "20000 100000")
      }
    }
  }

  @Test("state carries the config's annotations and a creation time")
  func stateAnnotations() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.spec.annotations = ["org.berth.test/key": "value with spaces", "other": ""]
      try requireSuccess(try await c.create(["sleep", "100"]))
      let state = try await c.state()
      #expect(state.annotations?["org.berth.test/key"] == "value with spaces", "\(state)")
      #expect(state.annotations?["other"] == "", "\(state)")
      #expect(state.ociVersion.hasPrefix("1."))
      let created = try #require(state.created, "runc-compatible state has `created`")
      #expect(ISO8601DateFormatter.withFractionalSeconds.date(from: created) != nil || ISO8601DateFormatter().date(from: created) != nil,
        "created must be RFC 3339: \(created)")
    }
  }

  @Test("kill of a created (never started) container stops it")
  func killCreated() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try requireSuccess(try await c.create(["sleep", "100"]))
      let pid = try await c.pid()
      expectSuccess(await c.kill("KILL"))
      #expect(try await c.waitFor(.stopped))
      #expect(await eventually { processIsGone(pid) })
      expectSuccess(await c.delete())
    }
  }

  @Test("exec and start are refused while paused; delete --force works on a paused container")
  func pausedContainer() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      let pid = try await c.runDetached(["sleep", "100"]).pid ?? 0
      expectSuccess(await sb.runtime(["pause", c.id]), "pause")
      let exec = await c.exec(["true"], timeout: 10)
      #expect(!exec.succeeded, "exec into a paused container must fail, not hang: \(exec)")
      expectSuccess(await c.delete(force: true), "delete --force of a paused container")
      #expect(await eventually { processIsGone(pid) }, "the frozen process must be killed")
    }
  }
}

extension ISO8601DateFormatter {
  nonisolated(unsafe) static let withFractionalSeconds: ISO8601DateFormatter = {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter
  }()
}
