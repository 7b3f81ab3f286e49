import BerthOCI
import Foundation
import Testing

/// The runtime's command line outside the container lifecycle: spec, features, --version, errors, logs.
@Suite("CLI", .needsRoot)
struct CLITests {
  @Test("spec writes a config.json that decodes and describes a usable container")
  func specWritesConfig() async throws {
    try await withSandbox { sb in
      let dir = try sb.makeDirectory("specbundle")
      let r = await sb.runtime(["spec", "--bundle", dir])
      expectSuccess(r, "spec")
      let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))
      let spec = try JSONDecoder().decode(Spec.self, from: data)
      #expect(spec.ociVersion.hasPrefix("1."))
      #expect(spec.root?.path == "rootfs")
      #expect(spec.process?.args?.isEmpty == false)
      #expect(spec.process?.cwd == "/")
      let namespaces = Set(spec.linux?.namespaces?.map(\.type) ?? [])
      #expect(namespaces.isSuperset(of: [.pid, .mount, .ipc, .uts, .network]), "\(namespaces)")
      #expect(spec.mounts?.contains { $0.destination == "/proc" && $0.type == "proc" } == true)
      #expect(spec.mounts?.contains { $0.destination == "/dev" } == true)
      #expect(spec.linux?.maskedPaths?.contains("/proc/kcore") == true)
      #expect(spec.linux?.readonlyPaths?.contains("/proc/sys") == true)
      #expect(spec.process?.capabilities?.bounding?.isEmpty == false)
      #expect(spec.process?.rlimits?.contains { $0.type == "RLIMIT_NOFILE" } == true)
    }
  }

  @Test("spec refuses to overwrite an existing config.json")
  func specRefusesOverwrite() async throws {
    try await withSandbox { sb in
      let dir = try sb.makeDirectory("specbundle")
      let existing = try sb.writeFile("specbundle/config.json", "{\"keep\": true}\n")
      let r = await sb.runtime(["spec", "--bundle", dir])
      #expect(!r.succeeded, "spec must fail when config.json exists: \(r)")
      #expect(!r.err.isEmpty, "and say why: \(r)")
      #expect(readText(existing) == "{\"keep\": true}", "the existing file must be untouched")
    }
  }

  @Test("spec --rootless writes a user-namespace config mapping the caller")
  func specRootless() async throws {
    try await withSandbox { sb in
      let dir = try sb.makeDirectory("specbundle")
      expectSuccess(await sb.runtime(["spec", "--rootless", "--bundle", dir]), "spec --rootless")
      let spec = try JSONDecoder().decode(Spec.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")))
      let namespaces = spec.linux?.namespaces?.map(\.type) ?? []
      #expect(namespaces.contains(.user), "\(namespaces)")
      #expect(!namespaces.contains(.network), "rootless cannot configure a network: \(namespaces)")
      let uid = try #require(spec.linux?.uidMappings?.first)
      #expect(uid.containerID == 0 && uid.hostID == geteuid() && uid.size == 1)
      let gid = try #require(spec.linux?.gidMappings?.first)
      #expect(gid.containerID == 0 && gid.hostID == getegid() && gid.size == 1)
      #expect(spec.linux?.resources?.devices == nil, "rootless cannot use the device cgroup")
    }
  }

  @Test("features prints JSON with versions, hooks and namespaces")
  func features() async throws {
    try await withSandbox { sb in
      let r = await sb.runtime(["features"])
      expectSuccess(r, "features")
      let features = try JSONDecoder().decode(Features.self, from: Data(r.stdout.utf8))
      let max = try #require(features.ociVersionMax, "ociVersionMax missing: \(r)")
      #expect(max.hasPrefix("1."))
      #expect(features.ociVersionMin?.hasPrefix("1.") == true)
      let namespaces = Set(features.linux?.namespaces ?? [])
      #expect(
        namespaces.isSuperset(of: ["pid", "network", "mount", "ipc", "uts", "user", "cgroup"]), "\(namespaces)")
      #expect(
        Set(features.hooks ?? []).isSuperset(of: [
          "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
        ]))
      #expect(features.linux?.capabilities?.contains("CAP_SYS_ADMIN") == true)
      #expect(features.mountOptions?.contains("nosuid") == true)
      #expect(features.linux?.seccomp?.enabled == true)
    }
  }

  @Test(
    "features announces runtime-spec 1.2 and time namespaces",
    .berthOnly("runc 1.1.5 implements runtime-spec 1.0.2 and has no time namespaces"))
  func featuresBerth() async throws {
    try await withSandbox { sb in
      let r = await sb.runtime(["features"])
      let features = try JSONDecoder().decode(Features.self, from: Data(r.stdout.utf8))
      #expect(features.ociVersionMax?.hasPrefix("1.2") == true, "\(r)")
      #expect(features.linux?.namespaces?.contains("time") == true, "\(r)")
      #expect(features.linux?.cgroup?.v1 == true)
      #expect(features.linux?.cgroup?.v2 == true)
    }
  }

  @Test("--version prints the runtime and spec versions")
  func version() async throws {
    try await withSandbox { sb in
      let r = await sb.runtimeWithoutRoot(["--version"])
      expectSuccess(r)
      #expect(r.stdout.contains("version"), "\(r)")
      #expect(r.lines.contains { $0.hasPrefix("spec: 1.") }, "a `spec: <version>` line as runc prints: \(r)")
    }
  }

  @Test("an unknown command exits non-zero and names the command")
  func unknownCommand() async throws {
    try await withSandbox { sb in
      let r = await sb.runtime(["frobnicate"])
      #expect(r.status != 0, "\(r)")
      #expect((r.stdout + r.stderr).contains("frobnicate"), "\(r)")
    }
  }

  @Test("state, kill, delete, start and exec of an unknown ID fail with 'does not exist'")
  func unknownContainer() async throws {
    try await withSandbox { sb in
      for command in [["state"], ["start"], ["kill"], ["delete"], ["pause"], ["ps"], ["exec"]] {
        var args = command + ["no-such-container"]
        if command == ["exec"] { args.append("true") }
        let r = await sb.runtime(args)
        #expect(r.status != 0, "\(args): \(r)")
        let text = r.stderr.lowercased()
        #expect(text.contains("does not exist") || text.contains("not found"), "\(args): \(r)")
      }
    }
  }

  @Test("delete --force of an unknown ID succeeds (nothing to do)")
  func deleteForceUnknown() async throws {
    try await withSandbox { sb in
      let r = await sb.runtime(["delete", "--force", "no-such-container"])
      #expect(r.succeeded, "\(r)")
    }
  }

  @Test("--log FILE --log-format json writes JSON lines on error")
  func logJSON() async throws {
    try await withSandbox { sb in
      let log = sb.path("runtime.log")
      let r = await sb.runtime(["--log", log, "--log-format", "json", "state", "no-such-container"])
      #expect(r.status != 0)
      let text = try #require(readText(log), "log file not written")
      let lines = text.split(separator: "\n")
      #expect(!lines.isEmpty)
      var sawError = false
      for line in lines {
        let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(object != nil, "log line is not a JSON object: \(line)")
        #expect(object?["msg"] is String, "log line has no msg: \(line)")
        if object?["level"] as? String == "error" { sawError = true }
      }
      #expect(sawError, "no level=error line in \(text)")
    }
  }

  @Test("--log FILE (text format) receives the error too")
  func logText() async throws {
    try await withSandbox { sb in
      let log = sb.path("runtime.log")
      let r = await sb.runtime(["--log", log, "state", "no-such-container"])
      #expect(r.status != 0)
      let text = readText(log) ?? ""
      #expect(text.contains("does not exist") || text.contains("not found"), "log: \(text)")
    }
  }

  @Test("list on an empty root succeeds")
  func listEmpty() async throws {
    try await withSandbox { sb in
      let table = await sb.runtime(["list"])
      expectSuccess(table)
      #expect(table.lines.count <= 1, "only a header: \(table)")
      let json = await sb.runtime(["list", "--format", "json"])
      expectSuccess(json)
      #expect(json.out == "null" || json.out == "[]", "\(json)")
    }
  }
}

/// Checks of the test fixtures themselves.
@Suite("Fixtures", .needsRoot)
struct FixtureTests {
  @Test(
    "the default spec is `runc spec` plus the documented changes",
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc"), "needs /usr/sbin/runc to compare"))
  func defaultSpecMatchesRuncSpec() async throws {
    try await withSandbox { sb in
      let dir = try sb.makeDirectory("runcspec")
      let r = await sb.host(["/usr/sbin/runc", "spec", "--bundle", dir])
      try requireSuccess(r)
      var runc = try JSONDecoder().decode(Spec.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")))
      runc.ociVersion = OCIVersion.current
      #expect(runc == DefaultSpec.runcSpec())
    }
  }

  @Test("the busybox rootfs runs")
  func rootfsRuns() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      let r = try await c.run(["sh", "-c", "echo hello; id -un; cat /etc/hostname"])
      expectSuccess(r)
      #expect(r.lines == ["hello", "root", "berth-test"], "\(r)")
    }
  }
}
