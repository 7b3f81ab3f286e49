import BerthOS
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `berth update`: limits reach the running container's cgroup at once, and stay for the next
/// start (record and spec).
@Suite(.serialized, .engineSandbox)
struct UpdateCommandTests {
  /// The container's memory limit as its cgroup says: memory.limit_in_bytes on v1 and hybrid
  /// hosts, memory.max on v2.
  static func memoryLimit(_ id: String) throws -> String {
    let v1 = "/sys/fs/cgroup/memory/berth/\(id)/memory.limit_in_bytes"
    if FS.exists(v1) { return try FS.readText(v1, trimmingNewline: true) }
    return try FS.readText("/sys/fs/cgroup/berth/\(id)/memory.max", trimmingNewline: true)
  }

  static func pidsLimit(_ id: String) throws -> String {
    let v1 = "/sys/fs/cgroup/pids/berth/\(id)/pids.max"
    if FS.exists(v1) { return try FS.readText(v1, trimmingNewline: true) }
    return try FS.readText("/sys/fs/cgroup/berth/\(id)/pids.max", trimmingNewline: true)
  }

  /// The memory and pids limits the bundle's config.json holds.
  static func specLimits(_ sandbox: EngineSandbox, _ id: String) throws -> (memory: Int64?, pids: Int64?) {
    let data = try Data(FS.read(sandbox.root + "/containers/\(id)/config.json"))
    let spec = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    let resources = (spec["linux"] as? [String: Any])?["resources"] as? [String: Any]
    let memory = (resources?["memory"] as? [String: Any])?["limit"] as? NSNumber
    let pids = (resources?["pids"] as? [String: Any])?["limit"] as? NSNumber
    return (memory?.int64Value, pids?.int64Value)
  }

  @Test func updatesARunningContainerAndKeepsTheLimitsForTheNextStart() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached(["--name", "box", "busybox", "sleep", "60"])
      let unlimited = try Self.memoryLimit(id)
      #expect(unlimited == "max" || (Int64(unlimited) ?? 0) > 1 << 40)

      #expect(try await sandbox.ok(["update", "--memory", "64m", "--pids-limit", "50", "box"]).stdout == "box\n")
      #expect(try Self.memoryLimit(id) == String(64 << 20))
      #expect(try Self.pidsLimit(id) == "50")
      #expect(try Self.specLimits(sandbox, id) == (64 << 20, 50))

      // A second change by ID prefix, then a restart: the new cgroup has the last values.
      #expect(try await sandbox.ok(["update", "-m", "48m", String(id.prefix(12))]).stdout == "\(id.prefix(12))\n")
      #expect(try Self.memoryLimit(id) == String(48 << 20))
      try await sandbox.ok(["restart", "-t", "0", "box"])
      #expect(try Self.memoryLimit(id) == String(48 << 20))
      #expect(try Self.pidsLimit(id) == "50")
    }
  }

  @Test func updatesAStoppedContainerForItsNextStart() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.ok(["create", "--name", "later", "busybox", "sleep", "60"]).trimmed
      #expect(try await sandbox.ok(["update", "--memory", "32m", "--restart", "on-failure:3", "later"]).stdout == "later\n")
      #expect(try Self.specLimits(sandbox, id).memory == 32 << 20)
      try await sandbox.ok(["start", "later"])
      #expect(try Self.memoryLimit(id) == String(32 << 20))
    }
  }

  @Test func refusesWhatDockerRefuses() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached(["--name", "box", "-m", "32m", "busybox", "sleep", "60"])
      let tooSmall = try await sandbox.run(["update", "--memory", "4m", "box"])
      #expect(tooSmall.code == 1)
      #expect(tooSmall.stderr == "Error response from daemon: Minimum memory limit allowed is 6MB\n")
      // -m 32m gave a 64m memory+swap limit: a larger memory limit needs a larger one too.
      let aboveSwap = try await sandbox.run(["update", "--memory", "100m", "box"])
      #expect(aboveSwap.code == 1)
      #expect(aboveSwap.stderr.contains("Memory limit should be smaller than already set memoryswap limit"))
      #expect(try Self.memoryLimit(id) == String(32 << 20), "nothing changed")
      #expect(try await sandbox.ok(["update", "--memory", "100m", "--memory-swap", "200m", "box"]).stdout == "box\n")
      #expect(try Self.memoryLimit(id) == String(100 << 20))

      let noFlags = try await sandbox.run(["update", "box"])
      #expect(noFlags.code == 125)
      #expect(noFlags.stderr.contains("you must provide one or more flags when using this command"))
      let badSize = try await sandbox.run(["update", "--memory", "lots", "box"])
      #expect(badSize.code == 125)
      #expect(badSize.stderr.contains("invalid argument \"lots\" for \"-m, --memory\" flag"))
      let unknown = try await sandbox.run(["update", "--memory", "64m", "nobox"])
      #expect(unknown.code == 1)
      #expect(unknown.stderr == "Error response from daemon: No such container: nobox\n")
      let autoRemove = try await sandbox.runDetached(["--rm", "busybox", "sleep", "60"])
      let restart = try await sandbox.run(["update", "--restart", "always", autoRemove])
      #expect(restart.code == 1)
      #expect(restart.stderr.contains("Restart policy cannot be updated because AutoRemove is enabled for the container"))
    }
  }
}
