import BerthOS
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `berth volume …` end to end, through the berth binary with real containers.
@Suite(.serialized, .berthWorld)
struct VolumeCommandTests {
  @Test func createListInspectRemove() throws {
    let world = try BerthWorld()
    #expect(try world.ok(["volume", "create", "first"]) == "first\n")
    #expect(try world.ok(["volume", "create", "--name", "second", "--label", "team=db", "--label", "bare"]) == "second\n")
    let random = try world.ok(["volume", "create"]).trimmingCharacters(in: .newlines)
    #expect(random.count == 64)

    #expect(nonEmptyLines(try world.ok(["volume", "ls"])) == ["DRIVER   VOLUME NAME", "local    \(random)", "local    first", "local    second"])
    #expect(nonEmptyLines(try world.ok(["volume", "ls", "-q", "--filter", "label=team=db"])) == ["second"])
    #expect(nonEmptyLines(try world.ok(["volume", "ls", "-q", "--filter", "name=fir"])) == ["first"])
    #expect(try world.ok(["volume", "ls", "--filter", "name=second", "--format", "{{.Name}}|{{.Driver}}|{{.Labels}}"]) == "second|local|bare=,team=db\n")

    let inspected = try world.ok(["volume", "inspect", "second"])
    let objects = try #require(try JSONSerialization.jsonObject(with: Data(inspected.utf8)) as? [[String: Any]])
    #expect(objects.count == 1)
    let object = try #require(objects.first)
    #expect(Set(object.keys) == ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"])
    #expect(object["Name"] as? String == "second")
    #expect(object["Driver"] as? String == "local")
    #expect(object["Scope"] as? String == "local")
    #expect(object["Mountpoint"] as? String == world.root + "/volumes/second/_data")
    #expect(object["Labels"] as? [String: String] == ["team": "db", "bare": ""])
    #expect(inspected.contains("\n    {\n        \"CreatedAt\""), "Docker's four-space indentation")
    #expect(try world.ok(["volume", "inspect", "-f", "{{.Name}} {{.Mountpoint}}", "first"]) == "first \(world.root)/volumes/first/_data\n")

    let missing = try world.run(["volume", "inspect", "first", "nope"])
    #expect(missing.code == 1)
    #expect(missing.stderr.contains("No such volume: nope"))

    let conflicting = try world.run(["volume", "create", "--name", "a1", "b1"])
    #expect(conflicting.code == 125)
    #expect(conflicting.stderr.contains("conflicting options: either specify --name or provide positional arg, not both"))
    let badName = try world.run(["volume", "create", "no/slash"])
    #expect(badName.code == 1)
    #expect(badName.stderr.hasPrefix("Error response from daemon: create no/slash: \"no/slash\" includes invalid characters"))

    #expect(try world.ok(["volume", "rm", "first", random]) == "first\n\(random)\n")
    let gone = try world.run(["volume", "rm", "first"])
    #expect(gone.code == 1)
    #expect(gone.stderr == "Error response from daemon: get first: no such volume\n")
    #expect(try world.ok(["volume", "rm", "-f", "first", "second"]) == "first\nsecond\n")
    #expect(try world.ok(["volume", "ls", "-q"]).isEmpty)
    #expect(!FS.exists(world.root + "/volumes/second"))
    #expect(world.finish().isEmpty)
  }

  @Test func aVolumeInUseIsNotRemoved() throws {
    let world = try BerthWorld()
    let id = try world.runDetached(["--name", "holder", "-v", "kept:/data", "busybox", "sleep", "60"])
    for flags in [["volume", "rm"], ["volume", "rm", "-f"]] {
      let refused = try world.run(flags + ["kept"])
      #expect(refused.code == 1)
      #expect(refused.stderr == "Error response from daemon: remove kept: volume is in use - [\(id)]\n")
    }
    #expect(nonEmptyLines(try world.ok(["volume", "ls", "-q", "--filter", "dangling=false"])) == ["kept"])
    #expect(try world.ok(["volume", "ls", "-q", "--filter", "dangling=true"]).isEmpty)
    // Neither prune takes it while the container exists, running or not.
    #expect(try world.ok(["volume", "prune", "-a", "-f"]) == "Total reclaimed space: 0B\n")
    try world.ok(["stop", "-t", "0", "holder"])
    #expect(try world.ok(["volume", "prune", "-a", "-f"]) == "Total reclaimed space: 0B\n")
    try world.ok(["rm", "holder"])
    #expect(try world.ok(["volume", "rm", "kept"]) == "kept\n")
    #expect(world.finish().isEmpty)
  }

  @Test func dataOutlivesTheContainers() throws {
    let world = try BerthWorld()
    try world.ok(["run", "--rm", "-v", "notes:/data", "busybox", "sh", "-c", "echo remembered > /data/note"])
    #expect(try world.ok(["volume", "ls", "-q"]) == "notes\n")
    #expect(try FS.readText(world.root + "/volumes/notes/_data/note") == "remembered\n")
    #expect(try world.ok(["run", "--rm", "-v", "notes:/mnt", "busybox", "cat", "/mnt/note"]) == "remembered\n")
    // Two containers at once see each other's writes.
    try world.runDetached(["--name", "writer", "-v", "notes:/data", "busybox", "sleep", "60"])
    try world.ok(["exec", "writer", "sh", "-c", "echo shared > /data/live"])
    #expect(try world.ok(["run", "--rm", "-v", "notes:/data:ro", "busybox", "cat", "/data/live"]) == "shared\n")
    try world.ok(["rm", "-f", "writer"])
    #expect(world.finish().isEmpty)
  }

  @Test func tmpfsVolumeOptions() throws {
    let world = try BerthWorld()
    try world.ok(["volume", "create", "-d", "local", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=64m,uid=1000", "scratch"])
    let inspected = try world.ok(["volume", "inspect", "-f", "{{json .Options}}", "scratch"])
    #expect(inspected == "{\"device\":\"tmpfs\",\"o\":\"size=64m,uid=1000\",\"type\":\"tmpfs\"}\n")
    let mountpoint = world.root + "/volumes/scratch/_data"
    #expect(!world.mounts().contains(mountpoint), "mounted only while a container uses it")

    try world.runDetached(["--name", "user", "-v", "scratch:/scratch", "busybox", "sleep", "60"])
    let mounts = try world.ok(["exec", "user", "cat", "/proc/mounts"])
    let line = try #require(mounts.split(separator: "\n").first { $0.contains(" /scratch ") })
    #expect(line.hasPrefix("tmpfs /scratch tmpfs "))
    #expect(line.contains("size=65536k"))
    #expect(line.contains("uid=1000"))
    #expect(world.mounts().contains(mountpoint))
    try world.ok(["exec", "user", "sh", "-c", "echo in-memory > /scratch/f"])
    #expect(try FS.readText(mountpoint + "/f") == "in-memory\n")

    // The last user gone, the tmpfs goes, and its content with it.
    try world.ok(["rm", "-f", "user"])
    #expect(!world.mounts().contains(mountpoint))
    #expect(!FS.exists(mountpoint + "/f"))
    let bad = try world.run(["volume", "create", "-o", "type=tmpfs", "nodevice"])
    #expect(bad.code == 1)
    #expect(bad.stderr.contains("missing required option: \"device\""))
    #expect(world.finish().isEmpty)
  }

  @Test func pruneTakesAnonymousVolumesUnlessAll() throws {
    let world = try BerthWorld()
    try world.ok(["volume", "create", "named"])
    try world.ok(["volume", "create", "--label", "keep=yes", "labelled"])
    try FS.write(world.root + "/volumes/named/_data/blob", Array(repeating: UInt8(ascii: "x"), count: 1500))
    // An anonymous volume (-v /path) of a removed container.
    let id = try world.ok(["create", "-v", "/anon", "busybox", "true"]).trimmingCharacters(in: .newlines)
    let anonymous = try world.ok(["volume", "ls", "-q", "--filter", "label=com.docker.volume.anonymous"])
      .trimmingCharacters(in: .newlines)
    #expect(anonymous.count == 64)
    try FS.write(world.root + "/volumes/\(anonymous)/_data/f", Array("12345".utf8))
    try world.ok(["rm", id])

    // Declined: nothing goes.
    let declined = try world.run(["volume", "prune"], input: Array("n\n".utf8))
    #expect(declined.code == 0)
    #expect(declined.text == "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ")
    #expect(nonEmptyLines(try world.ok(["volume", "ls", "-q"])).count == 3)

    let pruned = try world.run(["volume", "prune"], input: Array("y\n".utf8))
    #expect(pruned.code == 0)
    #expect(pruned.text.hasSuffix("[y/N] Deleted Volumes:\n\(anonymous)\n\nTotal reclaimed space: 5B\n"))
    #expect(nonEmptyLines(try world.ok(["volume", "ls", "-q"])) == ["labelled", "named"])

    #expect(try world.ok(["volume", "prune", "-f", "-a", "--filter", "label!=keep"]) == "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 1.5kB\n")
    #expect(nonEmptyLines(try world.ok(["volume", "ls", "-q"])) == ["labelled"])
    #expect(world.finish().isEmpty)
  }
}
