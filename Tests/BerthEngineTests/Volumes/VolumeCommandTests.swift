import BerthOS
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `berth volume …` end to end, through the berth binary with real containers.
@Suite(.serialized, .engineSandbox)
struct VolumeCommandTests {
  @Test func createListInspectRemove() async throws {
    try await EngineSandbox.with { sandbox in
      #expect(try await sandbox.ok(["volume", "create", "first"]).stdout == "first\n")
      #expect(try await sandbox.ok(["volume", "create", "--name", "second", "--label", "team=db", "--label", "bare"]).stdout == "second\n")
      let random = try await sandbox.ok(["volume", "create"]).trimmed
      #expect(random.count == 64)

      #expect(try await sandbox.ok(["volume", "ls"]).lines == ["DRIVER   VOLUME NAME", "local    \(random)", "local    first", "local    second"])
      #expect(try await sandbox.ok(["volume", "ls", "-q", "--filter", "label=team=db"]).lines == ["second"])
      #expect(try await sandbox.ok(["volume", "ls", "-q", "--filter", "name=fir"]).lines == ["first"])
      #expect(try await sandbox.ok(["volume", "ls", "--filter", "name=second", "--format", "{{.Name}}|{{.Driver}}|{{.Labels}}"]).stdout == "second|local|bare=,team=db\n")

      let inspected = try await sandbox.ok(["volume", "inspect", "second"]).stdout
      let objects = try #require(try JSONSerialization.jsonObject(with: Data(inspected.utf8)) as? [[String: Any]])
      #expect(objects.count == 1)
      let object = try #require(objects.first)
      #expect(Set(object.keys) == ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"])
      #expect(object["Name"] as? String == "second")
      #expect(object["Driver"] as? String == "local")
      #expect(object["Scope"] as? String == "local")
      #expect(object["Mountpoint"] as? String == sandbox.root + "/volumes/second/_data")
      #expect(object["Labels"] as? [String: String] == ["team": "db", "bare": ""])
      #expect(inspected.contains("\n    {\n        \"CreatedAt\""), "Docker's four-space indentation")
      #expect(try await sandbox.ok(["volume", "inspect", "-f", "{{.Name}} {{.Mountpoint}}", "first"]).stdout == "first \(sandbox.root)/volumes/first/_data\n")

      let missing = try await sandbox.run(["volume", "inspect", "first", "nope"])
      #expect(missing.code == 1)
      #expect(missing.stderr.contains("No such volume: nope"))

      let conflicting = try await sandbox.run(["volume", "create", "--name", "a1", "b1"])
      #expect(conflicting.code == 125)
      #expect(conflicting.stderr.contains("conflicting options: either specify --name or provide positional arg, not both"))
      let badName = try await sandbox.run(["volume", "create", "no/slash"])
      #expect(badName.code == 1)
      #expect(badName.stderr.hasPrefix("Error response from daemon: create no/slash: \"no/slash\" includes invalid characters"))

      #expect(try await sandbox.ok(["volume", "rm", "first", random]).stdout == "first\n\(random)\n")
      let gone = try await sandbox.run(["volume", "rm", "first"])
      #expect(gone.code == 1)
      #expect(gone.stderr == "Error response from daemon: get first: no such volume\n")
      #expect(try await sandbox.ok(["volume", "rm", "-f", "first", "second"]).stdout == "first\nsecond\n")
      #expect(try await sandbox.ok(["volume", "ls", "-q"]).stdout.isEmpty)
      #expect(!FS.exists(sandbox.root + "/volumes/second"))
    }
  }

  @Test func aVolumeInUseIsNotRemoved() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached(["--name", "holder", "-v", "kept:/data", "busybox", "sleep", "60"])
      for flags in [["volume", "rm"], ["volume", "rm", "-f"]] {
        let refused = try await sandbox.run(flags + ["kept"])
        #expect(refused.code == 1)
        #expect(refused.stderr == "Error response from daemon: remove kept: volume is in use - [\(id)]\n")
      }
      #expect(try await sandbox.ok(["volume", "ls", "-q", "--filter", "dangling=false"]).lines == ["kept"])
      #expect(try await sandbox.ok(["volume", "ls", "-q", "--filter", "dangling=true"]).stdout.isEmpty)
      // Neither prune takes it while the container exists, running or not.
      #expect(try await sandbox.ok(["volume", "prune", "-a", "-f"]).stdout == "Total reclaimed space: 0B\n")
      try await sandbox.ok(["stop", "-t", "0", "holder"])
      #expect(try await sandbox.ok(["volume", "prune", "-a", "-f"]).stdout == "Total reclaimed space: 0B\n")
      try await sandbox.ok(["rm", "holder"])
      #expect(try await sandbox.ok(["volume", "rm", "kept"]).stdout == "kept\n")
    }
  }

  @Test func dataOutlivesTheContainers() async throws {
    try await EngineSandbox.with { sandbox in
      try await sandbox.ok(["run", "--rm", "-v", "notes:/data", "busybox", "sh", "-c", "echo remembered > /data/note"])
      #expect(try await sandbox.ok(["volume", "ls", "-q"]).stdout == "notes\n")
      #expect(try FS.readText(sandbox.root + "/volumes/notes/_data/note") == "remembered\n")
      #expect(try await sandbox.ok(["run", "--rm", "-v", "notes:/mnt", "busybox", "cat", "/mnt/note"]).stdout == "remembered\n")
      // Two containers at once see each other's writes.
      try await sandbox.runDetached(["--name", "writer", "-v", "notes:/data", "busybox", "sleep", "60"])
      try await sandbox.ok(["exec", "writer", "sh", "-c", "echo shared > /data/live"])
      #expect(try await sandbox.ok(["run", "--rm", "-v", "notes:/data:ro", "busybox", "cat", "/data/live"]).stdout == "shared\n")
      try await sandbox.ok(["rm", "-f", "writer"])
    }
  }

  @Test func tmpfsVolumeOptions() async throws {
    try await EngineSandbox.with { sandbox in
      try await sandbox.ok(["volume", "create", "-d", "local", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=64m,uid=1000", "scratch"])
      let inspected = try await sandbox.ok(["volume", "inspect", "-f", "{{json .Options}}", "scratch"]).stdout
      #expect(inspected == "{\"device\":\"tmpfs\",\"o\":\"size=64m,uid=1000\",\"type\":\"tmpfs\"}\n")
      let mountpoint = sandbox.root + "/volumes/scratch/_data"
      #expect(!sandbox.mountPoints.contains(mountpoint), "mounted only while a container uses it")

      try await sandbox.runDetached(["--name", "user", "-v", "scratch:/scratch", "busybox", "sleep", "60"])
      let mounts = try await sandbox.ok(["exec", "user", "cat", "/proc/mounts"]).stdout
      let line = try #require(mounts.split(separator: "\n").first { $0.contains(" /scratch ") })
      #expect(line.hasPrefix("tmpfs /scratch tmpfs "))
      #expect(line.contains("size=65536k"))
      #expect(line.contains("uid=1000"))
      #expect(sandbox.mountPoints.contains(mountpoint))
      try await sandbox.ok(["exec", "user", "sh", "-c", "echo in-memory > /scratch/f"])
      #expect(try FS.readText(mountpoint + "/f") == "in-memory\n")

      // The last user gone, the tmpfs goes, and its content with it.
      try await sandbox.ok(["rm", "-f", "user"])
      #expect(!sandbox.mountPoints.contains(mountpoint))
      #expect(!FS.exists(mountpoint + "/f"))
      let bad = try await sandbox.run(["volume", "create", "-o", "type=tmpfs", "nodevice"])
      #expect(bad.code == 1)
      #expect(bad.stderr.contains("missing required option: \"device\""))
    }
  }

  @Test func pruneTakesAnonymousVolumesUnlessAll() async throws {
    try await EngineSandbox.with { sandbox in
      try await sandbox.ok(["volume", "create", "named"])
      try await sandbox.ok(["volume", "create", "--label", "keep=yes", "labelled"])
      try FS.write(sandbox.root + "/volumes/named/_data/blob", Array(repeating: UInt8(ascii: "x"), count: 1500))
      // An anonymous volume (-v /path) of a removed container.
      let id = try await sandbox.ok(["create", "-v", "/anon", "busybox", "true"]).trimmed
      let anonymous = try await sandbox.ok(["volume", "ls", "-q", "--filter", "label=com.docker.volume.anonymous"]).trimmed
      #expect(anonymous.count == 64)
      try FS.write(sandbox.root + "/volumes/\(anonymous)/_data/f", Array("12345".utf8))
      try await sandbox.ok(["rm", id])

      // Declined: nothing goes.
      let declined = try await sandbox.run(["volume", "prune"], input: Array("n\n".utf8))
      #expect(declined.code == 0)
      #expect(declined.stdout == "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ")
      #expect(try await sandbox.ok(["volume", "ls", "-q"]).lines.count == 3)

      let pruned = try await sandbox.run(["volume", "prune"], input: Array("y\n".utf8))
      #expect(pruned.code == 0)
      #expect(pruned.stdout.hasSuffix("[y/N] Deleted Volumes:\n\(anonymous)\n\nTotal reclaimed space: 5B\n"))
      #expect(try await sandbox.ok(["volume", "ls", "-q"]).lines == ["labelled", "named"])

      #expect(try await sandbox.ok(["volume", "prune", "-f", "-a", "--filter", "label!=keep"]).stdout == "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 1.5kB\n")
      #expect(try await sandbox.ok(["volume", "ls", "-q"]).lines == ["labelled"])
    }
  }
}
