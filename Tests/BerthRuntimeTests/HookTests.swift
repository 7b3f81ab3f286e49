import BerthOCI
import Foundation
import Testing

/// Lifecycle hooks: when each kind runs, what it gets on stdin, and failures.
@Suite("Hooks", .needsRoot)
struct HookTests {
  static let kinds = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]

  /// A hook that records its stdin, its order and its environment in `log`, a host directory
  /// bind-mounted at the same path in the container so that hooks running in either mount
  /// namespace (before or after pivot_root) write to the same place. /bin/sh exists on the host
  /// and in the busybox rootfs.
  static func recordingHook(_ kind: String, log: String) -> Hook {
    Hook(
      path: "/bin/sh",
      args: ["sh", "-c", "cat > \(log)/\(kind).json; echo \(kind) >> \(log)/order; echo \"$HOOK_KIND\" > \(log)/\(kind).env"],
      env: ["HOOK_KIND=\(kind)", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
  }

  static func hooks(_ make: (String) -> Hook) -> Hooks {
    Hooks(
      prestart: [make("prestart")], createRuntime: [make("createRuntime")], createContainer: [make("createContainer")],
      startContainer: [make("startContainer")], poststart: [make("poststart")], poststop: [make("poststop")])
  }

  @Test("every hook kind runs once, in order, with the state on stdin")
  func allHooks() async throws {
    try await withSandbox { sb in
      let log = try sb.makeDirectory("hooklog")
      let c = try sb.container()
      c.spec.mounts?.append(Mount(destination: log, type: "bind", source: log, options: ["rbind", "rw"]))
      c.spec.hooks = Self.hooks { Self.recordingHook($0, log: log) }
      let order = { (readText(log + "/order") ?? "").split(separator: "\n").map(String.init) }

      try requireSuccess(try await c.create(["sh", "-c", "echo main >> \(log)/order"]), "create")
      var afterCreate = order()
      if sb.runtime.isReference {
        // runc 1.1.5 runs poststart hooks at create (fixed in runc 1.2); the spec says at start.
        afterCreate.removeAll { $0 == "poststart" }
      }
      #expect(afterCreate == ["prestart", "createRuntime", "createContainer"], "hooks run by create: \(order())")
      let pid = try await c.pid()

      expectSuccess(await c.start(), "start")
      #expect(try await c.waitFor(.stopped))
      #expect(await eventually { order().count == 6 }, "\(order())")
      let afterStart = order()
      #expect(
        afterStart.filter { $0 != "poststart" } == ["prestart", "createRuntime", "createContainer", "startContainer", "main"],
        "\(afterStart)")
      #expect(afterStart.contains("poststart"))
      let index = { (name: String) in afterStart.firstIndex(of: name) ?? -1 }
      #expect(index("startContainer") < index("main"), "startContainer runs before the user's process: \(afterStart)")
      if !sb.runtime.isReference {
        // runc 1.1.5 runs poststart concurrently with startContainer (it does not wait for the exec).
        #expect(index("startContainer") < index("poststart"), "poststart runs after the process started: \(afterStart)")
      }

      expectSuccess(await c.delete(), "delete")
      #expect(order().last == "poststop", "poststop runs at delete: \(order())")
      #expect(order().count == 7, "each hook exactly once: \(order())")

      for kind in Self.kinds {
        #expect(readText("\(log)/\(kind).env") == kind, "\(kind) hook's env")
        let text = readText("\(log)/\(kind).json") ?? ""
        let state = try? JSONDecoder().decode(ContainerState.self, from: Data(text.utf8))
        #expect(state != nil, "\(kind) stdin is not a state: \(text)")
        guard let state else { continue }
        #expect(state.id == c.id, "\(kind): \(text)")
        #expect(state.bundle == c.bundle, "\(kind): \(text)")
        switch kind {
        case "prestart", "createRuntime":
          #expect(state.status == .creating, "\(kind): \(text)")
          #expect(state.pid == pid, "\(kind) runs in the runtime namespace, with the host pid: \(text)")
        case "createContainer":
          #expect(state.status == .creating, "\(kind): \(text)")
          #expect((state.pid ?? 0) > 0, "\(kind): \(text)")
        case "startContainer":
          #expect(state.status == .created, "\(kind): \(text)")
          #expect((state.pid ?? 0) > 0, "\(kind): \(text)")
        case "poststart":
          #expect(state.status == .created || state.status == .running, "\(kind): \(text)")
          #expect(state.pid == pid, "\(kind): \(text)")
        default:
          #expect(state.status == .stopped, "\(kind): \(text)")
        }
      }
    }
  }

  @Test("hook args (argv[0] included) and env are passed exactly")
  func hookArgs() async throws {
    try await withSandbox { sb in
      let log = try sb.makeDirectory("hooklog")
      let c = try sb.container()
      c.spec.hooks = Hooks(createRuntime: [
        Hook(
          path: "/bin/sh",
          args: [
            "custom-argv0", "-c",
            "echo \"$0|$1|$2|$ONLY_VAR\" > \(log)/args; tr '\\0' ' ' < /proc/$$/cmdline > \(log)/cmdline; env > \(log)/env",
            "zero", "one", "two words",
          ],
          env: ["ONLY_VAR=set"])
      ])
      expectSuccess(try await c.run(["true"]))
      #expect(readText(log + "/args") == "zero|one|two words|set")
      #expect(readText(log + "/cmdline")?.hasPrefix("custom-argv0 -c ") == true, "args[0] is argv[0]: \(readText(log + "/cmdline") ?? "")")
      let env = (readText(log + "/env") ?? "").split(separator: "\n").map { $0.prefix { $0 != "=" } }
      #expect(!env.contains("LANG"), "the runtime's environment must not leak into hooks: \(env)")
    }
  }

  @Test(
    "a failing create-time hook makes create fail and leaves nothing behind",
    arguments: ["prestart", "createRuntime", "createContainer"])
  func failingHook(kind: String) async throws {
    try await withSandbox { sb in
      let log = try sb.makeDirectory("hooklog")
      let c = try sb.container()
      let failing = Hook(path: "/bin/sh", args: ["sh", "-c", "echo ran > \(log)/ran; exit 3"])
      switch kind {
      case "prestart": c.spec.hooks = Hooks(prestart: [failing])
      case "createRuntime": c.spec.hooks = Hooks(createRuntime: [failing])
      default: c.spec.hooks = Hooks(createContainer: [failing])
      }
      c.spec.mounts?.append(Mount(destination: log, type: "bind", source: log, options: ["rbind", "rw"]))
      let r = try await c.create(["sleep", "100"])
      #expect(readText(log + "/ran") == "ran", "the hook should have run")
      #expect(!r.succeeded, "create must fail when a \(kind) hook fails: \(r)")
      #expect(!r.err.isEmpty)
      let state = await sb.runtime(["state", c.id])
      #expect(!state.succeeded, "no container may remain: \(state)")
      let list = await sb.runtime(["list", "--quiet"])
      #expect(list.out.isEmpty, "\(list)")
    }
  }

  @Test("a hook that outlives its timeout fails create, and is killed")
  func hookTimeout() async throws {
    try await withSandbox { sb in
      let log = try sb.makeDirectory("hooklog")
      let c = try sb.container()
      c.spec.hooks = Hooks(createRuntime: [
        Hook(path: "/bin/sh", args: ["sh", "-c", "echo $$ > \(log)/pid; exec sleep 30"], timeout: 1)
      ])
      let r = try await c.create(["sleep", "100"])
      #expect(!r.succeeded, "\(r)")
      #expect(r.duration < 10, "create must give up after the 1 s timeout, took \(r.duration) s")
      #expect(!r.err.isEmpty)
      if let hookPid = readText(log + "/pid").flatMap({ Int($0) }) {
        #expect(await eventually { processIsGone(hookPid) }, "the timed-out hook must be killed")
      } else {
        Issue.record("the hook never ran")
      }
    }
  }

  @Test("poststop runs when a container that ran to completion is deleted by run")
  func poststopAfterRun() async throws {
    try await withSandbox { sb in
      let log = try sb.makeDirectory("hooklog")
      let c = try sb.container()
      c.spec.hooks = Hooks(poststop: [Self.recordingHook("poststop", log: log)])
      expectSuccess(try await c.run(["true"]))
      let state = try JSONDecoder().decode(ContainerState.self, from: Data((readText(log + "/poststop.json") ?? "").utf8))
      #expect(state.id == c.id && state.status == .stopped)
    }
  }
}
