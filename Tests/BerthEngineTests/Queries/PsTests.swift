import BerthOS
import BerthTestSupport
import Foundation
import Testing

/// `berth ps` end to end: real containers in their own store.
@Suite("ps", .engineSandbox, .serialized)
struct PsTests {
  @Test("running containers by default, all with -a, in Docker's columns and words")
  func columnsAndStates() async throws {
    try await EngineSandbox.with { sandbox in
      let web = try await sandbox.runDetached("--name", "web", "busybox", "sleep", "100")
      try await sandbox.ok("create", "--name", "fresh", "busybox", "true")
      let failed = try await sandbox.run("run", "--name", "done", "busybox", "sh", "-c", "exit 3")
      #expect(failed.code == 3, "\(failed)")

      let running = try await sandbox.ok("ps").stdout
      #expect(running.hasPrefix("CONTAINER ID   IMAGE     COMMAND       CREATED"), "\(running)")
      // docker's tables are at least ten wide per column: an empty PORTS column too.
      #expect(running.contains("PORTS     NAMES"), "\(running)")
      let rows = tableRows(running)
      #expect(rows.count == 1, "\(running)")
      let row = rows.first ?? [:]
      #expect(row["CONTAINER ID"] == String(web.prefix(12)))
      #expect(row["IMAGE"] == "busybox")
      #expect(row["COMMAND"] == "\"sleep 100\"")
      #expect(row["CREATED"]?.hasSuffix(" ago") == true, "\(row)")
      #expect(row["STATUS"]?.hasPrefix("Up ") == true, "\(row)")
      #expect(row["NAMES"] == "web")

      // Newest first.
      let everything = tableRows(try await sandbox.ok("ps", "-a").stdout)
      #expect(everything.map { $0["NAMES"] ?? "" } == ["done", "fresh", "web"], "\(everything)")
      let done = everything.first ?? [:]
      #expect(done["STATUS"]?.hasPrefix("Exited (3) ") == true && done["STATUS"]?.hasSuffix(" ago") == true, "\(done)")
      #expect(everything.dropFirst().first?["STATUS"] == "Created")

      #expect(try await sandbox.ok("ps", "-q").stdout == String(web.prefix(12)) + "\n")
      let full = try await sandbox.ok("ps", "-a", "-q", "--no-trunc").stdout.split(separator: "\n")
      #expect(full.count == 3 && full.allSatisfy { $0.count == 64 }, "\(full)")
      #expect(full.last.map(String.init) == web)
      // -n and -l count stopped containers too.
      #expect(tableRows(try await sandbox.ok("ps", "-l").stdout).map { $0["NAMES"] ?? "" } == ["done"])
      #expect(tableRows(try await sandbox.ok("ps", "-n", "2").stdout).map { $0["NAMES"] ?? "" } == ["done", "fresh"])
    }
  }

  @Test("filters: name, label, status, exited, network, volume, before, since, ancestor, id, health")
  func filters() async throws {
    try await EngineSandbox.with { sandbox in
      let alpha = try await sandbox.runDetached("--name", "alpha", "--label", "tier=web", "busybox", "sleep", "100")
      let beta = try await sandbox.runDetached("--name", "beta", "--network", "none", "-v", "data:/data", "busybox", "sleep", "100")
      _ = try await sandbox.run("run", "--name", "gamma", "busybox", "sh", "-c", "exit 2")

      func names(_ arguments: String...) async throws -> [String] {
        try await sandbox.ok(["ps", "--format", "{{.Names}}"] + arguments).stdout.split(separator: "\n").map(String.init)
      }
      #expect(try await names("--filter", "name=alpha") == ["alpha"])
      #expect(try await names("-a", "--filter", "name=^/gam") == ["gamma"])
      #expect(try await names("--filter", "label=tier=web") == ["alpha"])
      #expect(try await names("--filter", "label=tier") == ["alpha"])
      #expect(try await names("--filter", "label=tier=db").isEmpty)
      // A status filter shows stopped containers without -a.
      #expect(try await names("--filter", "status=exited") == ["gamma"])
      #expect(try await names("--filter", "status=running", "--filter", "status=exited") == ["gamma", "beta", "alpha"])
      #expect(try await names("-a", "--filter", "exited=2") == ["gamma"])
      #expect(try await names("-a", "--filter", "exited=0").isEmpty)
      #expect(try await names("--filter", "network=none") == ["beta"])
      #expect(try await names("--filter", "network=bridge") == ["alpha"])
      #expect(try await names("--filter", "volume=data") == ["beta"])
      #expect(try await names("--filter", "volume=/data") == ["beta"])
      #expect(try await names("-a", "--filter", "before=beta") == ["alpha"])
      #expect(try await names("-a", "--filter", "since=beta") == ["gamma"])
      #expect(try await names("-a", "--filter", "ancestor=busybox") == ["gamma", "beta", "alpha"])
      #expect(try await names("--filter", "id=" + String(beta.prefix(10))) == ["beta"])
      #expect(try await names("--filter", "health=none") == ["beta", "alpha"])
      #expect(try await names("--filter", "health=healthy").isEmpty)
      // Different keys must all match.
      #expect(try await names("--filter", "status=running", "--filter", "label=tier=web") == ["alpha"])
      #expect(alpha.count == 64)

      let unknown = try await sandbox.run("ps", "--filter", "colour=blue")
      #expect(unknown.code == 1 && unknown.stderr == "Error response from daemon: invalid filter 'colour'\n", "\(unknown)")
      let badStatus = try await sandbox.run("ps", "--filter", "status=sleepy")
      #expect(badStatus.code == 1 && badStatus.stderr.contains("invalid filter 'status=sleepy'"), "\(badStatus)")
      let missing = try await sandbox.run("ps", "--filter", "before=nope")
      #expect(missing.code == 1 && missing.stderr.contains("No such container: nope"), "\(missing)")
      let malformed = try await sandbox.run("ps", "--filter", "status")
      #expect(malformed.code == 125 && malformed.stderr.contains("bad format of filter (expected name=value)"), "\(malformed)")
    }
  }

  @Test("--format, json, table templates, --no-trunc and -s sizes")
  func formatsAndSizes() async throws {
    try await EngineSandbox.with { sandbox in
      try await sandbox.ok("create", "--name", "long", "busybox", "sh", "-c", "echo a very long command line here")
      _ = try await sandbox.runDetached(
        "--name", "sized", "busybox", "sh", "-c", "busybox dd if=/dev/zero of=/big bs=1000 count=100 2>/dev/null; sleep 100")

      // docker's COMMAND: quoted, cut to 20 characters with an ellipsis.
      let long = tableRows(try await sandbox.ok("ps", "-a", "--filter", "name=long").stdout).first ?? [:]
      #expect(long["COMMAND"] == "\"sh -c echo a very l…\"", "\(long)")
      let untruncated = tableRows(try await sandbox.ok("ps", "-a", "--no-trunc", "--filter", "name=long").stdout).first ?? [:]
      #expect(untruncated["COMMAND"] == "\"sh -c echo a very long command line here\"", "\(untruncated)")
      #expect(untruncated["CONTAINER ID"]?.count == 64)

      let plain = try await sandbox.ok("ps", "--format", "{{.Names}} {{.State}} {{.Image}}").stdout
      #expect(plain == "sized running busybox\n")
      let table = try await sandbox.ok("ps", "-a", "--format", "table {{.Names}}\t{{.Status}}").stdout.split(separator: "\n")
      #expect(table.first == "NAMES     STATUS", "\(table)")
      #expect(table.count == 3)
      let json = try await sandbox.ok("ps", "--format", "json").stdout
      let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
      #expect(object?["Names"] as? String == "sized", "\(json)")
      #expect(object?["State"] as? String == "running")
      #expect((object?["Status"] as? String)?.hasPrefix("Up ") == true)

      // The writable layer holds the 100 kB file once the container wrote it.
      var size = ""
      for _ in 0..<50 {
        size = tableRows(try await sandbox.ok("ps", "-s").stdout).first?["SIZE"] ?? ""
        if size.hasPrefix("100kB") { break }
        try await Task.sleep(nanoseconds: 100_000_000)
      }
      #expect(size.hasPrefix("100kB (virtual ") && size.hasSuffix("MB)"), "\(size)")
      // A template naming .Size computes sizes without -s.
      #expect(try await sandbox.ok("ps", "--format", "{{.Size}}").stdout.hasPrefix("100kB (virtual "))
    }
  }

  @Test("a paused container reads \"Up … (Paused)\"")
  func paused() async throws {
    try await EngineSandbox.with { sandbox in
      _ = try await sandbox.runDetached("--name", "napper", "busybox", "sleep", "100")
      try await sandbox.ok("pause", "napper")
      let status = try await sandbox.ok("ps", "--format", "{{.Status}}|{{.State}}").stdout
      #expect(status.hasPrefix("Up ") && status.hasSuffix(" (Paused)|paused\n"), "\(status)")
      try await sandbox.ok("unpause", "napper")
      #expect(!(try await sandbox.ok("ps", "--format", "{{.Status}}").stdout).contains("Paused"))
    }
  }

  @Test("a healthcheck shows in STATUS and in the health filter")
  func health() async throws {
    try await EngineSandbox.with { sandbox in
      _ = try await sandbox.runDetached(
        "--name", "checked", "--health-cmd", "true", "--health-interval", "1s", "busybox", "sleep", "100")
      _ = try await sandbox.runDetached("--name", "unchecked", "busybox", "sleep", "100")
      try await sandbox.waitFor("checked", "{{.State.Health.Status}}", toBe: "healthy")
      let status = try await sandbox.ok("ps", "--filter", "name=checked", "--format", "{{.Status}}").stdout
      #expect(status.hasPrefix("Up ") && status.hasSuffix(" (healthy)\n"), "\(status)")
      #expect(try await sandbox.ok("ps", "--filter", "health=healthy", "--format", "{{.Names}}").stdout == "checked\n")
      #expect(try await sandbox.ok("ps", "--filter", "health=none", "--format", "{{.Names}}").stdout == "unchecked\n")
    }
  }
}
