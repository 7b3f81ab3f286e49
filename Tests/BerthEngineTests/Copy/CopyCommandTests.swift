import BerthOS
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `berth cp` end to end: both directions, tar streams, volumes, stopped containers, and
/// symlinks that point out of the container.
@Suite(.serialized, .berthWorld)
struct CopyCommandTests {
  /// A host tree to copy in: files, a subdirectory, a symlink, a file owned by 1234:5678.
  static func makeSource(_ world: BerthWorld) throws -> String {
    let source = world.host + "/src"
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
    return nonEmptyLines(String(decoding: names, as: UTF8.self))
  }

  @Test func copiesOutOfARunningContainer() throws {
    let world = try BerthWorld()
    try world.runDetached(["--name", "box", "busybox", "sh", "-c", "busybox mkdir -p /d/e && echo one > /d/1 && echo two > /d/e/2 && sleep 60"])
    try poll { (try? world.ok(["exec", "box", "cat", "/d/e/2"])) == "two\n" }

    // A file to a new name, then into an existing directory.
    try world.ok(["cp", "box:/d/1", world.host + "/renamed"])
    #expect(try FS.readText(world.host + "/renamed") == "one\n")
    try FS.makeDirectories(world.host + "/into")
    try world.ok(["cp", "box:/d/1", world.host + "/into"])
    #expect(try FS.readText(world.host + "/into/1") == "one\n")
    // A directory to a new name, into an existing one, and its contents with "/.".
    try world.ok(["cp", "box:/d", world.host + "/newdir"])
    #expect(try FS.readText(world.host + "/newdir/e/2") == "two\n")
    try world.ok(["cp", "box:/d", world.host + "/into"])
    #expect(try FS.readText(world.host + "/into/d/e/2") == "two\n")
    try FS.makeDirectories(world.host + "/contents")
    try world.ok(["cp", "box:/d/.", world.host + "/contents"])
    #expect(try FS.readText(world.host + "/contents/e/2") == "two\n")
    // Relative host paths are from the working directory (the world's host directory).
    try world.ok(["cp", "box:/d/1", "relative"])
    #expect(try FS.readText(world.host + "/relative") == "one\n")

    // A tar stream on stdout, named as Docker names its members.
    #expect(try Self.tarNames(try world.run(["cp", "box:/d", "-"]).stdout) == ["d/", "d/1", "d/e/", "d/e/2"])
    #expect(try Self.tarNames(try world.run(["cp", "box:/d/.", "-"]).stdout) == ["./", "./1", "./e/", "./e/2"])
    #expect(try Self.tarNames(try world.run(["cp", "box:/d/1", "-"]).stdout) == ["1"])

    // Docker's errors.
    let missing = try world.run(["cp", "box:/nothing/here", world.host])
    #expect(missing.code == 1)
    #expect(missing.stderr == "Error response from daemon: Could not find the file /nothing/here in container box\n")
    let dirOntoFile = try world.run(["cp", "box:/d", world.host + "/renamed"])
    #expect(dirOntoFile.code == 1)
    #expect(dirOntoFile.stderr.contains("cannot copy a directory to a file"))
    let notADirectory = try world.run(["cp", "box:/d/1/", world.host])
    #expect(notADirectory.code == 1)
    let noContainer = try world.run(["cp", "nobox:/d", world.host])
    #expect(noContainer.code == 1)
    #expect(noContainer.stderr.contains("No such container: nobox"))
    let neither = try world.run(["cp", world.host + "/renamed", world.host + "/other"])
    #expect(neither.code == 1)
    #expect(neither.stderr.contains("must specify at least one container source"))
    #expect(world.finish().isEmpty)
  }

  @Test func copiesIntoARunningContainer() throws {
    let world = try BerthWorld()
    let source = try Self.makeSource(world)
    try world.runDetached(["--name", "box", "busybox", "sh", "-c", "busybox mkdir /in && sleep 60"])
    try poll { (try? world.ok(["exec", "box", "ls", "/in"])) != nil }

    try world.ok(["cp", source + "/a.txt", "box:/in/"])
    #expect(try world.ok(["exec", "box", "cat", "/in/a.txt"]) == "alpha\n")
    try world.ok(["cp", source, "box:/in"])
    #expect(try world.ok(["exec", "box", "cat", "/in/src/sub/b.txt"]) == "beta\n")
    #expect(try world.ok(["exec", "box", "busybox", "readlink", "/in/src/link"]) == "a.txt\n")
    // Without -a the container's root owns the copies; with -a they keep their owners.
    #expect(try world.ok(["exec", "box", "busybox", "stat", "-c", "%u:%g %a", "/in/src/sub/b.txt"]) == "0:0 600\n")
    try world.ok(["cp", "-a", source + "/.", "box:/in/archived"])
    #expect(try world.ok(["exec", "box", "busybox", "stat", "-c", "%u:%g", "/in/archived/sub/b.txt"]) == "1234:5678\n")
    // -L copies what a symlink points to.
    try world.ok(["cp", "-L", source + "/link", "box:/in/followed"])
    #expect(try world.ok(["exec", "box", "cat", "/in/followed"]) == "alpha\n")

    // A tar stream from stdin goes into a directory; anything else is refused.
    let tar = try RegistrySupport.run("/usr/bin/tar", ["-cf", "-", "-C", source, "a.txt", "sub"])
    try world.ok(["cp", "-", "box:/in/archived"], input: tar)
    try world.ok(["cp", "-", "box:/in"], input: tar)
    #expect(try world.ok(["exec", "box", "cat", "/in/sub/b.txt"]) == "beta\n")
    let notADirectory = try world.run(["cp", "-", "box:/in/a.txt"], input: tar)
    #expect(notADirectory.code == 1)
    #expect(notADirectory.stderr.contains("destination \"box:/in/a.txt\" must be a directory"))
    let noParent = try world.run(["cp", source + "/a.txt", "box:/missing/dir/x"])
    #expect(noParent.code == 1)
    #expect(noParent.stderr == "Error response from daemon: Could not find the file /missing/dir in container box\n")
    #expect(world.finish().isEmpty)
  }

  @Test func copiesThroughVolumeMountsOfRunningAndStoppedContainers() throws {
    let world = try BerthWorld()
    let source = try Self.makeSource(world)
    let volumeData = world.root + "/volumes/shared/_data"
    try world.runDetached(["--name", "box", "-v", "shared:/data", "busybox", "sleep", "60"])
    try world.ok(["cp", source + "/a.txt", "box:/data/from-running"])
    #expect(try FS.readText(volumeData + "/from-running") == "alpha\n")

    try world.ok(["stop", "-t", "0", "box"])
    // Stopped: the volume is not mounted in any namespace, yet /data is the volume.
    try world.ok(["cp", source + "/sub", "box:/data/"])
    #expect(try FS.readText(volumeData + "/sub/b.txt") == "beta\n")
    try world.ok(["cp", "box:/data/from-running", world.host + "/back"])
    #expect(try FS.readText(world.host + "/back") == "alpha\n")
    // A symlink in the root filesystem that leads into the volume is followed into it.
    try world.ok(["cp", "-", "box:/"], input: try RegistrySupport.run("/usr/bin/python3", ["-c", """
      import io, sys, tarfile
      out = io.BytesIO()
      with tarfile.open(fileobj=out, mode="w") as t:
          info = tarfile.TarInfo("tovolume"); info.type = tarfile.SYMTYPE; info.linkname = "/data/from-running"; t.addfile(info)
      sys.stdout.buffer.write(out.getvalue())
      """]))
    try world.ok(["cp", "-L", "box:/tovolume", world.host + "/through-link"])
    #expect(try FS.readText(world.host + "/through-link") == "alpha\n")
    // The container sees it all when it runs again.
    try world.ok(["start", "box"])
    #expect(try world.ok(["exec", "box", "cat", "/data/sub/b.txt", "/tovolume"]) == "beta\nalpha\n")
    #expect(world.finish().isEmpty)
  }

  @Test func copiesWithAStoppedContainerWhoseRootIsNotMounted() throws {
    let world = try BerthWorld()
    let id = try world.ok(["create", "--name", "made", "busybox", "true"]).trimmingCharacters(in: .newlines)
    // As after a reboot: the overlay is gone.
    let rootfs = world.root + "/containers/\(id)/rootfs"
    #expect(umount2(rootfs, Int32(MNT_DETACH)) == 0)
    #expect(!world.mounts().contains(rootfs))
    try FS.write(world.host + "/f", "into a created container\n")
    try world.ok(["cp", world.host + "/f", "made:/bin/"])
    #expect(world.mounts().contains(rootfs), "the copy mounted the root filesystem")
    #expect(try FS.readText(world.root + "/containers/\(id)/upper/bin/f") == "into a created container\n")
    try world.ok(["cp", "made:/bin/f", world.host + "/g"])
    #expect(try FS.readText(world.host + "/g") == "into a created container\n")
    try world.ok(["rm", "made"])
    #expect(world.finish().isEmpty)
  }

  @Test func symlinksCannotLeadOutOfTheContainer() throws {
    let world = try BerthWorld()
    let secret = world.host + "/secret"
    try FS.write(secret, "host only\n")
    try FS.makeDirectories(world.host + "/target")
    try world.runDetached([
      "--name", "box", "busybox", "sh", "-c",
      "busybox ln -s / /escape && busybox ln -s ../../../../../../.. /up && busybox mkdir -p \(world.host)/target && sleep 60",
    ])
    try poll { (try? world.ok(["exec", "box", "ls", world.host + "/target"])) != nil }

    // Reading: /escape and /up lead to the container's own root, where the host's file is not.
    for path in ["/escape" + secret, "/up" + secret] {
      let read = try world.run(["cp", "box:" + path, world.host + "/stolen"])
      #expect(read.code == 1)
      #expect(read.stderr == "Error response from daemon: Could not find the file \(path) in container box\n")
    }
    #expect(!FS.exists(world.host + "/stolen"))
    // Writing: the host's directory of the same name is not the one written.
    try FS.write(world.host + "/payload", "planted\n")
    try world.ok(["cp", world.host + "/payload", "box:/escape" + world.host + "/target/"])
    try world.ok(["cp", world.host + "/payload", "box:/up" + world.host + "/target/p2"])
    #expect(try FS.list(world.host + "/target").isEmpty)
    #expect(try world.ok(["exec", "box", "ls", world.host + "/target"]) == "p2\npayload\n")
    // A tar stream that plants a symlink and then writes through it stays inside too.
    let hostile = try RegistrySupport.run("/usr/bin/python3", ["-c", """
      import io, sys, tarfile
      out = io.BytesIO()
      with tarfile.open(fileobj=out, mode="w") as t:
          link = tarfile.TarInfo("hop"); link.type = tarfile.SYMTYPE; link.linkname = "\(world.host)"; t.addfile(link)
          data = b"through the link\\n"
          f = tarfile.TarInfo("hop/target/tar-file"); f.size = len(data); t.addfile(f, io.BytesIO(data))
          g = tarfile.TarInfo("../../../../dotdot"); g.size = len(data); t.addfile(g, io.BytesIO(data))
      sys.stdout.buffer.write(out.getvalue())
      """])
    try world.ok(["cp", "-", "box:/"], input: hostile)
    #expect(try FS.list(world.host + "/target").isEmpty)
    #expect(!FS.exists("/dotdot"))
    #expect(try world.ok(["exec", "box", "cat", world.host + "/target/tar-file", "/dotdot"]) == "through the link\nthrough the link\n")
    #expect(try FS.readText(secret) == "host only\n")
    #expect(world.finish().isEmpty)
  }
}

/// Polls `condition` for up to `seconds`.
func poll(seconds: Double = 5, until condition: () throws -> Bool) throws {
  let deadline = Date().addingTimeInterval(seconds)
  while Date() < deadline {
    if try condition() { return }
    usleep(20_000)
  }
  throw BerthError(.invalidState, "condition not met in \(seconds) s")
}
