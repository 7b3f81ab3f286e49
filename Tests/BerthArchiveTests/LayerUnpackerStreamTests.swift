import BerthArchive
import BerthOCI
import BerthOS
import BerthTestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A layer of a few hundred files with some bulk, written by our TarWriter uncompressed, and
/// compressed by the gzip and zstd programs (independent of our writer).
struct SampleLayer {
  let tar: [UInt8]
  let gzip: [UInt8]
  let zstd: [UInt8]

  static let shared: Result<SampleLayer, BerthError> = make()

  private static func make() -> Result<SampleLayer, BerthError> {
    do {
      return .success(try SampleLayer())
    } catch let error as BerthError {
      return .failure(error)
    } catch {
      return .failure(BerthError(.internalError, "\(error)"))
    }
  }

  static func get() throws -> SampleLayer { try shared.get() }

  private init() throws {
    let (tar, _) = try makeTar { w in
      for d in 0..<20 {
        try w.add(.directory("d\(d)", mtime: 1_600_000_000 + Int64(d)))
        for f in 0..<15 {
          let size = (d * 15 + f) % 7 == 0 ? 70_000 + d * 1000 : (d * 31 + f * 17) % 3000
          try w.add(.file("d\(d)/f\(f)", size: 0, mtime: 1_600_000_000), contents: pseudoRandomBytes(size, seed: UInt64(d * 100 + f)))
        }
        try w.add(.symlink("d\(d)/link", target: "f0"))
      }
      try w.add(.file("big", size: 0), contents: pseudoRandomBytes(3 << 20, seed: 99))
    }
    self.tar = tar
    gzip = try ArchiveFixtures.run("/bin/gzip", ["-c"], input: tar)
    zstd = try ArchiveFixtures.run("/usr/bin/zstd", ["-q", "-c"], input: tar)
  }

  func bytes(_ compression: LayerCompression) -> [UInt8] {
    switch compression {
    case .none: return tar
    case .gzip: return gzip
    case .zstd: return zstd
    }
  }

  static let entryCount = 20 * 17 + 1
}

@Suite("LayerUnpacker: streams, digests and failures")
struct LayerUnpackerStreamTests {
  @Test(
    "gzip, zstd and plain layers unpack the same; the diffID is sha256 of the uncompressed tar",
    arguments: LayerCompression.allCases, [true, false])
  func compressions(_ compression: LayerCompression, declared: Bool) async throws {
    let layer = try SampleLayer.get()
    let blob = layer.bytes(compression)
    let expected = ArchiveFixtures.sha256Hex(layer.tar)
    try await ArchiveFixtures.withTemporaryDirectory { base in
      // sha256sum agrees with our expectation (an outside check of the helper).
      try writeFile(base + "/layer.tar", layer.tar)
      let sum = String(decoding: try ArchiveFixtures.run("/usr/bin/sha256sum", [base + "/layer.tar"]).prefix(64), as: UTF8.self)
      #expect(sum == expected)

      let dest = base + "/dest"
      try FS.makeDirectories(dest)
      let result = try await unpack(blob, into: dest, compression: declared ? compression : nil)
      #expect(result.diffID.description == "sha256:" + expected)
      #expect(result.uncompressedSize == Int64(layer.tar.count))
      #expect(result.compressedSize == Int64(blob.count))
      #expect(result.compression == compression)
      #expect(result.entries == SampleLayer.entryCount)
      #expect(try ArchiveFixtures.sha256Hex(file: dest + "/big") == ArchiveFixtures.sha256Hex(pseudoRandomBytes(3 << 20, seed: 99)))
      #expect(try FS.readLink(dest + "/d7/link") == "f0")
    }
  }

  @Test("random chunk sizes give the same tree and digest", arguments: [1 as UInt64, 2, 3])
  func chunking(seed: UInt64) async throws {
    let layer = try SampleLayer.get()
    try await ArchiveFixtures.withTemporaryDirectory { base in
      let reference = base + "/reference", chunked = base + "/chunked"
      try FS.makeDirectories(reference)
      try FS.makeDirectories(chunked)
      let one = try await unpack(layer.gzip, into: reference, chunkSizes: { layer.gzip.count })
      var generator = SeededGenerator(state: seed &* 0x2545_F491_4F6C_DD1D | 1)
      // Mostly small pieces, as a network delivers them, some of one byte.
      let many = try await unpack(layer.gzip, into: chunked, chunkSizes: {
        let roll = Int.random(in: 0..<100, using: &generator)
        return roll < 5 ? 1 : roll < 80 ? Int.random(in: 1...20_000, using: &generator) : Int.random(in: 1...300_000, using: &generator)
      })
      #expect(one == many)
      #expect(try ArchiveFixtures.snapshot(reference) == ArchiveFixtures.snapshot(chunked))
    }
  }

  @Test("unpack(file:) gives what the streaming API gives")
  func fileConvenience() async throws {
    let layer = try SampleLayer.get()
    try await ArchiveFixtures.withTemporaryDirectory { base in
      try writeFile(base + "/layer.tar.zst", layer.zstd)
      for name in ["a", "b"] { try FS.makeDirectories(base + "/" + name) }
      let fromFile = try LayerUnpacker.unpack(file: base + "/layer.tar.zst", into: base + "/a", compression: .zstd)
      let streamed = try await unpack(layer.zstd, into: base + "/b", compression: .zstd)
      #expect(fromFile == streamed)
      #expect(try ArchiveFixtures.snapshot(base + "/a") == ArchiveFixtures.snapshot(base + "/b"))
    }
  }

  /// How a blob is cut short.
  enum Truncation: String, CaseIterable, Sendable {
    case gzipHalf, gzipHeaderOnly, gzipTrailerMissing, zstdHalf, tarInFileData, tarInHeader
  }

  @Test("a truncated blob fails with an error that says what is wrong", arguments: Truncation.allCases)
  func truncated(_ kind: Truncation) async throws {
    let layer = try SampleLayer.get()
    let blob: [UInt8]
    switch kind {
    case .gzipHalf: blob = Array(layer.gzip.prefix(layer.gzip.count / 2))
    case .gzipHeaderOnly: blob = Array(layer.gzip.prefix(20))
    case .gzipTrailerMissing: blob = Array(layer.gzip.dropLast(6))
    case .zstdHalf: blob = Array(layer.zstd.prefix(layer.zstd.count / 2))
    case .tarInFileData: blob = Array(layer.tar.prefix(layer.tar.count - (1 << 20)))  // inside "big"
    case .tarInHeader: blob = Array(layer.tar.prefix(512 * 3 + 100))
    }
    try await withDestination { _, dest in
      let error = await #expect(throws: BerthError.self) { try await unpack(blob, into: dest) }
      #expect(error?.code == .invalidArchive, "\(String(describing: error))")
      let message = error?.message.lowercased() ?? ""
      switch kind {
      case .gzipHalf, .gzipHeaderOnly, .gzipTrailerMissing:
        #expect(message.contains("gzip"), "\(message)")
      case .zstdHalf:
        #expect(message.contains("zstd"), "\(message)")
      case .tarInFileData:
        #expect(message.contains("truncated") && message.contains("\"big\""), "\(message)")
      case .tarInHeader:
        #expect(message.contains("truncated") || message.contains("tar"), "\(message)")
      }
    }
  }

  @Test("a damaged header in the middle of the tar fails and says where", arguments: [LayerCompression.none, .gzip])
  func damagedHeader(_ compression: LayerCompression) async throws {
    var tar = try SampleLayer.get().tar
    // The header of "d5/f3": flip a byte of its name so that the checksum no longer matches.
    let name = Array("d5/f3".utf8)
    guard let offset = stride(from: 0, to: tar.count - 512, by: 512).first(where: {
      Array(tar[$0..<($0 + name.count)]) == name && tar[$0 + name.count] == 0
    }) else {
      Issue.record("no header for d5/f3")
      return
    }
    tar[offset + 1] ^= 0x20
    let blob = compression == .gzip ? try ArchiveFixtures.run("/bin/gzip", ["-c"], input: tar) : tar
    try await withDestination { _, dest in
      let error = await #expect(throws: BerthError.self) { try await unpack(blob, into: dest) }
      #expect(error?.code == .invalidArchive)
      #expect(error?.message.contains("after entry \"d5/f2\"") == true, "\(String(describing: error))")
      // What came before the damage was written; nothing after it.
      #expect(lstatOrNil(dest + "/d5/f2") != nil)
      #expect(lstatOrNil(dest + "/d6") == nil)
    }
  }

  @Test(
    "a blob whose compression contradicts the declared one is refused",
    arguments: [(LayerCompression.gzip, LayerCompression.zstd), (.none, .gzip), (.zstd, .gzip), (.gzip, .none)])
  func wrongCompression(actual: LayerCompression, declared: LayerCompression) async throws {
    let layer = try SampleLayer.get()
    try await withDestination { _, dest in
      let error = await #expect(throws: BerthError.self) {
        try await unpack(layer.bytes(actual), into: dest, compression: declared)
      }
      #expect(error?.code == .invalidArchive)
      #expect(error?.message.contains("is not") == true, "\(String(describing: error))")
    }
  }

  @Test("garbage that is not a tar fails", arguments: [0 as UInt64, 1])
  func notATar(seed: UInt64) async throws {
    try await withDestination { _, dest in
      var garbage = pseudoRandomBytes(20_000, seed: seed)
      if seed == 1 {
        // A gzip stream of garbage: decompression works, the tar inside does not.
        garbage = try ArchiveFixtures.run("/bin/gzip", ["-c"], input: garbage)
      }
      let error = await #expect(throws: BerthError.self) { try await unpack(garbage, into: dest) }
      #expect(error?.code == .invalidArchive, "\(String(describing: error))")
    }
  }

  @Test("the empty layer (gzip of 1024 zero bytes) unpacks to nothing, with its well-known diffID")
  func emptyLayer() async throws {
    let zeros = [UInt8](repeating: 0, count: 1024)
    let gzip = try ArchiveFixtures.run("/bin/gzip", ["-n", "-c"], input: zeros)
    try await withDestination { _, dest in
      let result = try await unpack(gzip, into: dest, compression: .gzip)
      #expect(result.diffID.description == "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef")
      #expect(result.entries == 0)
      #expect(try FS.list(dest).isEmpty)
    }
  }

  @Test("an empty blob fails")
  func emptyBlob() async throws {
    try await withDestination { _, dest in
      let unpacker = try LayerUnpacker(destination: dest, compression: nil)
      let error = await #expect(throws: BerthError.self) { try await unpacker.finish() }
      #expect(error?.code == .invalidArchive)
    }
  }

  @Test("a full disk fails with ENOSPC and names the entry", rootOnly)
  func diskFull() async throws {
    let (tar, _) = try makeTar { w in
      try w.add(.file("small", size: 0), contents: [1, 2, 3])
      try w.add(.file("huge", size: 0), contents: pseudoRandomBytes(4 << 20, seed: 5))
    }
    try await ArchiveFixtures.withTemporaryDirectory("enospc") { base in
      let mountPoint = base + "/tiny"
      try FS.makeDirectories(mountPoint)
      try ArchiveFixtures.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint])
      defer { _ = try? ArchiveFixtures.run("/bin/umount", [mountPoint]) }
      let dest = mountPoint + "/dest"
      try FS.makeDirectories(dest)
      let error = await #expect(throws: BerthError.self) { try await unpack(tar, into: dest) }
      #expect(error?.errno == ENOSPC, "\(String(describing: error))")
      #expect(error?.message.contains("\"huge\"") == true, "\(String(describing: error))")
      #expect(error?.message.contains("No space left on device") == true)
    }
  }

  @Test("cancel stops the workers; later calls fail")
  func cancel() async throws {
    let layer = try SampleLayer.get()
    try await withDestination { _, dest in
      let unpacker = try LayerUnpacker(destination: dest, compression: .gzip)
      try await unpacker.write(Array(layer.gzip.prefix(100_000)))
      await unpacker.cancel()
      let afterCancel = await #expect(throws: BerthError.self) { try await unpacker.write([1, 2, 3]) }
      #expect(afterCancel?.code == .invalidState)
      let finish = await #expect(throws: BerthError.self) { try await unpacker.finish() }
      #expect(finish?.code == .invalidState)
      // Nothing writes to the destination any more: it can be removed and stays removed.
      try FS.removeTree(dest)
      usleep(50_000)
      #expect(!FS.exists(dest))
    }
  }

  @Test("an error stops a writer that is waiting for room")
  func errorWakesWriter() async throws {
    try await withDestination { _, dest in
      // Plain garbage: the extractor fails at once, while the writer keeps pushing.
      let unpacker = try LayerUnpacker(destination: dest, compression: LayerCompression.none)
      let garbage = pseudoRandomBytes(1 << 20, seed: 3)
      let error = await #expect(throws: BerthError.self) {
        for _ in 0..<64 { try await unpacker.write(garbage) }
      }
      #expect(error?.code == .invalidArchive)
      await unpacker.cancel()
    }
  }

  @Test("a write from a cancelled task fails and stops the unpack")
  func taskCancellation() async throws {
    let layer = try SampleLayer.get()
    try await withDestination { _, dest in
      let unpacker = try LayerUnpacker(destination: dest, compression: .gzip)
      try await unpacker.write(Array(layer.gzip.prefix(1000)))
      let task = Task {
        withUnsafeCurrentTask { $0?.cancel() }
        try await unpacker.write(Array(layer.gzip.dropFirst(1000)))
      }
      let result = await task.result
      let error = #expect(throws: BerthError.self) { try result.get() }
      #expect(error?.code == .cancelled)
      let finish = await #expect(throws: BerthError.self) { try await unpacker.finish() }
      #expect(finish?.code == .cancelled)
    }
  }
}
