import BerthOCI
import Foundation
import Testing

/// A config.json the runtime must refuse.
struct BadConfig: Sendable, CustomTestStringConvertible {
  var name: String
  /// What Berth's error must mention (any of them): the field at fault, or the value.
  var mentions: [String]
  var editSpec: (@Sendable (inout Spec) -> Void)? = nil
  var editJSON: (@Sendable (inout [String: Any]) -> Void)? = nil
  var raw: String? = nil

  var testDescription: String { name }

  /// Writes the bad config.json into the container's bundle.
  func write(to container: TestContainer) throws {
    let path = container.bundle + "/config.json"
    if let raw {
      try raw.write(toFile: path, atomically: false, encoding: .utf8)
      return
    }
    var spec = container.spec
    editSpec?(&spec)
    var data = try DefaultSpec.encode(spec)
    if let editJSON {
      var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
      editJSON(&object)
      data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted])
    }
    try data.write(to: URL(fileURLWithPath: path))
  }
}

/// Edits a nested dictionary of decoded JSON.
func editObject(_ object: inout [String: Any], _ key: String, _ edit: (inout [String: Any]) -> Void) {
  var inner = object[key] as? [String: Any] ?? [:]
  edit(&inner)
  object[key] = inner
}

/// Configs the runtime must refuse at create: non-zero exit, a message, nothing left behind.
@Suite("Bad config.json", .needsRoot)
struct BadConfigTests {
  /// Refused by runc 1.1.5 too.
  static let rejectedByAll: [BadConfig] = [
    BadConfig(name: "invalid JSON", mentions: ["config.json", "JSON", "json"], raw: "{\"ociVersion\": \"1.2.0\", \"process\": {"),
    BadConfig(
      name: "process.args is a string", mentions: ["process.args"],
      editJSON: { json in editObject(&json, "process") { $0["args"] = "true" } }),
    BadConfig(name: "process.args is empty", mentions: ["process.args"], editSpec: { $0.process?.args = [] }),
    BadConfig(name: "process is missing", mentions: ["process"], editSpec: { $0.process = nil }),
    BadConfig(name: "process.cwd is relative", mentions: ["process.cwd"], editSpec: { $0.process?.cwd = "tmp" }),
    BadConfig(name: "root is missing", mentions: ["root"], editSpec: { $0.root = nil }),
    BadConfig(
      name: "root.path does not exist", mentions: ["root.path", "no-such-rootfs"],
      editSpec: { $0.root?.path = "no-such-rootfs" }),
    BadConfig(
      name: "unknown namespace type foo", mentions: ["linux.namespaces", "foo"],
      editJSON: { json in
        editObject(&json, "linux") { linux in
          linux["namespaces"] = (linux["namespaces"] as? [Any] ?? []) + [["type": "foo"]]
        }
      }),
    BadConfig(
      name: "duplicate namespace", mentions: ["linux.namespaces"],
      editSpec: { $0.linux?.namespaces?.append(LinuxNamespace(type: .pid)) }),
    BadConfig(
      name: "namespace path that does not exist", mentions: ["linux.namespaces", "/proc/999999/ns/net"],
      editSpec: { spec in
        spec.linux?.namespaces?.removeAll { $0.type == .network }
        spec.linux?.namespaces?.append(LinuxNamespace(type: .network, path: "/proc/999999/ns/net"))
      }),
    BadConfig(
      name: "user namespace without mappings", mentions: ["linux.uidMappings", "uidMappings"],
      editSpec: { $0.linux?.namespaces?.append(LinuxNamespace(type: .user)) }),
    BadConfig(
      name: "invalid rlimit type RLIMIT_FOO", mentions: ["process.rlimits", "RLIMIT_FOO"],
      editSpec: { $0.process?.rlimits = [POSIXRlimit(type: "RLIMIT_FOO", hard: 1, soft: 1)] }),
    BadConfig(
      name: "invalid seccomp action", mentions: ["linux.seccomp", "SCMP_ACT_FOO"],
      editJSON: { json in editObject(&json, "linux") { $0["seccomp"] = ["defaultAction": "SCMP_ACT_FOO"] } }),
    BadConfig(
      name: "sysctl that is not namespaced", mentions: ["linux.sysctl", "kernel.not_a_real_sysctl"],
      editSpec: { $0.linux?.sysctl = ["kernel.not_a_real_sysctl": "1"] }),
    BadConfig(
      name: "ipc sysctl without an ipc namespace", mentions: ["linux.sysctl", "kernel.msgmax"],
      editSpec: { spec in
        spec.linux?.namespaces?.removeAll { $0.type == .ipc }
        spec.linux?.sysctl = ["kernel.msgmax": "8192"]
      }),
    BadConfig(
      name: "device with an invalid type", mentions: ["linux.devices", "/dev/bad"],
      editSpec: { $0.linux?.devices = [LinuxDevice(path: "/dev/bad", type: "x", major: 1, minor: 3)] }),
    BadConfig(
      name: "mount of an unknown filesystem type", mentions: ["mounts", "/mnt/unknown-fs"],
      editSpec: { $0.mounts?.append(Mount(destination: "/mnt/unknown-fs", type: "nosuchfs", source: "none")) }),
  ]

  /// Accepted by runc 1.1.5 (it warns or ignores), refused by Berth.
  static let rejectedByBerth: [BadConfig] = [
    BadConfig(name: "missing ociVersion", mentions: ["ociVersion"], editJSON: { $0.removeValue(forKey: "ociVersion") }),
    BadConfig(name: "unsupported ociVersion 2.0.0", mentions: ["ociVersion"], editSpec: { $0.ociVersion = "2.0.0" }),
    BadConfig(
      name: "uidMappings without a user namespace", mentions: ["linux.uidMappings", "uidMappings"],
      editSpec: { $0.linux?.uidMappings = [IDMapping(containerID: 0, hostID: 1000, size: 1)] }),
    BadConfig(
      name: "mount with a relative destination", mentions: ["mounts", "mnt/relative"],
      editSpec: { $0.mounts?.append(Mount(destination: "mnt/relative", type: "tmpfs", source: "tmpfs")) }),
    BadConfig(
      name: "systemd-style cgroupsPath without --systemd-cgroup", mentions: ["linux.cgroupsPath", "cgroupsPath"],
      editSpec: { $0.linux?.cgroupsPath = "system.slice:berth:bad-config" }),
    BadConfig(
      name: "timeOffsets without a time namespace", mentions: ["linux.timeOffsets", "timeOffsets"],
      editSpec: { $0.linux?.timeOffsets = ["boottime": TimeOffset(secs: 10)] }),
  ]

  private func expectRefused(_ bad: BadConfig, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    try await withSandbox(sourceLocation: sourceLocation) { sb in
      let c = try sb.container()
      c.spec.process?.args = ["sleep", "100"]
      try bad.write(to: c)
      let r = await sb.runtime(["create", "--bundle", c.bundle, c.id], sourceLocation: sourceLocation)
      #expect(r.status != 0, "\(bad.name) must be refused: \(r)", sourceLocation: sourceLocation)
      #expect(!r.err.isEmpty, "the refusal must say why: \(r)", sourceLocation: sourceLocation)
      if !sb.runtime.isReference {
        #expect(
          bad.mentions.contains { r.stderr.contains($0) }, "the error must name \(bad.mentions): \(r)",
          sourceLocation: sourceLocation)
      }
      let list = await sb.runtime(["list", "--quiet"], sourceLocation: sourceLocation)
      #expect(list.out.isEmpty, "no container may remain: \(list)", sourceLocation: sourceLocation)
    }
  }

  @Test("refused at create, leaving nothing behind", arguments: rejectedByAll)
  func rejected(_ bad: BadConfig) async throws {
    try await expectRefused(bad)
  }

  @Test(
    "refused by Berth at create, leaving nothing behind", .berthOnly("runc 1.1.5 accepts these (it warns or ignores)"),
    arguments: rejectedByBerth)
  func rejectedByBerthOnly(_ bad: BadConfig) async throws {
    try await expectRefused(bad)
  }

  @Test("an entrypoint that does not exist fails create (run too), leaving nothing behind", arguments: ["create", "run"])
  func missingEntrypoint(command: String) async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      let r =
        command == "create" ? try await c.create(["/nonexistent"]) : try await c.run(["/nonexistent"])
      #expect(r.status != 0, "\(r)")
      #expect(r.stderr.contains("/nonexistent"), "the error must name the missing binary: \(r)")
      let state = await sb.runtime(["state", c.id])
      #expect(!state.succeeded, "the failed container must not exist: \(state)")
    }
  }

  @Test("an entrypoint that is not executable fails create, leaving nothing behind")
  func nonExecutableEntrypoint() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try "not a program\n".write(toFile: c.hostPath("/not-executable"), atomically: false, encoding: .utf8)
      let r = try await c.create(["/not-executable"])
      #expect(r.status != 0, "\(r)")
      #expect(!(await sb.runtime(["state", c.id])).succeeded)
    }
  }

  @Test("a bundle without config.json is refused")
  func missingConfig() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      let r = await sb.runtime(["create", "--bundle", c.bundle, c.id])
      #expect(r.status != 0, "\(r)")
      #expect(r.stderr.contains("config.json"), "\(r)")
    }
  }

  @Test("invalid container IDs are refused", arguments: ["../escape", "has/slash", "..", ""])
  func invalidID(id: String) async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try c.writeSpec()
      let r = await sb.runtime(["create", "--bundle", c.bundle, id])
      #expect(r.status != 0, "\(r)")
      let entries = (try? FileManager.default.contentsOfDirectory(atPath: sb.stateRoot)) ?? []
      #expect(entries.isEmpty, "nothing may be created for an invalid ID: \(entries)")
      #expect(!FileManager.default.fileExists(atPath: sb.dir + "/escape"), "the ID escaped the state root")
    }
  }
}
