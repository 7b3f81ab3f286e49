import BerthImages
import BerthOCI
import BerthOS
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `berth diff`, `berth commit` and the committed image's `history`, through the `berth` binary
/// on real containers.
@Suite("commit and diff", .enabled(if: EngineSandbox.unavailableReason == nil, Comment(rawValue: EngineSandbox.unavailableReason ?? "")))
struct CommitCommandTests {
  /// Changes to every kind of path of the busybox image: a new file, an appended file, a
  /// removed file, a new tree under an existing directory.
  static let changes = "echo new > /added && echo changed >> /etc/passwd && rm /data/seed && mkdir -p /home/alice/deep/er && touch /home/alice/deep/er/f"
  static let expectedDiff = [
    "A /added", "C /data", "D /data/seed", "C /etc", "C /etc/passwd", "C /home", "C /home/alice",
    "A /home/alice/deep", "A /home/alice/deep/er", "A /home/alice/deep/er/f",
  ]

  @Test("diff lists additions, changes and deletions in path order, running and stopped; the runtime's mountpoints are not listed")
  func diffLines() async throws {
    try await EngineSandbox.with { sandbox in
      try await sandbox.runDetached("--network", "none", "--name", "d1", "busybox", "sh", "-c", Self.changes + " && sleep 60")
      var running: [String] = []
      _ = try await sandbox.eventually(10) {
        running = try await sandbox.ok("diff", "d1").lines
        return running == Self.expectedDiff
      }
      #expect(running == Self.expectedDiff)
      try await sandbox.ok("stop", "-t", "0", "d1")
      let stopped = try await sandbox.ok("diff", "d1")
      #expect(stopped.lines == Self.expectedDiff, "\(stopped)")
      // The alias under `container`, and a container that changed nothing.
      #expect(try await sandbox.ok("container", "diff", "d1").lines == Self.expectedDiff)
      try await sandbox.ok("run", "--network", "none", "--name", "d2", "busybox", "true")
      let nothing = try await sandbox.ok("diff", "d2")
      #expect(nothing.stdout.isEmpty, "a container that changed nothing has no diff (not its /etc/hosts mountpoint): \(nothing)")
    }
  }

  @Test("commit, then run the new image: the changed files are there, the deleted one is gone; history shows the layer")
  func commitAndRun() async throws {
    try await EngineSandbox.with { sandbox in
      try await sandbox.ok("run", "--network", "none", "--name", "c1", "busybox", "sh", "-c", Self.changes)
      let committed = try await sandbox.ok("commit", "-m", "my message", "-a", "Alice <alice@example.com>", "c1", "committed/one:1")
      let id = committed.trimmed
      #expect(id.hasPrefix("sha256:") && id.count == 71, "commit prints the image ID: \(committed)")
      #expect(committed.stderr.isEmpty, "\(committed)")
      let object = try await sandbox.inspect("committed/one:1")
      #expect(object["Id"] as? String == id)

      let check = try await sandbox.ok(
        "run", "--rm", "--network", "none", "committed/one:1", "sh", "-c",
        "cat /added; tail -n 1 /etc/passwd; ls -A /data | wc -l; test -e /data/seed || echo seed-gone; ls /home/alice/deep/er")
      #expect(check.lines == ["new", "changed", "0", "seed-gone", "f"], "\(check)")
      // The new container of the new image starts with no changes of its own.
      try await sandbox.ok("create", "--network", "none", "--name", "c2", "committed/one:1")
      #expect(try await sandbox.ok("diff", "c2").stdout.isEmpty)

      // The image's config keeps the container's (the command it ran, here) and the base's history.
      let config = try #require(object["Config"] as? [String: Any])
      #expect(config["Cmd"] as? [String] == ["sh", "-c", Self.changes])
      #expect(object["Author"] as? String == "Alice <alice@example.com>")
      #expect(object["Comment"] as? String == "my message")
      let history = try await sandbox.ok("history", "--format", "{{.CreatedBy}}|{{.Size}}|{{.Comment}}", "--no-trunc", "committed/one:1")
      // Sizes as Docker counts them: the new files' bytes. "new\n" 4, the appended passwd
      // (its whole new content), the empty f.
      let passwd = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:alice:/home/alice:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nchanged\n"
      #expect(history.lines.first == "sh -c \(Self.changes)|\(4 + passwd.utf8.count)B|my message", "\(history)")
      #expect(history.lines.count == 2, "the committed layer above the imported one: \(history)")
      let table = try await sandbox.ok("history", "committed/one:1")
      #expect(table.lines.first?.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"], "\(table)")
      #expect(table.lines.dropFirst().first?.hasPrefix(String(id.dropFirst(7).prefix(12))) == true, "\(table)")
      #expect(table.lines.dropFirst().first?.contains("sh -c echo new > /added && echo changed >> /…   ") == true, "\(table)")
      #expect(table.lines.dropFirst().first?.hasSuffix("my message") == true, "\(table)")
      let quiet = try await sandbox.ok("history", "-q", "committed/one:1")
      #expect(quiet.lines == [String(id.dropFirst(7).prefix(12)), "<missing>"], "\(quiet)")
    }
  }

  @Test("commit -c CMD: the new image runs the new command; -c ENV and LABEL land in the config")
  func commitWithChanges() async throws {
    try await EngineSandbox.with { sandbox in
      try await sandbox.ok(
        "create", "--network", "none", "--name", "c1", "-e", "FROM_RUN=1", "--expose", "8080", "-w", "/data", "-u", "alice",
        "busybox", "sh")
      let id = try await sandbox.ok(
        "commit", "-c", #"CMD ["echo","hi"]"#, "-c", "ENV GREETING=hello", "-c", "LABEL stage=two", "c1", "greeter").trimmed
      #expect(try await sandbox.ok("run", "--rm", "--network", "none", "greeter").trimmed == "hi")
      let config = try #require(try await sandbox.inspect("greeter")["Config"] as? [String: Any])
      #expect(config["Cmd"] as? [String] == ["echo", "hi"])
      let env = config["Env"] as? [String] ?? []
      #expect(env.contains("FROM_RUN=1") && env.contains("GREETING=hello"), "\(env)")
      #expect((config["Labels"] as? [String: String])?["stage"] == "two")
      #expect((config["ExposedPorts"] as? [String: Any]).map { Array($0.keys) } == ["8080/tcp"], "\(config)")
      #expect(config["WorkingDir"] as? String == "/data")
      #expect(config["User"] as? String == "alice")
      // Nothing changed in the container: an empty layer, as Docker marks it.
      let image = try await sandbox.inspect(id)
      let layers = (image["RootFS"] as? [String: Any])?["Layers"] as? [String]
      #expect(layers?.count == 1, "no new layer for no change: \(String(describing: layers))")
      let sizes = try await sandbox.ok("history", "--format", "{{.Size}}", "greeter")
      #expect(sizes.lines.first == "0B", "\(sizes)")
    }
  }

  @Test("a removed directory tree and a directory made again (opaque): diff, commit, run, and the layer's whiteouts")
  func removedTreeAndOpaqueDirectory() async throws {
    try await EngineSandbox.with { sandbox in
      try await sandbox.ok(
        "run", "--network", "none", "--name", "c1", "busybox", "sh", "-c",
        "rm -rf /home && rm -rf /data && mkdir /data && echo fresh > /data/fresh")
      let diff = try await sandbox.ok("diff", "c1")
      #expect(diff.lines == ["C /data", "A /data/fresh", "D /data/seed", "D /home"], "\(diff)")
      try await sandbox.ok("commit", "c1", "opaque:1")
      let check = try await sandbox.ok(
        "run", "--rm", "--network", "none", "opaque:1", "sh", "-c", "ls -A /data; test -e /home || echo home-gone")
      #expect(check.lines == ["fresh", "home-gone"], "\(check)")

      // The layer holds the OCI whiteout and opaque marker.
      let store = try ImageStore(root: sandbox.root)
      let image = try store.resolve("opaque:1")
      let top = try #require(try store.manifest(of: image).layers.last)
      let blob = store.layout.blob(try Digest(parsing: top.digest))
      let listing = try Subprocess.run("/bin/tar", args: ["tar", "-tzf", blob])
      let members = String(decoding: listing.output, as: UTF8.self).split(separator: "\n").map(String.init)
      // Not /etc: only the runtime's mountpoints made it change.
      #expect(members == ["data/", "data/.wh..wh..opq", "data/fresh", ".wh.home"], "\(members)")
    }
  }

  @Test("commit of a running container pauses it only while reading, and it keeps running; --pause=false too")
  func commitRunning() async throws {
    try await EngineSandbox.with { sandbox in
      try await sandbox.runDetached("--network", "none", "--name", "r1", "busybox", "sh", "-c", "echo one > /one && sleep 60")
      _ = try await sandbox.eventually(10) { try await sandbox.ok("diff", "r1").lines.contains("A /one") }
      try await sandbox.ok("commit", "r1", "running:1")
      #expect(try await sandbox.ok("inspect", "-f", "{{.State.Status}}", "r1").trimmed == "running")
      try await sandbox.ok("exec", "r1", "sh", "-c", "echo two > /two")
      try await sandbox.ok("commit", "--pause=false", "r1", "running:2")
      #expect(try await sandbox.ok("inspect", "-f", "{{.State.Status}}", "r1").trimmed == "running")
      let first = try await sandbox.ok("run", "--rm", "--network", "none", "running:1", "sh", "-c", "cat /one; test -e /two || echo no-two")
      #expect(first.lines == ["one", "no-two"], "\(first)")
      let second = try await sandbox.ok("run", "--rm", "--network", "none", "running:2", "cat", "/one", "/two")
      #expect(second.lines == ["one", "two"], "\(second)")
    }
  }

  @Test("errors: unknown container, bad reference, bad change; nothing made")
  func errors() async throws {
    try await EngineSandbox.with { sandbox in
      let missing = try await sandbox.run("commit", "nosuch")
      #expect(missing.code == 1 && missing.stderr == "Error response from daemon: No such container: nosuch\n", "\(missing)")
      let missingDiff = try await sandbox.run("diff", "nosuch")
      #expect(missingDiff.code == 1 && missingDiff.stderr == "Error response from daemon: No such container: nosuch\n", "\(missingDiff)")
      try await sandbox.ok("create", "--network", "none", "--name", "c1", "busybox", "true")
      let before = try await sandbox.ok("images", "-q", "-a").lines
      let badReference = try await sandbox.run("commit", "c1", "Bad:Ref")
      #expect(badReference.code == 1 && badReference.stderr.hasPrefix("Error: invalid reference format"), "\(badReference)")
      let badChange = try await sandbox.run("commit", "-c", "RUN echo", "c1", "x:1")
      #expect(badChange.code == 1 && badChange.stderr.contains("RUN"), "\(badChange)")
      let usage = try await sandbox.run("diff")
      #expect(usage.code == 125, "\(usage)")
      #expect(try await sandbox.ok("images", "-q", "-a").lines == before, "no image was made")
    }
  }

  @Test("a hard link and a file with security.capability survive commit, push and pull into another store")
  func pushAndPull() async throws {
    if let reason = RegistryFixture.unavailableReason { try Test.cancel(Comment(rawValue: reason)) }
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.ok("create", "--network", "none", "--name", "c1", "busybox", "sh", "-c", "echo data > /f1 && ln /f1 /f2").trimmed
      try await sandbox.ok("start", "-a", "c1")
      // The capability is set from the host (busybox has no setcap), in the container's upper
      // directory, where a file the container made would be.
      let upperFile = sandbox.root + "/containers/\(id)/upper/capable"
      try FS.write(upperFile, "#!/bin/sh\n", mode: 0o755)
      let capability: [UInt8] = [0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00] + [UInt8](repeating: 0, count: 12)
      #expect(ExtendedAttributes.set(.path(Array(upperFile.utf8CString)), name: Array("security.capability".utf8), value: capability) == 0)

      try await RegistryFixture.with { registry in
        let name = registry.reference("committed/links:1")
        try await sandbox.ok("commit", "c1", name)
        try await sandbox.ok("push", name)
        let other = sandbox.scratch + "/other"
        try await sandbox.ok("--root", other, "--runroot", other + "/run", "pull", name)
        let store = try ImageStore(root: other)
        let image = try store.resolve(name)
        let top = try #require(try store.layerDirectories(of: image).last)
        var first = stat(), second = stat()
        #expect(lstat(top + "/f1", &first) == 0 && lstat(top + "/f2", &second) == 0)
        #expect(first.st_ino == second.st_ino && first.st_nlink == 2, "f1 and f2 are one file")
        #expect(try FS.readText(top + "/f2") == "data\n")
        let pulled = try ExtendedAttributes.value(.path(Array((top + "/capable").utf8CString)), name: Array("security.capability".utf8))
        #expect(pulled == capability)
        let local = try ImageStore(root: sandbox.root)
        #expect(try store.config(of: image).config.rootfs.diff_ids == local.config(of: try local.resolve(name)).config.rootfs.diff_ids)
      }
    }
  }
}
