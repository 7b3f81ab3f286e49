import BerthOS
import Foundation
import Testing

/// `berth inspect` of containers end to end.
@Suite("inspect containers", .engineSandbox, .serialized)
struct InspectTests {
  @Test("a running container, then the same one killed")
  func runningThenKilled() async throws {
    try await EngineSandbox.with { sandbox in
      let host = sandbox.directory + "/shared"
      try FS.makeDirectories(host)
      let id = try await sandbox.runDetached(
        "--name", "insp", "--memory", "64m", "-v", "vol1:/data", "-v", "\(host):/host:ro", "-e", "FOO=bar",
        "-l", "k=v", "busybox", "sleep", "100")
      let raw = try await sandbox.ok("inspect", "insp").stdout
      // docker indents by four spaces.
      #expect(raw.hasPrefix("[\n    {\n        \"Id\": "), "\(raw.prefix(60))")
      let object = try await sandbox.inspect("insp")
      #expect(object["Id"] as? String == id)
      #expect(object["Name"] as? String == "/insp")
      #expect(object["Path"] as? String == "sleep")
      #expect(object["Args"] as? [String] == ["100"])
      #expect((object["Image"] as? String)?.hasPrefix("sha256:") == true)
      #expect(object["Driver"] as? String == "overlay2")
      #expect(object["Platform"] as? String == "linux")

      let state = object["State"] as? [String: Any] ?? [:]
      #expect(state["Status"] as? String == "running")
      #expect(state["Running"] as? Bool == true)
      let pid = state["Pid"] as? Int ?? 0
      #expect(pid > 0)
      // The pid is the container's: its cgroup is named after the container.
      #expect((try? FS.readText("/proc/\(pid)/cgroup"))?.contains(id) == true)
      #expect(state["FinishedAt"] as? String == "0001-01-01T00:00:00Z")
      #expect((state["StartedAt"] as? String)?.hasPrefix("20") == true)

      let hostConfig = object["HostConfig"] as? [String: Any] ?? [:]
      #expect(hostConfig["Memory"] as? Int == 64 << 20)
      #expect(hostConfig["Binds"] as? [String] == ["vol1:/data", "\(host):/host:ro"])
      #expect((hostConfig["RestartPolicy"] as? [String: Any])?["Name"] as? String == "no")
      #expect(hostConfig["NetworkMode"] as? String == "bridge")

      let config = object["Config"] as? [String: Any] ?? [:]
      #expect(config["Cmd"] as? [String] == ["sleep", "100"])
      #expect(config["Image"] as? String == "busybox")
      #expect((config["Env"] as? [String])?.contains("FOO=bar") == true)
      #expect(config["Labels"] as? [String: String] == ["k": "v"])
      #expect(config["Hostname"] as? String == String(id.prefix(12)))

      let mounts = object["Mounts"] as? [[String: Any]] ?? []
      let volume = mounts.first { $0["Type"] as? String == "volume" } ?? [:]
      #expect(volume["Name"] as? String == "vol1")
      #expect(volume["Destination"] as? String == "/data")
      #expect(volume["RW"] as? Bool == true)
      #expect((volume["Source"] as? String).map { FS.isDirectory($0) } == true)
      let bind = mounts.first { $0["Type"] as? String == "bind" } ?? [:]
      #expect(bind["Source"] as? String == host)
      #expect(bind["Destination"] as? String == "/host")
      #expect(bind["RW"] as? Bool == false)

      let graph = (object["GraphDriver"] as? [String: Any])?["Data"] as? [String: String] ?? [:]
      #expect(graph["MergedDir"].map { FS.isDirectory($0 + "/bin") } == true, "\(graph)")
      #expect((object["LogPath"] as? String).map { FS.exists($0) } == true)

      // Templates reach into the object and print values as Go does.
      let formatted = try await sandbox.ok(
        "inspect", "-f", "{{.State.Pid}} {{.HostConfig.Memory}} {{.Config.Cmd}} {{json .Config.Labels}} {{.Config.Labels}}",
        "insp").stdout
      #expect(formatted == "\(pid) 67108864 [sleep 100] {\"k\":\"v\"} map[k:v]\n")

      try await sandbox.ok("kill", "insp")
      try await sandbox.waitFor("insp", "{{.State.Status}}", toBe: "exited")
      let killed = try await sandbox.inspect("insp")["State"] as? [String: Any] ?? [:]
      #expect(killed["Running"] as? Bool == false)
      #expect(killed["Pid"] as? Int == 0)
      #expect(killed["ExitCode"] as? Int == 137)
      #expect((killed["FinishedAt"] as? String).map { $0 != "0001-01-01T00:00:00Z" } == true)
    }
  }

  @Test("created, exited and --network none containers")
  func lifecycleStates() async throws {
    try await EngineSandbox.with { sandbox in
      try await sandbox.ok("create", "--name", "fresh", "--network", "none", "--entrypoint", "sh", "busybox", "-c", "true")
      let fresh = try await sandbox.inspect("fresh")
      let state = fresh["State"] as? [String: Any] ?? [:]
      #expect(state["Status"] as? String == "created")
      #expect(state["StartedAt"] as? String == "0001-01-01T00:00:00Z")
      #expect(state["Pid"] as? Int == 0)
      let config = fresh["Config"] as? [String: Any] ?? [:]
      #expect(config["Entrypoint"] as? [String] == ["sh"])
      #expect(config["Cmd"] as? [String] == ["-c", "true"])
      let networks = (fresh["NetworkSettings"] as? [String: Any])?["Networks"] as? [String: Any]
      #expect(networks?.keys.sorted() == ["none"])

      let failed = try await sandbox.run("run", "--name", "three", "busybox", "sh", "-c", "exit 3")
      #expect(failed.code == 3)
      #expect(try await sandbox.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}", "three").stdout
        == "exited 3 false\n")
    }
  }

  @Test("names are looked up as containers, then images, then volumes; --type narrows")
  func lookups() async throws {
    try await EngineSandbox.with { sandbox in
      try await sandbox.ok("create", "--name", "box", "-v", "keep:/keep", "busybox", "true")
      let image = try await sandbox.inspect("busybox")
      #expect(image["RepoTags"] as? [String] == ["busybox:latest"])
      #expect((try await sandbox.inspect("keep"))["Mountpoint"] as? String == sandbox.root + "/volumes/keep/_data")

      let notContainer = try await sandbox.run("inspect", "--type", "container", "busybox")
      #expect(notContainer.code == 1 && notContainer.stdout == "[]\n", "\(notContainer)")
      #expect(notContainer.stderr == "Error: No such container: busybox\n")
      let notImage = try await sandbox.run("image", "inspect", "box")
      #expect(notImage.code == 1 && notImage.stderr == "Error: No such image: box\n", "\(notImage)")

      // Found objects are printed, and each missing name is an error.
      let mixed = try await sandbox.run("inspect", "-f", "{{.Name}}", "box", "nope")
      #expect(mixed.code == 1 && mixed.stdout == "/box\n", "\(mixed)")
      #expect(mixed.stderr == "Error: No such object: nope\n")
      let badType = try await sandbox.run("inspect", "--type", "bogus", "box")
      #expect(badType.code == 1 && badType.stderr.contains("\"bogus\" is not a valid value for --type"), "\(badType)")

      let sized = try await sandbox.ok("inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", "box").stdout
      let numbers = sized.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
      #expect(numbers.count == 2 && numbers[1] > 1_000_000, "\(sized)")
    }
  }
}
