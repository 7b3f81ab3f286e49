import BerthImages
import BerthOS
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `berth save` and `berth load`, with each other and with podman and docker.
@Suite("save and load", .registryAvailable, .sharedRegistry)
struct ArchiveTests {
  enum Format: String, CaseIterable, Sendable {
    case dockerArchive = "docker-archive"
    case ociArchive = "oci-archive"
  }

  /// Pulls a two-layer image into `berth`; returns its name.
  static func pullTwoLayers(_ berth: Sandbox, seed: UInt64) async throws -> (name: String, image: TestImage) {
    let registry = try SharedRegistry.get()
    let image = try TestImage.random(layerSizes: [40_000, 9_000], seed: seed)
    let name = registry.reference("\(uniqueName("archive"))/app:1")
    try await registry.push(image, as: name)
    try await berth.ok("pull", "-q", name)
    return (name, image)
  }

  @Test("save, rmi, load: the same image ID and diffIDs", arguments: Format.allCases)
  func roundTrip(format: Format) async throws {
    try await Sandbox.with("save") { berth in
      let (name, image) = try await Self.pullTwoLayers(berth, seed: 401)
      let archive = berth.scratch + "/image.tar"
      try await berth.ok("save", "--format", format.rawValue, "-o", archive, name)
      #expect(try FS.read(archive).count > 49_000)
      #expect(try FS.list(berth.scratch).filter { $0.contains(".tmp-") }.isEmpty, "save left its temporary file")

      try await berth.ok("rmi", name)
      try await berth.ok("image", "prune", "-f")
      #expect(berth.layerDirectories.isEmpty, "the layers went with the image")

      let loaded = try await berth.ok("load", "-i", archive)
      #expect(loaded.lines == ["Loaded image: \(name)"], "\(loaded)")
      let object = try await berth.inspect(name)
      #expect(object["Id"] as? String == image.configDigest)
      #expect(object["RootFS"].flatMap { ($0 as? [String: Any])?["Layers"] as? [String] } == image.diffIDs)
      #expect(berth.layerDirectories == Set(image.chainIDHexes))
      #expect(FS.exists(berth.root + "/layers/\(image.chainIDHexes[1])/diff/data/layer-1"))

      // Streamed through stdout and stdin too.
      let streamed = try await berth.ok("save", "--format", format.rawValue, name)
      try await berth.ok("rmi", name)
      let again = try await berth.ok(["load"], input: streamed.output)
      #expect(again.lines == ["Loaded image: \(name)"], "\(again)")
      #expect(try await berth.imageIDs() == [image.configDigest])

      // Saving what is not there writes nothing.
      let missing = try await berth.run("save", "--format", format.rawValue, "-o", berth.scratch + "/missing.tar", "not/here:1")
      #expect(missing.code == 1 && missing.stderr.contains("No such image"), "\(missing)")
      #expect(!FS.exists(berth.scratch + "/missing.tar"))
      #expect(try FS.list(berth.scratch).filter { $0.contains(".tmp-") }.isEmpty)
    }
  }

  @Test("save to a terminal is refused")
  func saveToTerminal() async throws {
    try await Sandbox.with("save") { berth in
      let (name, _) = try await Self.pullTwoLayers(berth, seed: 402)
      let terminal = try PseudoTerminal()
      let errorPath = berth.scratch + "/stderr"
      let errorFD = open(errorPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
      let nullFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
      defer { close(errorFD); close(nullFD) }
      let pid = try Subprocess.spawn(
        BerthBinary.path, args: [BerthBinary.path, "save", name], env: berth.environment.map { "\($0.key)=\($0.value)" },
        fds: [(nullFD, 0), (terminal.slave, 1), (errorFD, 2)])
      let status = try await Processes.wait(pid)
      #expect(status == .exited(1))
      let message = try FS.readText(errorPath)
      #expect(message.contains("cowardly refusing to save to a terminal"), "\(message)")
      let written = terminal.drain()
      #expect(!String(decoding: written, as: UTF8.self).contains("manifest.json"), "an archive went to the terminal")
      #expect(written.count < 1000)

      // Nor does load read a terminal.
      let loadPID = try Subprocess.spawn(
        BerthBinary.path, args: [BerthBinary.path, "load"], env: berth.environment.map { "\($0.key)=\($0.value)" },
        fds: [(terminal.slave, 0), (nullFD, 1), (errorFD, 2)])
      #expect(try await Processes.wait(loadPID) == .exited(1))
      let loadMessage = try FS.readText(errorPath)
      #expect(loadMessage.contains("stdin"), "\(loadMessage)")
    }
  }

  enum NotAnArchive: String, CaseIterable, Sendable {
    case randomBytes, tarWithoutManifest, emptyFile, truncatedArchive
  }

  @Test("load of something that is not an image archive: a clear error, nothing recorded", arguments: NotAnArchive.allCases)
  func loadGarbage(kind: NotAnArchive) async throws {
    try await Sandbox.with("load") { berth in
      let path = berth.scratch + "/input.tar"
      let expected: [String]
      switch kind {
      case .randomBytes:
        var generator = SystemRandomNumberGenerator()
        try FS.write(path, (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &generator) })
        expected = ["archive"]
      case .emptyFile:
        try FS.write(path, [UInt8]())
        expected = ["archive"]
      case .tarWithoutManifest:
        let files: [TestImage.File] = [.file("hello.txt", "hello\n"), .file("notes/data.bin", [UInt8](repeating: 1, count: 5000))]
        try FS.write(path, try TestImage(layers: [files], compressed: false).layers[0].tar)
        expected = ["not an image archive", "manifest.json"]
      case .truncatedArchive:
        // A real archive cut in the middle of a layer.
        let source = try await Sandbox.with("load-source") { other in
          let (name, _) = try await Self.pullTwoLayers(other, seed: 403)
          return try await other.ok("save", name).output
        }
        try FS.write(path, Array(source.prefix(source.count / 2)))
        expected = ["truncated"]
      }
      let result = try await berth.run("load", "-i", path)
      #expect(result.code == 1, "\(result)")
      #expect(result.stderr.hasPrefix("Error: "), "\(result)")
      for word in expected { #expect(result.stderr.lowercased().contains(word.lowercased()), "\(result)") }
      if kind == .randomBytes || kind == .emptyFile {
        #expect(!result.stderr.contains("fd ") && result.stderr.contains("input.tar"), "\(result)")
      
      }
      #expect(result.stdout.isEmpty, "\(result)")
      #expect(berth.ingestFiles.isEmpty && berth.stagingDirectories.isEmpty)
      let images = try await berth.imageIDs()
      #expect(images.isEmpty, "\(images)")
      #expect(berth.layerDirectories.isEmpty)
      #expect(berth.blobFiles.isEmpty, "\(berth.blobFiles.sorted())")
    
    }
  }

  @Test("berth's archives load into podman; podman's archives load into berth", .podmanAvailable, arguments: Format.allCases)
  func podman(format: Format) async throws {
    try await Sandbox.with("podman-archive") { berth in
      let (name, image) = try await Self.pullTwoLayers(berth, seed: format == .dockerArchive ? 404 : 405)
      let archive = berth.scratch + "/berth.tar"
      try await berth.ok("save", "--format", format.rawValue, "-o", archive, name)
      try await Podman.with { podman in
        let loaded = try await podman.ok("load", "-i", archive)
        #expect(loaded.stdout.contains(name), "podman names the image: \(loaded)")
        #expect(try await podman.imageID(name) == image.idHex)
        #expect(try await podman.diffIDs(name) == image.diffIDs)

        // And back: podman's own archive of it, and of an image podman made.
        let podmanArchive = berth.scratch + "/podman.tar"
        let other = "localhost/podman-made/app:\(format == .dockerArchive ? "d" : "o")"
        try await podman.ok("tag", name, other)
        try await podman.ok("save", "--format", format.rawValue, "-o", podmanArchive, other)
        try await berth.ok("rmi", name)
        try await berth.ok("image", "prune", "-a", "-f")
        let intoBerth = try await berth.ok("load", "-i", podmanArchive)
        #expect(intoBerth.lines == ["Loaded image: \(other)"], "\(intoBerth)")
        let object = try await berth.inspect(other)
        #expect(object["Id"] as? String == image.configDigest)
        #expect(object["RootFS"].flatMap { ($0 as? [String: Any])?["Layers"] as? [String] } == image.diffIDs)
        #expect(berth.layerDirectories == Set(image.chainIDHexes))
      }
    }
  }

  @Test("docker save loads into berth; berth's docker-archive loads into docker", .dockerdAvailable)
  func docker() async throws {
    try await Sandbox.with("docker-archive") { berth in
      let busybox = try TestImage.busybox()
      try FS.write(berth.scratch + "/rootfs.tar", busybox.layers[0].tar)
      let (name, image) = try await Self.pullTwoLayers(berth, seed: 406)
      let archive = berth.scratch + "/berth.tar"
      try await berth.ok("save", "-o", archive, name)

      try await PrivateDockerd.with { docker in
        // docker import + docker save → berth load.
        let imported = try await docker.ok("import", berth.scratch + "/rootfs.tar", "docker-made/busybox:1")
        let dockerID = imported.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try await docker.ok("save", "-o", berth.scratch + "/docker.tar", "docker-made/busybox:1")
        let loaded = try await berth.ok("load", "-i", berth.scratch + "/docker.tar")
        #expect(loaded.lines == ["Loaded image: docker-made/busybox:1"], "\(loaded)")
        let object = try await berth.inspect("docker-made/busybox:1")
        #expect(object["Id"] as? String == dockerID)
        #expect(object["RootFS"].flatMap { ($0 as? [String: Any])?["Layers"] as? [String] } == busybox.diffIDs)
        #expect(FS.exists(berth.root + "/layers/\(busybox.chainIDHexes[0])/diff/bin/busybox"))

        // berth save → docker load.
        let intoDocker = try await docker.ok("load", "-i", archive)
        #expect(intoDocker.stdout.contains("Loaded image: \(name)"), "\(intoDocker)")
        let inspected = try await docker.ok("image", "inspect", "--format", "{{.Id}} {{json .RootFS.Layers}}", name)
        let fields = inspected.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", maxSplits: 1)
        #expect(fields.first.map(String.init) == image.configDigest, "\(inspected)")
        let layers = fields.count > 1 ? try JSONSerialization.jsonObject(with: Data(fields[1].utf8)) as? [String] : nil
        #expect(layers == image.diffIDs, "\(inspected)")
      }
    }
  }
}
