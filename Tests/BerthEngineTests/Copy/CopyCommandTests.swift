import BerthOS
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `berth cp` end to end: both directions, tar streams, volumes, stopped containers, and
/// symlinks that point out of the container.
@Suite(.serialized, .engineSandbox)
struct CopyCommandTests {
  /// A host tree to copy in: files, a subdirectory, a symlink, a file owned by 1234:5678.
  static func makeSource(_ sandbox: EngineSandbox) throws -> String {
    let source = sandbox.scratch + "/src"
    try FS.makeDirectories(source + "/sub")
    try FS.write(source + "/a.txt", "alpha\n")
    try FS.write(source + "/sub/b.txt", "beta\n", mode: 0o600)
    #expect(symlink("a.txt", source + "/link") == 0)
    #expect(chown(source + "/sub/b.txt", 1234, 5678) == 0)
    return source
  }

  /// The names in a tar stream, in order.
  static func tarNames(_ bytes: [UInt8]) throws -> [String] {
    let names = try RegistrySupport.run("/usr/bin/tar", ["-tf", "-"], input: bytes)
    return String(decoding: names, as: UTF8.self).split(separator: "\n").map(String.init)
  }

  @Test func copiesOutOfARunningContainer() async throws {
    try await EngineSandbox.with { sandbox in
      try await sandbox.runDetached(["--name", "box", "busybox", "sh", "-c", "busybox mkdir -p /d/e && echo one > /d/1 && echo two > /d/e/2 && sleep 60"])
      try #require(await sandbox.eventually(5) { (try? await sandbox.ok(["exec", "box", "cat", "/d/e/2"]))?.stdout == "two\n" })

      // A file to a new name, then into an existing directory.
      try await sandbox.ok(["cp", "box:/d/1", sandbox.scratch + "/renamed"])
      #expect(try FS.readText(sandbox.scratch + "/renamed") == "one\n")
      try FS.makeDirectories(sandbox.scratch + "/into")
      try await sandbox.ok(["cp", "box:/d/1", sandbox.scratch + "/into"])
      #expect(try FS.readText(sandbox.scratch + "/into/1") == "one\n")
      // A directory to a new name, into an existing one, and its contents with "/.".
      try await sandbox.ok(["cp", "box:/d", sandbox.scratch + "/newdir"])
      #expect(try FS.readText(sandbox.scratch + "/newdir/e/2") == "two\n")
      try await sandbox.ok(["cp", "box:/d", sandbox.scratch + "/into"])
      #expect(try FS.readText(sandbox.scratch + "/into/d/e/2") == "two\n")
      try FS.makeDirectories(sandbox.scratch + "/contents")
      try await sandbox.ok(["cp", "box:/d/.", sandbox.scratch + "/contents"])
      #expect(try FS.readText(sandbox.scratch + "/contents/e/2") == "two\n")
      // Relative host paths are from the working directory (the sandbox's scratch directory).
      try await sandbox.ok(["cp", "box:/d/1", "relative"])
      #expect(try FS.readText(sandbox.scratch + "/relative") == "one\n")

      // A tar stream on stdout, named as Docker names its members.
      #expect(try Self.tarNames(try await sandbox.run(["cp", "box:/d", "-"]).stdoutBytes) == ["d/", "d/1", "d/e/", "d/e/2"])
      #expect(try Self.tarNames(try await sandbox.run(["cp", "box:/d/.", "-"]).stdoutBytes) == ["./", "./1", "./e/", "./e/2"])
      #expect(try Self.tarNames(try await sandbox.run(["cp", "box:/d/1", "-"]).stdoutBytes) == ["1"])

      // Docker's errors.
      let missing = try await sandbox.run(["cp", "box:/nothing/here", sandbox.scratch])
      #expect(missing.code == 1)
      #expect(missing.stderr == "Error response from daemon: Could not find the file /nothing/here in container box\n")
      let dirOntoFile = try await sandbox.run(["cp", "box:/d", sandbox.scratch + "/renamed"])
      #expect(dirOntoFile.code == 1)
      #expect(dirOntoFile.stderr.contains("cannot copy a directory to a file"))
      let notADirectory = try await sandbox.run(["cp", "box:/d/1/", sandbox.scratch])
      #expect(notADirectory.code == 1)
      let noContainer = try await sandbox.run(["cp", "nobox:/d", sandbox.scratch])
      #expect(noContainer.code == 1)
      #expect(noContainer.stderr.contains("No such container: nobox"))
      let neither = try await sandbox.run(["cp", sandbox.scratch + "/renamed", sandbox.scratch + "/other"])
      #expect(neither.code == 1)
      #expect(neither.stderr.contains("must specify at least one container source"))
    }
  }

  @Test func copiesIntoARunningContainer() async throws {
    try await EngineSandbox.with { sandbox in
      let source = try Self.makeSource(sandbox)
      try await sandbox.runDetached(["--name", "box", "busybox", "sh", "-c", "busybox mkdir /in && sleep 60"])
      try #require(await sandbox.eventually(5) { (try? await sandbox.ok(["exec", "box", "ls", "/in"])) != nil })

      try await sandbox.ok(["cp", source + "/a.txt", "box:/in/"])
      #expect(try await sandbox.ok(["exec", "box", "cat", "/in/a.txt"]).stdout == "alpha\n")
      try await sandbox.ok(["cp", source, "box:/in"])
      #expect(try await sandbox.ok(["exec", "box", "cat", "/in/src/sub/b.txt"]).stdout == "beta\n")
      #expect(try await sandbox.ok(["exec", "box", "busybox", "readlink", "/in/src/link"]).stdout == "a.txt\n")
      // Without -a the container's root owns the copies; with -a they keep their owners.
      #expect(try await sandbox.ok(["exec", "box", "busybox", "stat", "-c", "%u:%g %a", "/in/src/sub/b.txt"]).stdout == "0:0 600\n")
      try await sandbox.ok(["cp", "-a", source + "/.", "box:/in/archived"])
      #expect(try await sandbox.ok(["exec", "box", "busybox", "stat", "-c", "%u:%g", "/in/archived/sub/b.txt"]).stdout == "1234:5678\n")
      // -L copies what a symlink points to.
      try await sandbox.ok(["cp", "-L", source + "/link", "box:/in/followed"])
      #expect(try await sandbox.ok(["exec", "box", "cat", "/in/followed"]).stdout == "alpha\n")

      // A tar stream from stdin goes into a directory; anything else is refused.
      let tar = try RegistrySupport.run("/usr/bin/tar", ["-cf", "-", "-C", source, "a.txt", "sub"])
      try await sandbox.ok(["cp", "-", "box:/in/archived"], input: tar)
      try await sandbox.ok(["cp", "-", "box:/in"], input: tar)
      #expect(try await sandbox.ok(["exec", "box", "cat", "/in/sub/b.txt"]).stdout == "beta\n")
      let notADirectory = try await sandbox.run(["cp", "-", "box:/in/a.txt"], input: tar)
      #expect(notADirectory.code == 1)
      #expect(notADirectory.stderr.contains("destination \"box:/in/a.txt\" must be a directory"))
      let noParent = try await sandbox.run(["cp", source + "/a.txt", "box:/missing/dir/x"])
      #expect(noParent.code == 1)
      #expect(noParent.stderr == "Error response from daemon: Could not find the file /missing/dir in container box\n")
    }
  }

  @Test func copiesThroughVolumeMountsOfRunningAndStoppedContainers() async throws {
    try await EngineSandbox.with { sandbox in
      let source = try Self.makeSource(sandbox)
      let volumeData = sandbox.root + "/volumes/shared/_data"
      try await sandbox.runDetached(["--name", "box", "-v", "shared:/data", "busybox", "sleep", "60"])
      try await sandbox.ok(["cp", source + "/a.txt", "box:/data/from-running"])
      #expect(try FS.readText(volumeData + "/from-running") == "alpha\n")

      try await sandbox.ok(["stop", "-t", "0", "box"])
      // Stopped: the volume is not mounted in any namespace, yet /data is the volume.
      try await sandbox.ok(["cp", source + "/sub", "box:/data/"])
      #expect(try FS.readText(volumeData + "/sub/b.txt") == "beta\n")
      try await sandbox.ok(["cp", "box:/data/from-running", sandbox.scratch + "/back"])
      #expect(try FS.readText(sandbox.scratch + "/back") == "alpha\n")
      // A symlink in the root filesystem that leads into the volume is followed into it.
      try await sandbox.ok(["cp", "-", "box:/"], input: try RegistrySupport.run("/usr/bin/python3", ["-c", """
        import io, sys, tarfile
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w") as t:
            info = tarfile.TarInfo("tovolume"); info.type = tarfile.SYMTYPE; info.linkname = "/data/from-running"; t.addfile(info)
        sys.stdout.buffer.write(out.getvalue())
        """]))
      try await sandbox.ok(["cp", "-L", "box:/tovolume", sandbox.scratch + "/through-link"])
      #expect(try FS.readText(sandbox.scratch + "/through-link") == "alpha\n")
      // The container sees it all when it runs again.
      try await sandbox.ok(["start", "box"])
      #expect(try await sandbox.ok(["exec", "box", "cat", "/data/sub/b.txt", "/tovolume"]).stdout == "beta\nalpha\n")
    }
  }

  @Test func copiesWithAStoppedContainerWhoseRootIsNotMounted() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.ok(["create", "--name", "made", "busybox", "true"]).trimmed
      // As after a reboot: the overlay is gone.
      let rootfs = sandbox.root + "/containers/\(id)/rootfs"
      #expect(umount2(rootfs, Int32(MNT_DETACH)) == 0)
      #expect(!sandbox.mountPoints.contains(rootfs))
      try FS.write(sandbox.scratch + "/f", "into a created container\n")
      try await sandbox.ok(["cp", sandbox.scratch + "/f", "made:/bin/"])
      #expect(sandbox.mountPoints.contains(rootfs), "the copy mounted the root filesystem")
      #expect(try FS.readText(sandbox.root + "/containers/\(id)/upper/bin/f") == "into a created container\n")
      try await sandbox.ok(["cp", "made:/bin/f", sandbox.scratch + "/g"])
      #expect(try FS.readText(sandbox.scratch + "/g") == "into a created container\n")
      try await sandbox.ok(["rm", "made"])
    }
  }

  @Test func symlinksCannotLeadOutOfTheContainer() async throws {
    try await EngineSandbox.with { sandbox in
      let secret = sandbox.scratch + "/secret"
      try FS.write(secret, "host only\n")
      try FS.makeDirectories(sandbox.scratch + "/target")
      try await sandbox.runDetached([
        "--name", "box", "busybox", "sh", "-c",
        "busybox ln -s / /escape && busybox ln -s ../../../../../../.. /up && busybox mkdir -p \(sandbox.scratch)/target && sleep 60",
      ])
      try #require(await sandbox.eventually(5) { (try? await sandbox.ok(["exec", "box", "ls", sandbox.scratch + "/target"])) != nil })

      // Reading: /escape and /up lead to the container's own root, where the host's file is not.
      for path in ["/escape" + secret, "/up" + secret] {
        let read = try await sandbox.run(["cp", "box:" + path, sandbox.scratch + "/stolen"])
        #expect(read.code == 1)
        #expect(read.stderr == "Error response from daemon: Could not find the file \(path) in container box\n")
      }
      #expect(!FS.exists(sandbox.scratch + "/stolen"))
      // Writing: the host's directory of the same name is not the one written.
      try FS.write(sandbox.scratch + "/payload", "planted\n")
      try await sandbox.ok(["cp", sandbox.scratch + "/payload", "box:/escape" + sandbox.scratch + "/target/"])
      try await sandbox.ok(["cp", sandbox.scratch + "/payload", "box:/up" + sandbox.scratch + "/target/p2"])
      #expect(try FS.list(sandbox.scratch + "/target").isEmpty)
      #expect(try await sandbox.ok(["exec", "box", "ls", sandbox.scratch + "/target"]).stdout == "p2\npayload\n")
      // A tar stream that plants a symlink and then writes through it stays inside too.
      let hostile = try RegistrySupport.run("/usr/bin/python3", ["-c", """
        import io, sys, tarfile
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w") as t:
            link = tarfile.TarInfo("hop"); link.type = tarfile.SYMTYPE; link.linkname = "\(sandbox.scratch)"; t.addfile(link)
            data = b"through the link\\n"
            f = tarfile.TarInfo("hop/target/tar-file"); f.size = len(data); t.addfile(f, io.BytesIO(data))
            g = tarfile.TarInfo("../../../../dotdot"); g.size = len(data); t.addfile(g, io.BytesIO(data))
        sys.stdout.buffer.write(out.getvalue())
        """])
      try await sandbox.ok(["cp", "-", "box:/"], input: hostile)
      #expect(try FS.list(sandbox.scratch + "/target").isEmpty)
      #expect(!FS.exists("/dotdot"))
      #expect(try await sandbox.ok(["exec", "box", "cat", sandbox.scratch + "/target/tar-file", "/dotdot"]).stdout == "through the link\nthrough the link\n")
      #expect(try FS.readText(secret) == "host only\n")
    }
  }
}
