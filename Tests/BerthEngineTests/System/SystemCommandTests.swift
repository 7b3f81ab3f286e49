import BerthOS
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `berth info`, `system df`, `system prune`, `container prune` and `version`, checked against
/// what the store holds.
@Suite(.serialized, .berthWorld)
struct SystemCommandTests {
  /// One running container with a named volume, one exited container that wrote 4 bytes,
  /// one created container with an anonymous volume.
  static func populate(_ world: BerthWorld) throws -> (running: String, exited: String, created: String) {
    let running = try world.runDetached(["--name", "up", "-v", "named:/data", "busybox", "sleep", "60"])
    try FS.write(world.root + "/volumes/named/_data/ten", "0123456789")
    let exited = try world.ok(["create", "--name", "done", "busybox", "sh", "-c", "echo abc > /written"])
      .trimmingCharacters(in: .newlines)
    try world.ok(["start", "-a", "done"])
    let created = try world.ok(["create", "--name", "idle", "--label", "tier=test", "-v", "/anon", "busybox", "true"])
      .trimmingCharacters(in: .newlines)
    return (running, exited, created)
  }

  @Test func infoCountsWhatExists() throws {
    let world = try BerthWorld()
    _ = try Self.populate(world)
    let json = try world.ok(["info", "--format", "{{json .}}"])
    let info = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    #expect(info["Containers"] as? Int == 3)
    #expect(info["ContainersRunning"] as? Int == 1)
    #expect(info["ContainersPaused"] as? Int == 0)
    #expect(info["ContainersStopped"] as? Int == 2)
    #expect(info["Images"] as? Int == 1)
    #expect(info["Driver"] as? String == "overlay2")
    #expect(info["LoggingDriver"] as? String == "json-file")
    #expect(info["CgroupDriver"] as? String == "cgroupfs")
    #expect(info["OSType"] as? String == "linux")
    #expect(info["NCPU"] as? Int == Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    #expect(info["DockerRootDir"] as? String == world.root)
    #expect(info["DefaultRuntime"] as? String == "berth-runtime")
    #expect((info["Runtimes"] as? [String: Any])?["berth-runtime"] != nil)
    let cgroupVersion = FS.exists("/sys/fs/cgroup/cgroup.controllers") ? "2" : "1"
    #expect(info["CgroupVersion"] as? String == cgroupVersion)

    let text = try world.ok(["system", "info"])
    for line in [
      " Containers: 3", "  Running: 1", "  Paused: 0", "  Stopped: 2", " Images: 1", " Storage Driver: overlay2",
      " Logging Driver: json-file", " Cgroup Driver: cgroupfs", " Cgroup Version: \(cgroupVersion)",
      " Default Runtime: berth-runtime", " OSType: linux", " Berth Root Dir: \(world.root)",
    ] {
      #expect(text.contains(line + "\n"), "info shows \(quoted(line))")
    }
    #expect(text.contains(" Backing Filesystem: "))
    #expect(try world.ok(["info", "--format", "{{.Containers}}/{{.ContainersRunning}}/{{.Images}}"]) == "3/1/1\n")
    #expect(world.finish().isEmpty)
  }

  @Test func diskUsageMatchesTheStore() throws {
    let world = try BerthWorld()
    _ = try Self.populate(world)
    let rows = try world.ok(["system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}"])
    let lines = nonEmptyLines(rows)
    #expect(lines.count == 4)
    #expect(lines[0].hasPrefix("Images|1|1|"))
    #expect(lines[0].hasSuffix("|0B (0%)"), "the image is used")
    // The exited container's layer holds "/written" (4 bytes); the others nothing.
    #expect(lines[1] == "Containers|3|1|4B|4B (100%)")
    // named (10 bytes, in use) and the anonymous volume (empty, used by "idle").
    #expect(lines[2] == "Local Volumes|2|2|10B|0B (0%)")
    #expect(lines[3] == "Build Cache|0|0|0B|0B")

    let table = try world.ok(["system", "df"])
    #expect(nonEmptyLines(table).first.map(tableCells) == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"])
    let verbose = try world.ok(["system", "df", "-v"])
    for heading in ["Images space usage:", "Containers space usage:", "Local Volumes space usage:", "Build cache usage: 0B"] {
      #expect(verbose.contains(heading))
    }
    let volumeRow = try #require(nonEmptyLines(verbose).first { $0.hasPrefix("named ") })
    #expect(tableCells(volumeRow) == ["named", "1", "10B"])
    #expect(world.finish().isEmpty)
  }

  @Test func containerPruneRemovesWhatIsNotRunning() throws {
    let world = try BerthWorld()
    let (running, exited, created) = try Self.populate(world)
    // Filters: only the labelled one, then nothing created in the future's past.
    #expect(try world.ok(["container", "prune", "-f", "--filter", "until=2000-01-01T00:00:00Z"]) == "Total reclaimed space: 0B\n")
    #expect(try world.ok(["container", "prune", "-f", "--filter", "label=tier=test"]) == "Deleted Containers:\n\(created)\n\nTotal reclaimed space: 0B\n")
    let declined = try world.run(["container", "prune"], input: Array("\n".utf8))
    #expect(declined.text == "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ")
    #expect(FS.exists(world.root + "/containers/\(exited)"))

    let pruned = try world.ok(["container", "prune"], input: Array("y\n".utf8))
    #expect(pruned.hasSuffix("[y/N] Deleted Containers:\n\(exited)\n\nTotal reclaimed space: 4B\n"))
    #expect(world.containerIDs() == [running])
    #expect(!FS.exists(world.root + "/containers/\(exited)"))
    // Its anonymous volume stays, as with Docker.
    #expect(nonEmptyLines(try world.ok(["volume", "ls", "-q"])).count == 2)
    let badFilter = try world.run(["container", "prune", "-f", "--filter", "colour=red"])
    #expect(badFilter.code == 1)
    #expect(badFilter.stderr == "Error response from daemon: invalid filter 'colour'\n")
    #expect(world.finish().isEmpty)
  }

  @Test func systemPruneRemovesStoppedContainersUnusedVolumesAndImages() throws {
    let world = try BerthWorld()
    let (running, exited, created) = try Self.populate(world)
    let anonymous = try world.ok(["volume", "ls", "-q", "--filter", "label=com.docker.volume.anonymous"]).trimmingCharacters(in: .newlines)

    let declined = try world.run(["system", "prune", "--volumes"], input: Array("no\n".utf8))
    #expect(declined.text == """
      WARNING! This will remove:
        - all stopped containers
        - all networks not used by at least one container
        - all anonymous volumes not used by at least one container
        - all dangling images
        - unused build cache

      Are you sure you want to continue? [y/N] 
      """)
    #expect(world.containerIDs().count == 3)

    let pruned = try world.ok(["system", "prune", "-f", "--volumes"])
    let removed = Set([exited, created])
    #expect(pruned.hasPrefix("Deleted Containers:\n"))
    #expect(Set(nonEmptyLines(pruned).dropFirst().prefix(2)) == removed)
    #expect(pruned.contains("\nDeleted Volumes:\n\(anonymous)\n\n"))
    #expect(pruned.hasSuffix("Total reclaimed space: 4B\n"))
    #expect(world.containerIDs() == [running])
    #expect(nonEmptyLines(try world.ok(["volume", "ls", "-q"])) == ["named"])
    // The image is in use: even -a keeps it; once its container goes, -a takes it.
    #expect(try world.ok(["system", "prune", "-f", "-a"]) == "Total reclaimed space: 0B\n")
    try world.ok(["rm", "-f", "up"])
    let all = try world.ok(["system", "prune", "-f", "-a"])
    #expect(all.hasPrefix("Deleted Images:\nuntagged: busybox:latest\ndeleted: sha256:"))
    #expect(try world.ok(["images", "-q"]).isEmpty)
    #expect(world.finish().isEmpty)
  }

  @Test func versionShowsClientServerAndRuntimes() throws {
    let world = try BerthWorld()
    let text = try world.ok(["version"])
    #expect(text.hasPrefix("Client:\n Version:           0.1.0\n"))
    #expect(text.contains("\nServer: Berth\n Engine:\n  Version:          0.1.0\n"))
    #expect(text.contains("\n berth-runtime:\n  Version:          "))
    #expect(text.contains(" OS/Arch:           linux/"))
    #expect(try world.ok(["version", "--format", "{{.Client.Version}} {{.Server.Version}} {{.Server.Os}}"]) == "0.1.0 0.1.0 linux\n")
    let json = try world.ok(["version", "--format", "{{json .}}"])
    let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    let components = try #require((object["Server"] as? [String: Any])?["Components"] as? [[String: Any]])
    #expect(components.map { $0["Name"] as? String } .contains("berth-runtime"))
    #expect(world.finish().isEmpty)
  }
}

/// Splits a table line (columns padded with at least two spaces) into its cells.
func tableCells(_ line: String) -> [String] {
  line.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}
