import BerthArchive
import BerthOCI
import BerthOS
import BerthTestSupport
import CLinux
import Testing

#if canImport(Glibc)
  import Glibc
#endif

@Suite("LayerUnpacker: whiteouts", rootOnly)
struct LayerUnpackerWhiteoutTests {
  /// A layer that deletes and hides things of the layers below, with markers before and after
  /// the entries they sit beside.
  static func whiteoutLayer() throws -> [UInt8] {
    try makeTar { w in
      try w.add(.directory("dir"))
      try w.add(.file("dir/keep", size: 0), contents: Array("kept".utf8))
      try w.addWhiteout("dir/gone")
      try w.addWhiteout("topgone")
      // Opaque marker first, then an entry of the same layer in that directory.
      try w.add(.directory("opq"))
      try w.addOpaqueMarker(directory: "opq")
      try w.add(.file("opq/inside", size: 0), contents: Array("new".utf8))
      // Entries first, then the marker.
      try w.add(.file("opq2/inside", size: 0), contents: Array("new2".utf8))
      try w.addOpaqueMarker(directory: "opq2")
      // A whiteout and an entry of the same name in one layer: the entry stays, in either order.
      try w.addWhiteout("both/before")
      try w.add(.file("both/before", size: 0), contents: Array("entry".utf8))
      try w.add(.file("both/after", size: 0), contents: Array("entry".utf8))
      try w.addWhiteout("both/after")
      // aufs bookkeeping: not content.
      try w.add(.directory(".wh..wh.plnk"))
    }.bytes
  }

  @Test("OCI whiteouts become 0:0 character devices and opaque markers trusted.overlay.opaque")
  func conversion() async throws {
    let tar = try Self.whiteoutLayer()
    try await withDestination { _, dest in
      let result = try await unpack(tar, into: dest)
      #expect(result.entries == 14)
      for path in ["dir/gone", "topgone"] {
        let info = try ArchiveFixtures.lstatOrThrow(dest + "/" + path)
        #expect(info.st_mode & S_IFMT == S_IFCHR, "\(path)")
        #expect(info.st_rdev == 0, "\(path)")
      }
      #expect(try FS.readText(dest + "/dir/keep") == "kept")
      #expect(try ArchiveFixtures.xattr(dest + "/opq", "trusted.overlay.opaque") == Array("y".utf8))
      #expect(try ArchiveFixtures.xattr(dest + "/opq2", "trusted.overlay.opaque") == Array("y".utf8))
      #expect(try ArchiveFixtures.xattr(dest + "/dir", "trusted.overlay.opaque") == nil)
      #expect(try FS.readText(dest + "/opq/inside") == "new")
      #expect(try FS.readText(dest + "/opq2/inside") == "new2")
      #expect(try FS.readText(dest + "/both/before") == "entry")
      #expect(try FS.readText(dest + "/both/after") == "entry")
      // No .wh.* file is created.
      let all = try ArchiveFixtures.listTree(dest)
      #expect(!all.contains { Path.basename($0).hasPrefix(".wh.") }, "\(all)")
    }
  }

  @Test("with overlayWhiteouts off the .wh. files are extracted as they are")
  func keepWhiteoutFiles() async throws {
    let tar = try Self.whiteoutLayer()
    try await withDestination { _, dest in
      _ = try await unpack(tar, into: dest, options: UnpackOptions(overlayWhiteouts: false))
      #expect(try ArchiveFixtures.lstatOrThrow(dest + "/dir/.wh.gone").st_mode & S_IFMT == S_IFREG)
      #expect(try ArchiveFixtures.lstatOrThrow(dest + "/opq/.wh..wh..opq").st_mode & S_IFMT == S_IFREG)
      #expect(lstatOrNil(dest + "/dir/gone") == nil)
      #expect(try ArchiveFixtures.xattr(dest + "/opq", "trusted.overlay.opaque") == nil)
    }
  }

  @Test("overlayfs honours the converted whiteouts: deleted and hidden lower files vanish from the merged view")
  func overlayMount() async throws {
    let lower = try makeTar { w in
      try w.add(.directory("dir"))
      try w.add(.file("dir/gone", size: 0), contents: Array("lower".utf8))
      try w.add(.file("dir/keep", size: 0), contents: Array("lower".utf8))
      try w.add(.file("topgone", size: 0), contents: Array("lower".utf8))
      try w.add(.directory("opq"))
      try w.add(.file("opq/old", size: 0), contents: Array("lower".utf8))
      try w.add(.directory("opq2"))
      try w.add(.file("opq2/old", size: 0), contents: Array("lower".utf8))
    }.bytes
    let upper = try Self.whiteoutLayer()
    try await ArchiveFixtures.withTemporaryDirectory("overlay") { base in
      for name in ["l1", "l2", "merged"] { try FS.makeDirectories(base + "/" + name) }
      _ = try await unpack(lower, into: base + "/l1")
      _ = try await unpack(upper, into: base + "/l2")
      try ArchiveFixtures.run("/bin/mount", ["-t", "overlay", "overlay", "-o", "lowerdir=\(base)/l2:\(base)/l1", base + "/merged"])
      defer { _ = try? ArchiveFixtures.run("/bin/umount", [base + "/merged"]) }
      let merged = base + "/merged"
      #expect(lstatOrNil(merged + "/dir/gone") == nil)
      #expect(lstatOrNil(merged + "/topgone") == nil)
      #expect(try FS.readText(merged + "/dir/keep") == "kept")
      #expect(try FS.list(merged + "/opq").sorted() == ["inside"])
      #expect(try FS.list(merged + "/opq2").sorted() == ["inside"])
    }
  }
}
