import BerthArchive
import BerthOCI
import BerthOS
import BerthTestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

@Suite("TarReader")
struct TarReaderTests {
  /// What `docker save` writes (plus the OCI layout files newer Docker adds).
  static func dockerSaveMembers() throws -> [(String, [UInt8])] {
    let (layer, layerResult) = try makeTar { w in
      try w.add(.directory("etc"))
      try w.add(.file("etc/hostname", size: 0), contents: Array("box\n".utf8))
    }
    let layerHex = layerResult.diffID.encoded
    let config = Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["\#(layerResult.diffID)"]}}"#.utf8)
    let configHex = ArchiveFixtures.sha256Hex(config)
    let manifest = Array(#"[{"Config":"\#(configHex).json","RepoTags":["box:latest"],"Layers":["\#(layerHex)/layer.tar"]}]"#.utf8)
    return [
      ("\(layerHex)/VERSION", Array("1.0".utf8)),
      ("\(layerHex)/layer.tar", layer),
      ("\(configHex).json", config),
      ("blobs/sha256/\(layerHex)", layer),
      ("oci-layout", Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8)),
      ("index.json", Array(#"{"schemaVersion":2,"manifests":[]}"#.utf8)),
      ("manifest.json", manifest),
      ("repositories", Array(#"{"box":{"latest":"\#(layerHex)"}}"#.utf8)),
    ]
  }

  @Test("reads a docker-save archive: names, sizes, JSON files and streamed blobs", arguments: LayerCompression.allCases)
  func dockerSave(_ compression: LayerCompression) throws {
    let members = try Self.dockerSaveMembers()
    let (archive, _) = try makeTar(compression: compression) { w in
      try w.add(.directory("blobs"))
      try w.add(.directory("blobs/sha256"))
      for (path, content) in members { try w.add(.file(path, size: 0), contents: content) }
    }
    try ArchiveFixtures.withTemporaryDirectory("load") { base in
      try writeFile(base + "/image.tar", archive)
      let reader = try TarReader(file: base + "/image.tar")
      var seen: [String] = []
      var manifest: [UInt8]?
      var blobDigest: Digest?
      while let entry = try reader.next() {
        seen.append(entry.path)
        if entry.path == "manifest.json" {
          manifest = try reader.readContents()
        } else if entry.path.hasPrefix("blobs/sha256/") && entry.kind == .regular {
          var digest = StreamingDigest()
          try reader.readContents { digest.update($0) }
          #expect(digest.byteCount == entry.size)
          blobDigest = digest.finalize()
        }
        // Everything else is skipped without reading.
      }
      #expect(seen == ["blobs/", "blobs/sha256/"] + members.map(\.0))
      #expect(manifest == members.first { $0.0 == "manifest.json" }?.1)
      #expect(blobDigest?.encoded == members.first { $0.0.hasPrefix("blobs/") }.map { String($0.0.dropFirst("blobs/sha256/".count)) })
    }
  }

  @Test("reads an archive GNU tar wrote, in pieces with read(into:)")
  func gnuTar() throws {
    try ArchiveFixtures.withTemporaryDirectory("gnu") { base in
      try FS.makeDirectories(base + "/src/sub")
      let big = pseudoRandomBytes(1_000_003, seed: 21)
      try FS.write(base + "/src/sub/big", big)
      try FS.write(base + "/src/small", "small")
      try ArchiveFixtures.run("/bin/tar", ["-C", base + "/src", "--sort=name", "-czf", base + "/a.tgz", "."])
      let reader = try TarReader(file: base + "/a.tgz", compression: .gzip)
      var contents: [String: [UInt8]] = [:]
      var buffer = [UInt8](repeating: 0, count: 4099)
      while let entry = try reader.next() {
        guard entry.kind == .regular else { continue }
        var data: [UInt8] = []
        while true {
          let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
          if n == 0 { break }
          data += buffer[0..<n]
        }
        contents[entry.path] = data
      }
      #expect(contents == ["./small": Array("small".utf8), "./sub/big": big])
    }
  }

  @Test("sparse members read as their full content, holes as zeros")
  func sparse() throws {
    try ArchiveFixtures.withTemporaryDirectory("sparse") { base in
      try FS.makeDirectories(base + "/src")
      let fd = try OwnedFD.open(base + "/src/s", O_WRONLY | O_CREAT | O_TRUNC)
      let data = pseudoRandomBytes(4096, seed: 2)
      _ = data.withUnsafeBytes { pwrite(fd.raw, $0.baseAddress, $0.count, 1 << 20) }
      try check("ftruncate") { ftruncate(fd.raw, 3 << 20) }
      try ArchiveFixtures.run("/bin/tar", ["--sparse", "--format=posix", "-C", base + "/src", "-cf", base + "/s.tar", "s"])
      let reader = try TarReader(file: base + "/s.tar")
      let entry = try reader.next()
      #expect(entry?.size == 3 << 20)
      let content = try reader.readContents()
      var expected = [UInt8](repeating: 0, count: 3 << 20)
      expected.replaceSubrange((1 << 20)..<((1 << 20) + 4096), with: data)
      #expect(content == expected)
    }
  }

  @Test("refusals: oversized members, the wrong compression, truncated archives")
  func refusals() throws {
    let (tar, _) = try makeTar { w in
      try w.add(.file("big", size: 0), contents: pseudoRandomBytes(100_000, seed: 1))
      try w.add(.file("after", size: 0), contents: [1])
    }
    try ArchiveFixtures.withTemporaryDirectory("refuse") { base in
      try writeFile(base + "/t.tar", tar)
      let reader = try TarReader(file: base + "/t.tar")
      _ = try reader.next()
      let tooBig = #expect(throws: BerthError.self) { try reader.readContents(maximumSize: 1000) }
      #expect(tooBig?.code == .invalidArchive)
      #expect(try reader.next()?.path == "after")

      let wrong = #expect(throws: BerthError.self) { try TarReader(file: base + "/t.tar", compression: .gzip) }
      #expect(wrong?.code == .invalidArchive)

      try writeFile(base + "/cut.tar", Array(tar.prefix(50_000)))
      let cut = try TarReader(file: base + "/cut.tar")
      #expect(try cut.next()?.path == "big")
      let truncated = #expect(throws: BerthError.self) { try cut.readContents() }
      #expect(truncated?.message.lowercased().contains("truncated") == true, "\(String(describing: truncated))")

      try writeFile(base + "/junk", pseudoRandomBytes(5000, seed: 3))
      #expect(throws: BerthError.self) { try TarReader(file: base + "/junk") }
      #expect(throws: BerthError.self) { try TarReader(file: base + "/missing") }
    }
  }
}

@Suite("StreamingDigest")
struct StreamingDigestTests {
  @Test("chunked hashing equals one-shot hashing and sha256sum", arguments: [1, 7, 4096, 1 << 20])
  func chunks(size: Int) throws {
    let data = pseudoRandomBytes(3_000_001, seed: 9)
    var digest = StreamingDigest()
    var offset = 0
    while offset < data.count {
      let end = min(offset + size, data.count)
      if size == 7 {
        data.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[offset..<end])) }
      } else {
        digest.update(Array(data[offset..<end]))
      }
      offset = end
    }
    #expect(digest.byteCount == Int64(data.count))
    #expect(digest.finalize().description == "sha256:" + ArchiveFixtures.sha256Hex(data))
    if size == 1 << 20 {
      try ArchiveFixtures.withTemporaryDirectory("digest") { base in
        try writeFile(base + "/d", data)
        let sum = try ArchiveFixtures.run("/usr/bin/sha256sum", [base + "/d"])
        #expect(String(decoding: sum.prefix(64), as: UTF8.self) == digest.finalize().encoded)
      }
    }
  }

  @Test("the digest of nothing")
  func empty() {
    #expect(StreamingDigest().finalize().description == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
  }
}
