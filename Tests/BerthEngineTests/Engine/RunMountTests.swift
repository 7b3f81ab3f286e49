import BerthOS
import Foundation
import Testing

/// `-v`, `--mount` and `--tmpfs`: named, anonymous and bind mounts.
@Suite("berth run: volumes, binds, tmpfs", .engineSandbox)
struct RunMountTests {
  @Test("a named volume is filled from the image once, keeps its data after the container is removed, and can be mounted read-only")
  func namedVolume() async throws {
    try await EngineSandbox.with { sandbox in
      let first = try await sandbox.ok("run", "--name", "writer", "-v", "notes:/data", "busybox", "sh", "-c", "cat /data/seed; echo kept > /data/note")
      #expect(first.stdout == "from the image\n")
      try await sandbox.ok("rm", "writer")
      #expect(try FS.readText(sandbox.root + "/volumes/notes/_data/note") == "kept\n")

      let reader = try await sandbox.ok("run", "--rm", "--mount", "type=volume,source=notes,target=/elsewhere", "busybox", "cat", "/elsewhere/note")
      #expect(reader.stdout == "kept\n")
      let readOnly = try await sandbox.run("run", "--rm", "-v", "notes:/data:ro", "busybox", "sh", "-c", "cat /data/note; touch /data/new")
      #expect(readOnly.code == 1 && readOnly.stdout == "kept\n" && readOnly.stderr.contains("Read-only file system"), "\(readOnly)")
      let readOnlyMount = try await sandbox.run(
        "run", "--rm", "--mount", "type=volume,src=notes,dst=/data,readonly", "busybox", "touch", "/data/new")
      #expect(readOnlyMount.code == 1 && readOnlyMount.stderr.contains("Read-only file system"), "\(readOnlyMount)")
      // Removing containers (--rm included) never removes a named volume.
      #expect(sandbox.volumeNames == ["notes"])
    }
  }

  @Test("anonymous volumes (the image's VOLUME, -v /path): filled from the image; rm keeps them, rm -v and --rm remove them")
  func anonymousVolumes() async throws {
    try await EngineSandbox.with { sandbox in
      try await sandbox.importImage("busybox-vol", changes: ["VOLUME /data"])
      let kept = try await sandbox.runDetached("busybox-vol", "sh", "-c", "echo mine > /data/mine; exec sleep 100")
      let volumes = sandbox.volumeNames
      #expect(volumes.count == 1)
      let data = sandbox.root + "/volumes/\(volumes.first ?? "")/_data"
      #expect(await sandbox.eventually { FS.exists(data + "/mine") })
      #expect(try FS.readText(data + "/seed") == "from the image\n")
      try await sandbox.ok("rm", "-f", kept)
      #expect(sandbox.volumeNames == volumes, "rm without -v removed the anonymous volume")

      let removed = try await sandbox.runDetached("-v", "/scratch", "busybox-vol", "sleep", "100")
      #expect(sandbox.volumeNames.count == 3)
      try await sandbox.ok("rm", "-f", "-v", removed)
      #expect(sandbox.volumeNames == volumes)

      try await sandbox.ok("run", "--rm", "-v", "/scratch", "busybox-vol", "sh", "-c", "test -f /data/seed && touch /scratch/x")
      #expect(sandbox.volumeNames == volumes, "--rm left anonymous volumes")
    }
  }

  @Test("bind mounts: writes reach the host; ro and readonly refuse them; -v makes a missing source")
  func bindMounts() async throws {
    try await EngineSandbox.with { sandbox in
      let source = sandbox.scratch + "/shared"
      try FS.makeDirectories(source)
      try FS.write(source + "/from-host", "host\n")

      let writer = try await sandbox.ok("run", "--rm", "-v", source + ":/shared", "busybox", "sh", "-c", "cat /shared/from-host; echo container > /shared/from-container")
      #expect(writer.stdout == "host\n")
      #expect(try FS.readText(source + "/from-container") == "container\n")

      for flags in [["-v", source + ":/shared:ro"], ["--mount", "type=bind,source=\(source),target=/shared,readonly"]] {
        let outcome = try await sandbox.run(["run", "--rm"] + flags + ["busybox", "sh", "-c", "cat /shared/from-host; touch /shared/refused"])
        #expect(outcome.code == 1 && outcome.stdout == "host\n" && outcome.stderr.contains("Read-only file system"), "\(outcome)")
      }
      #expect(!FS.exists(source + "/refused"))

      let missing = sandbox.scratch + "/made-by-v"
      try await sandbox.ok("run", "--rm", "-v", missing + ":/made", "busybox", "touch", "/made/file")
      #expect(FS.exists(missing + "/file"))
    }
  }

  @Test("--tmpfs and --mount type=tmpfs: size and mode as asked, nothing left on disk")
  func tmpfsMounts() async throws {
    try await EngineSandbox.with { sandbox in
      let script = """
        df -k /t1 /t2 | tail -2 | awk '{print $2}'
        stat -c %a /t1 /t2
        echo x > /t1/f && echo x > /t2/f && echo written
        """
      let outcome = try await sandbox.ok(
        "run", "--rm", "--tmpfs", "/t1:size=2m,mode=1777", "--mount", "type=tmpfs,target=/t2,tmpfs-size=1048576,tmpfs-mode=0700",
        "busybox", "sh", "-c", script)
      #expect(outcome.lines == ["2048", "1024", "1777", "700", "written"])
    }
  }
}
