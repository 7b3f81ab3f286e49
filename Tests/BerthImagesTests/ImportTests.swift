import BerthOCI
import BerthOS
import BerthTestSupport
import Foundation
import Testing

/// `berth import`: a root file system tarball as a one-layer image.
@Suite("import", .berthBuilt)
struct ImportTests {
  enum Compression: String, CaseIterable, Sendable { case plain, gzip, zstd }
  enum Source: String, CaseIterable, Sendable { case file, stdin }

  static func tarball(_ compression: Compression, of tar: [UInt8], in directory: String) async throws -> [UInt8] {
    switch compression {
    case .plain:
      return tar
    case .gzip:
      let path = directory + "/rootfs.tar"
      try FS.write(path, tar)
      let result = try await Processes.run(
        Processes.which("gzip") ?? "/bin/gzip", ["-n", "-f", path], environment: ["PATH": Processes.path])
      if result.code != 0 { throw CommandFailed(result: result) }
      return try FS.read(path + ".gz")
    case .zstd:
      let path = directory + "/rootfs.tar"
      try FS.write(path, tar)
      let result = try await Processes.run(
        Processes.which("zstd") ?? "/usr/bin/zstd", ["-q", "-f", "-3", path, "-o", path + ".zst"], environment: ["PATH": Processes.path])
      if result.code != 0 { throw CommandFailed(result: result) }
      return try FS.read(path + ".zst")
    }
  }

  @Test(
    "import from a file or stdin with --change and -m, plain, gzip and zstd",
    arguments: Compression.allCases, Source.allCases)
  func importTarball(compression: Compression, source: Source) async throws {
    if compression == .zstd && Processes.which("zstd") == nil { try Test.cancel("zstd is not installed") }
    let busybox = try TestImage.busybox()
    try await Sandbox.with("import") { berth in
      let bytes = try await Self.tarball(compression, of: busybox.layers[0].tar, in: berth.scratch)
      let path = berth.scratch + "/rootfs.tar.\(compression.rawValue)"
      try FS.write(path, bytes)
      let name = "imported/busybox:\(compression.rawValue)"
      let arguments = [
        "import", "--change", #"CMD ["/bin/sh"]"#, "--change", "ENV A=b", "--change", "LABEL purpose=test",
        "-m", "made by the \(compression.rawValue) test", source == .file ? path : "-", name,
      ]
      let result = try await berth.ok(arguments, input: source == .stdin ? bytes : [])
      let id = result.lines.last ?? ""
      #expect(id.hasPrefix("sha256:") && id.count == 71, "import prints the image ID: \(result)")

      let object = try await berth.inspect(name)
      #expect(object["Id"] as? String == id)
      #expect(object["RepoTags"] as? [String] == [name])
      #expect(object["Comment"] as? String == "made by the \(compression.rawValue) test")
      #expect(object["Architecture"] as? String == Platform.host.architecture)
      #expect(object["Os"] as? String == "linux")
      let config = try #require(object["Config"] as? [String: Any])
      #expect(config["Cmd"] as? [String] == ["/bin/sh"])
      #expect((config["Env"] as? [String])?.contains("A=b") == true, "\(config)")
      #expect(config["Labels"] as? [String: String] == ["purpose": "test"])
      // The layer is the tarball's content, whatever its compression: the diffID of the tar.
      #expect(object["RootFS"].flatMap { ($0 as? [String: Any])?["Layers"] as? [String] } == busybox.diffIDs)
      #expect(berth.layerDirectories == [busybox.chainIDHexes[0]])
      let binary = berth.root + "/layers/\(busybox.chainIDHexes[0])/diff/bin/busybox"
      #expect(try FS.read(binary) == (try FS.read("/bin/busybox")))
      #expect(try FS.readLink(berth.root + "/layers/\(busybox.chainIDHexes[0])/diff/bin/sh") == "busybox")
      #expect(berth.ingestFiles.isEmpty && berth.stagingDirectories.isEmpty)
      // The history says what -m said.
      let history = try await berth.ok("history", "--format", "{{.Comment}}", name)
      #expect(history.lines == ["made by the \(compression.rawValue) test"], "\(history)")
    }
  }

  @Test("import without a name gives a dangling image; a bad --change is refused")
  func importUnnamedAndBadChange() async throws {
    let busybox = try TestImage.busybox()
    try await Sandbox.with("import") { berth in
      let path = berth.scratch + "/rootfs.tar"
      try FS.write(path, busybox.layers[0].tar)
      let result = try await berth.ok("import", path)
      let id = result.lines.last ?? ""
      #expect(try await berth.ok("images", "-q", "--no-trunc", "--filter", "dangling=true").lines == [id])
      let object = try await berth.inspect(id)
      #expect(object["Comment"] as? String == "Imported from \(path)", "Docker's default message")

      let bad = try await berth.run("import", "--change", "RUN echo hi", path, "bad/change:1")
      #expect(bad.code != 0, "\(bad)")
      #expect(bad.stderr.contains("RUN"), "\(bad)")
      #expect(try await berth.imageIDs() == [id])

      let missing = try await berth.run("import", berth.scratch + "/no-such-file.tar", "x:1")
      #expect(missing.code == 1)
      #expect(missing.stderr.contains("no-such-file.tar"), "\(missing)")
    }
  }
}
