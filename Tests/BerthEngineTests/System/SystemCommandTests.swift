import BerthOS
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `berth info`, `system df`, `system prune`, `container prune` and `version`, checked against
/// what the store holds.
@Suite(.serialized, .engineSandbox)
struct SystemCommandTests {
  /// One running container with a named volume, one exited container that wrote 4 bytes,
  /// one created container with an anonymous volume. The named volume goes where the image
  /// has nothing (its /data has a file), so that it holds only what this writes.
  static func populate(_ sandbox: EngineSandbox) async throws -> (running: String, exited: String, created: String) {
    let running = try await sandbox.runDetached(["--name", "up", "-v", "named:/named", "busybox", "sleep", "60"])
    try FS.write(sandbox.root + "/volumes/named/_data/ten", "0123456789")
    let exited = try await sandbox.ok(["create", "--name", "done", "busybox", "sh", "-c", "echo abc > /written"]).trimmed
    try await sandbox.ok(["start", "-a", "done"])
    let created = try await sandbox.ok(["create", "--name", "idle", "--label", "tier=test", "-v", "/anon", "busybox", "true"]).trimmed
    return (running, exited, created)
  }

  @Test func infoCountsWhatExists() async throws {
    try await EngineSandbox.with { sandbox in
      _ = try await Self.populate(sandbox)
      let json = try await sandbox.ok(["info", "--format", "{{json .}}"]).stdout
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
      #expect(info["DockerRootDir"] as? String == sandbox.root)
      #expect(info["DefaultRuntime"] as? String == "berth-runtime")
      #expect((info["Runtimes"] as? [String: Any])?["berth-runtime"] != nil)
      let cgroupVersion = FS.exists("/sys/fs/cgroup/cgroup.controllers") ? "2" : "1"
      #expect(info["CgroupVersion"] as? String == cgroupVersion)

      let text = try await sandbox.ok(["system", "info"]).stdout
      for line in [
        " Containers: 3", "  Running: 1", "  Paused: 0", "  Stopped: 2", " Images: 1", " Storage Driver: overlay2",
        " Logging Driver: json-file", " Cgroup Driver: cgroupfs", " Cgroup Version: \(cgroupVersion)",
        " Default Runtime: berth-runtime", " OSType: linux", " Berth Root Dir: \(sandbox.root)",
      ] {
        #expect(text.contains(line + "\n"), "info shows \(quoted(line))")
      }
      #expect(text.contains(" Backing Filesystem: "))
      #expect(try await sandbox.ok(["info", "--format", "{{.Containers}}/{{.ContainersRunning}}/{{.Images}}"]).stdout == "3/1/1\n")
    }
  }

  @Test func diskUsageMatchesTheStore() async throws {
    try await EngineSandbox.with { sandbox in
      _ = try await Self.populate(sandbox)
      let lines = try await sandbox.ok(["system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}"]).lines
      #expect(lines.count == 4)
      #expect(lines[0].hasPrefix("Images|1|1|"))
      #expect(lines[0].hasSuffix("|0B (0%)"), "the image is used")
      // The exited container's layer holds "/written" (4 bytes); the others nothing.
      #expect(lines[1] == "Containers|3|1|4B|4B (100%)")
      // named (10 bytes, in use) and the anonymous volume (empty, used by "idle").
      #expect(lines[2] == "Local Volumes|2|2|10B|0B (0%)")
      #expect(lines[3] == "Build Cache|0|0|0B|0B")

      let table = try await sandbox.ok(["system", "df"])
      #expect(table.lines.first.map(tableCells) == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"])
      let verbose = try await sandbox.ok(["system", "df", "-v"])
      for heading in ["Images space usage:", "Containers space usage:", "Local Volumes space usage:", "Build cache usage: 0B"] {
        #expect(verbose.stdout.contains(heading))
      }
      let volumeRow = try #require(verbose.lines.first { $0.hasPrefix("named ") })
      #expect(tableCells(volumeRow) == ["named", "1", "10B"])
    }
  }

  @Test func containerPruneRemovesWhatIsNotRunning() async throws {
    try await EngineSandbox.with { sandbox in
      let (running, exited, created) = try await Self.populate(sandbox)
      // Filters: only the labelled one, then nothing created in the future's past.
      #expect(try await sandbox.ok(["container", "prune", "-f", "--filter", "until=2000-01-01T00:00:00Z"]).stdout == "Total reclaimed space: 0B\n")
      #expect(try await sandbox.ok(["container", "prune", "-f", "--filter", "label=tier=test"]).stdout == "Deleted Containers:\n\(created)\n\nTotal reclaimed space: 0B\n")
      let declined = try await sandbox.run(["container", "prune"], input: Array("\n".utf8))
      #expect(declined.stdout == "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ")
      #expect(FS.exists(sandbox.root + "/containers/\(exited)"))

      let pruned = try await sandbox.ok(["container", "prune"], input: Array("y\n".utf8)).stdout
      #expect(pruned.hasSuffix("[y/N] Deleted Containers:\n\(exited)\n\nTotal reclaimed space: 4B\n"))
      #expect(sandbox.containerDirectories == [running])
      #expect(!FS.exists(sandbox.root + "/containers/\(exited)"))
      // Its anonymous volume stays, as with Docker.
      #expect(try await sandbox.ok(["volume", "ls", "-q"]).lines.count == 2)
      let badFilter = try await sandbox.run(["container", "prune", "-f", "--filter", "colour=red"])
      #expect(badFilter.code == 1)
      #expect(badFilter.stderr == "Error response from daemon: invalid filter 'colour'\n")
    }
  }

  @Test func systemPruneRemovesStoppedContainersUnusedVolumesAndImages() async throws {
    try await EngineSandbox.with { sandbox in
      let (running, exited, created) = try await Self.populate(sandbox)
      let anonymous = try await sandbox.ok(["volume", "ls", "-q", "--filter", "label=com.docker.volume.anonymous"]).trimmed

      let declined = try await sandbox.run(["system", "prune", "--volumes"], input: Array("no\n".utf8))
      #expect(declined.stdout == """
        WARNING! This will remove:
          - all stopped containers
          - all networks not used by at least one container
          - all anonymous volumes not used by at least one container
          - all dangling images
          - unused build cache

        Are you sure you want to continue? [y/N] 
        """)
      #expect(sandbox.containerDirectories.count == 3)

      let pruned = try await sandbox.ok(["system", "prune", "-f", "--volumes"])
      let removed = Set([exited, created])
      #expect(pruned.stdout.hasPrefix("Deleted Containers:\n"))
      #expect(Set(pruned.lines.dropFirst().prefix(2)) == removed)
      #expect(pruned.stdout.contains("\nDeleted Volumes:\n\(anonymous)\n\n"))
      #expect(pruned.stdout.hasSuffix("Total reclaimed space: 4B\n"))
      #expect(sandbox.containerDirectories == [running])
      #expect(try await sandbox.ok(["volume", "ls", "-q"]).lines == ["named"])
      // The image is in use: even -a keeps it; once its container goes, -a takes it.
      #expect(try await sandbox.ok(["system", "prune", "-f", "-a"]).stdout == "Total reclaimed space: 0B\n")
      try await sandbox.ok(["rm", "-f", "up"])
      let all = try await sandbox.ok(["system", "prune", "-f", "-a"]).stdout
      #expect(all.hasPrefix("Deleted Images:\nuntagged: busybox:latest\ndeleted: sha256:"))
      #expect(try await sandbox.ok(["images", "-q"]).stdout.isEmpty)
    }
  }

  @Test func versionShowsClientServerAndRuntimes() async throws {
    try await EngineSandbox.with { sandbox in
      let text = try await sandbox.ok(["version"]).stdout
      #expect(text.hasPrefix("Client:\n Version:           0.1.0\n"))
      #expect(text.contains("\nServer: Berth\n Engine:\n  Version:          0.1.0\n"))
      #expect(text.contains("\n berth-runtime:\n  Version:          "))
      #expect(text.contains(" OS/Arch:           linux/"))
      #expect(try await sandbox.ok(["version", "--format", "{{.Client.Version}} {{.Server.Version}} {{.Server.Os}}"]).stdout == "0.1.0 0.1.0 linux\n")
      let json = try await sandbox.ok(["version", "--format", "{{json .}}"]).stdout
      let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
      let components = try #require((object["Server"] as? [String: Any])?["Components"] as? [[String: Any]])
      #expect(components.map { $0["Name"] as? String } .contains("berth-runtime"))
    }
  }
}

