import BerthArchive
import BerthImages
import BerthJSON
import BerthOCI
import BerthOS
import BerthTestSupport
import CLinux
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `ImageCommitter` on a hand-made overlay upper directory: the layer's tar entries, the
/// unpacked layer, reproducibility, chain IDs, and the image it writes.
@Suite("ImageCommitter", .enabled(if: ArchiveFixtures.isRoot, "needs root: whiteout devices, owners and trusted.* xattrs"))
struct ImageCommitterTests {
  /// security.capability v2 with CAP_NET_RAW (13) permitted and effective.
  static let netRawCapability: [UInt8] = [0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00] + [UInt8](repeating: 0, count: 12)
  static let future: Int64 = 2_000_000_000  // 2033: later than the clamp
  static let clamp: Int64 = 1_000_000_000  // 2001

  /// An upper directory as overlayfs leaves it:
  ///
  ///     a/            0750, 1000:1000
  ///     a/file        "hello", 0640, 1000:1000, trusted.overlay.origin (overlay's own: dropped)
  ///     a/link        a hard link of a/file
  ///     b             whiteout (char device 0/0)
  ///     c/            opaque (trusted.overlay.opaque=y)
  ///     c/new         "new"
  ///     d             symlink to a/file
  ///     e             security.capability, user.note
  static func makeUpper(_ upper: String) throws {
    try FS.makeDirectories(upper + "/a")
    try FS.makeDirectories(upper + "/c")
    try FS.write(upper + "/a/file", "hello", mode: 0o640)
    try check("chmod") { chmod(upper + "/a/file", 0o640) }
    try check("chown") { chown(upper + "/a/file", 1000, 1000) }
    try check("chmod") { chmod(upper + "/a", 0o750) }
    try check("chown") { chown(upper + "/a", 1000, 1000) }
    try check("link") { link(upper + "/a/file", upper + "/a/link") }
    try check("mknod") { mknod(upper + "/b", S_IFCHR | 0o000, berth_makedev(0, 0)) }
    try FS.write(upper + "/c/new", "new")
    try check("symlink") { symlink("a/file", upper + "/d") }
    try FS.write(upper + "/e", "capable", mode: 0o755)
    try setXattr(upper + "/c", "trusted.overlay.opaque", Array("y".utf8))
    try setXattr(upper + "/a/file", "trusted.overlay.origin", [0, 1, 2])
    try setXattr(upper + "/e", "security.capability", netRawCapability)
    try setXattr(upper + "/e", "user.note", Array("kept".utf8))
    for path in ["/a/file", "/a", "/c/new", "/c", "/e", ""] {
      var times = [timespec(tv_sec: Int(future), tv_nsec: 0), timespec(tv_sec: Int(future), tv_nsec: 0)]
      try check("utimensat") { utimensat(AT_FDCWD, upper + path, &times, AT_SYMLINK_NOFOLLOW) }
    }
  }

  static func setXattr(_ path: String, _ name: String, _ value: [UInt8]) throws {
    let status = ExtendedAttributes.set(.path(Array(path.utf8CString)), name: Array(name.utf8), value: value)
    if status != 0 { throw BerthError.system("setxattr \(name) on \(path)") }
  }

  /// The members of a layer blob, in order.
  static func entries(of blob: String) throws -> [TarEntry] {
    let reader = try TarReader(file: blob)
    var result: [TarEntry] = []
    while let entry = try reader.next() { result.append(entry) }
    return result
  }

  @Test("the layer's tar: sorted members, whiteouts, opaque marker, owners, modes, xattrs, hard links, clamped times")
  func layerEntries() async throws {
    try await ArchiveFixtures.withTemporaryDirectory("committer") { directory in
      let store = try ImageStore(root: directory + "/root")
      let upper = directory + "/upper"
      try Self.makeUpper(upper)
      let committer = ImageCommitter(store: store)
      let layer = try await committer.commitLayer(fromDirectory: upper, parentChainID: nil, clampMTime: Self.clamp)

      let blobPath = store.layout.blob(layer.blob)
      #expect(try FS.read(blobPath).prefix(2) == [0x1f, 0x8b], "the blob is gzip")
      #expect(Int64(try FS.read(blobPath).count) == layer.blobSize)
      let entries = try Self.entries(of: blobPath)
      #expect(entries.map(\.path) == ["a/", "a/file", "a/link", ".wh.b", "c/", "c/.wh..wh..opq", "c/new", "d", "e"])
      let byPath = Dictionary(entries.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
      let file = try #require(byPath["a/file"])
      #expect(file.kind == .regular && file.size == 5 && file.mode == 0o640 && file.uid == 1000 && file.gid == 1000)
      #expect(file.xattrs.isEmpty, "overlay's trusted.overlay.* never goes into a layer: \(file.xattrs)")
      #expect(byPath["a/"]?.kind == .directory && byPath["a/"]?.mode == 0o750 && byPath["a/"]?.uid == 1000)
      #expect(byPath["a/link"]?.kind == .hardlink && byPath["a/link"]?.linkTarget == "a/file")
      #expect(byPath[".wh.b"]?.kind == .regular && byPath[".wh.b"]?.size == 0)
      #expect(byPath["c/"]?.xattrs.keys.contains("trusted.overlay.opaque") == false)
      #expect(byPath["d"]?.kind == .symlink && byPath["d"]?.linkTarget == "a/file")
      #expect(byPath["e"]?.xattrs["security.capability"] == Self.netRawCapability)
      #expect(byPath["e"]?.xattrs["user.note"] == Array("kept".utf8))
      #expect(byPath["e"]?.mode == 0o755)
      for entry in entries { #expect(entry.mtime <= Self.clamp, "\(entry.path) mtime \(entry.mtime) is not clamped") }
      #expect(file.mtime == Self.clamp)

      // The digests: diffID of the tar, blob digest of the gzip stream.
      #expect(Digest(sha256Of: try FS.read(blobPath)) == layer.blob)
      #expect(layer.chainID == layer.diffID, "a first layer's chain ID is its diffID")
      #expect(store.content.contains(layer.blob))

      // The unpacked layer is back in overlay form: a 0/0 device, the opaque xattr, the link.
      let diff = store.layout.layerDiff(layer.chainID)
      #expect(try store.layers.contains(layer.chainID))
      #expect(try store.layers.size(layer.chainID) == layer.size)
      #expect(layer.size == 5 + 3 + 6 + 7, "hello (its hard link once), new, the symlink's target, capable")
      var info = stat()
      #expect(lstat(diff + "/b", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == 0)
      let opaque = try ExtendedAttributes.value(.path(Array((diff + "/c").utf8CString)), name: Array("trusted.overlay.opaque".utf8))
      #expect(opaque == Array("y".utf8))
      var fileInfo = stat(), linkInfo = stat()
      #expect(lstat(diff + "/a/file", &fileInfo) == 0 && lstat(diff + "/a/link", &linkInfo) == 0)
      #expect(fileInfo.st_ino == linkInfo.st_ino && fileInfo.st_nlink == 2)
      #expect(try FS.readText(diff + "/c/new") == "new")
      let capability = try ExtendedAttributes.value(.path(Array((diff + "/e").utf8CString)), name: Array("security.capability".utf8))
      #expect(capability == Self.netRawCapability)
      #expect(try FS.list(store.layout.ingest).isEmpty, "nothing left in content/ingest")
      #expect(try FS.list(store.layout.layers).filter { $0.hasPrefix(".tmp-") }.isEmpty, "no staging directory left")
    }
  }

  @Test("the same directory twice, and a copy of it elsewhere, give the same diffID and blob digest")
  func reproducible() async throws {
    try await ArchiveFixtures.withTemporaryDirectory("committer") { directory in
      let upper = directory + "/upper"
      try Self.makeUpper(upper)
      let store = try ImageStore(root: directory + "/root")
      let committer = ImageCommitter(store: store)
      let first = try await committer.commitLayer(fromDirectory: upper, parentChainID: nil, clampMTime: Self.clamp)
      let second = try await committer.commitLayer(fromDirectory: upper, parentChainID: nil, clampMTime: Self.clamp)
      #expect(first == second)

      // A copy made later (other inodes, other directory times) into another store.
      let copy = directory + "/copy"
      try ArchiveFixtures.run("/bin/cp", ["-a", upper, copy])
      let other = ImageCommitter(store: try ImageStore(root: directory + "/root2"))
      let third = try await other.commitLayer(fromDirectory: copy, parentChainID: nil, clampMTime: Self.clamp)
      #expect(third == first)

      // Without a clamp the times are the files' own: another diffID.
      let unclamped = try await committer.commitLayer(fromDirectory: upper, parentChainID: nil, clampMTime: nil)
      #expect(unclamped.diffID != first.diffID)
      let entries = try Self.entries(of: store.layout.blob(unclamped.blob))
      #expect(entries.first { $0.path == "a/file" }?.mtime == Self.future)

      // Excluded paths (a runtime's mountpoints) are left out with what is under them.
      let excluded = try await committer.commitLayer(fromDirectory: upper, parentChainID: nil, clampMTime: Self.clamp, excluding: ["/a", "c/new"])
      #expect(try Self.entries(of: store.layout.blob(excluded.blob)).map(\.path) == [".wh.b", "c/", "c/.wh..wh..opq", "d", "e"])
    }
  }

  @Test("a second layer on the first: chain ID, image config, manifest, tag; a layer on the wrong parent is refused")
  func stackAndImage() async throws {
    try await ArchiveFixtures.withTemporaryDirectory("committer") { directory in
      let store = try ImageStore(root: directory + "/root")
      let committer = ImageCommitter(store: store)
      try FS.makeDirectories(directory + "/one/bin")
      try FS.write(directory + "/one/bin/tool", "#!/bin/sh\n", mode: 0o755)
      try FS.makeDirectories(directory + "/two")
      try FS.write(directory + "/two/note", "second")
      try check("mknod") { mknod(directory + "/two/bin", S_IFCHR, berth_makedev(0, 0)) }

      let one = try await committer.commitLayer(fromDirectory: directory + "/one", parentChainID: nil, clampMTime: 0)
      let two = try await committer.commitLayer(fromDirectory: directory + "/two", parentChainID: one.chainID, clampMTime: 0)
      #expect(two.chainID == LayerStore.chainIDs([one.diffID, two.diffID])[1])
      #expect(two.chainID == ImageCommitter.chainID(of: two.diffID, parent: one.chainID))

      let config = ImageConfig(
        created: "2026-01-01T00:00:00Z", architecture: Platform.host.architecture, os: "linux",
        config: ContainerConfig(Cmd: ["/bin/tool"]), rootfs: RootFS(diff_ids: []),
        history: [History(created_by: "one"), History(created_by: "two", comment: "second layer")])
      let first = try await committer.writeImage(base: nil, newLayers: [one], config: config, tags: [])
      #expect(first.tags.isEmpty)
      let image = try await committer.writeImage(base: first, newLayers: [two], config: config, tags: ["committer/test:1", "other"])
      #expect(image.tags == ["docker.io/committer/test:1", "docker.io/library/other:latest"])
      #expect(try store.resolve("committer/test:1").id == image.id)
      let (stored, bytes) = try store.config(of: image)
      #expect(stored.rootfs.diff_ids == [one.diffID.description, two.diffID.description])
      #expect(stored.config?.Cmd == ["/bin/tool"])
      #expect(Digest(sha256Of: bytes) == image.id)
      let manifest = try store.manifest(of: image)
      #expect(manifest.mediaType == MediaType.ociManifest)
      #expect(manifest.config.digest == image.id.description)
      #expect(manifest.layers.map(\.digest) == [one.blob.description, two.blob.description])
      #expect(manifest.layers.map(\.size) == [one.blobSize, two.blobSize])
      #expect(manifest.layers.allSatisfy { $0.mediaType == MediaType.ociLayerGzip })
      #expect(image.size == one.size + two.size)
      #expect(try store.chainIDs(of: image) == [one.chainID, two.chainID])

      // `two` was made on `one`: on no base it does not fit; nothing is recorded.
      let before = try store.images().count
      await #expect(throws: BerthError.self) {
        _ = try await committer.writeImage(base: nil, newLayers: [two], config: config, tags: ["committer/bad:1"])
      }
      #expect(try store.images().count == before)
      #expect(try store.imageID(forTag: "docker.io/committer/bad:1") == nil)
      // A bad reference and a missing parent fail before anything is made.
      await #expect(throws: (any Error).self) {
        _ = try await committer.writeImage(base: first, newLayers: [two], config: config, tags: ["Bad:Ref"])
      }
      let missing = Digest(sha256Of: Array("no such layer".utf8))
      let error = await #expect(throws: BerthError.self) {
        _ = try await committer.commitLayer(fromDirectory: directory + "/two", parentChainID: missing, clampMTime: nil)
      }
      #expect(error?.code == .layerMissing)
    }
  }
}
