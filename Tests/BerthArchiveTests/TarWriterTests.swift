import BerthArchive
import BerthOCI
import BerthOS
import BerthTestSupport
import CLinux
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Sets a path's times without following a symlink.
func setTimes(_ path: String, _ seconds: Int) throws {
  var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
  try check("utimensat \(path)") { utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) }
}

/// A directory tree with every kind of file, owners, special modes and xattrs, with fixed times.
func makeSampleTree(_ root: String) throws {
  for dir in ["etc", "bin", "home/user", "tmp", "usr/lib", "run", "dev", "empty-dir"] {
    try FS.makeDirectories(root + "/" + dir)
  }
  try FS.write(root + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
  try FS.write(root + "/bin/su", "su", mode: 0o755)
  try check("chmod") { chmod(root + "/bin/su", 0o4755) }
  try FS.write(root + "/bin/ping", "ping", mode: 0o755)
  try ArchiveFixtures.setXattr(root + "/bin/ping", "security.capability", netBindServiceCapability)
  try ArchiveFixtures.setXattr(root + "/bin/ping", "user.note", Array("pong".utf8))
  try FS.write(root + "/bin/a", pseudoRandomBytes(5000, seed: 11))
  try check("link") { link(root + "/bin/a", root + "/bin/b") }
  try FS.write(root + "/home/user/.profile", "export X=1\n", mode: 0o600)
  try check("chown") { chown(root + "/home/user/.profile", 1000, 1000) }
  try check("chown") { chown(root + "/home/user", 1000, 1000) }
  try check("chmod") { chmod(root + "/home/user", 0o700) }
  try check("chmod") { chmod(root + "/tmp", 0o1777) }
  try check("symlink") { symlink("usr/lib", root + "/lib") }
  try ArchiveFixtures.setXattr(root + "/lib", "trusted.berth", Array("on a symlink".utf8))
  try check("symlink") { symlink("/absolute/elsewhere", root + "/usr/lib/abs-link") }
  try FS.write(root + "/usr/lib/big.so", pseudoRandomBytes(2 << 20, seed: 12))
  try check("mkfifo") { mkfifo(root + "/run/fifo", 0o620) }
  try check("mknod") { mknod(root + "/dev/null", S_IFCHR | 0o666, berth_makedev(1, 3)) }
  try check("mknod") { mknod(root + "/dev/loop7", S_IFBLK | 0o660, berth_makedev(7, 7)) }
  try FS.write(root + "/empty", [UInt8]())
  // Times last, deepest first, so that creating files does not change them again.
  for path in try ArchiveFixtures.listTree(root).reversed() {
    try setTimes(root + "/" + path, 1_600_000_000 + path.utf8.count)
  }
}

@Suite("TarWriter")
struct TarWriterTests {
  @Test("a tree packed and unpacked again is the same tree", rootOnly, arguments: LayerCompression.allCases)
  func roundTrip(_ compression: LayerCompression) async throws {
    try await ArchiveFixtures.withTemporaryDirectory("pack") { base in
      let source = base + "/source", dest = base + "/dest"
      try FS.makeDirectories(source)
      try FS.makeDirectories(dest)
      try makeSampleTree(source)
      let (blob, written) = try makeTar(compression: compression) { try $0.addTree(source) }
      #expect(written.size == Int64(blob.count))
      #expect(written.digest.description == "sha256:" + ArchiveFixtures.sha256Hex(blob))
      if compression == .none { #expect(written.digest == written.diffID) }

      let result = try await unpack(blob, into: dest, compression: compression)
      #expect(result.diffID == written.diffID)
      #expect(result.uncompressedSize == written.uncompressedSize)
      let expected = try ArchiveFixtures.snapshot(source)
      let actual = try ArchiveFixtures.snapshot(dest)
      for (path, record) in expected {
        #expect(actual[path] == record, "\(path): \(String(describing: actual[path])) != \(record)")
      }
      #expect(Set(actual.keys) == Set(expected.keys))
      #expect(try ArchiveFixtures.lstatOrThrow(dest + "/bin/a").st_ino == ArchiveFixtures.lstatOrThrow(dest + "/bin/b").st_ino)
    }
  }

  @Test("the same tree gives the same bytes; a changed time changes them unless clamped", rootOnly,
        arguments: LayerCompression.allCases)
  func reproducible(_ compression: LayerCompression) throws {
    try ArchiveFixtures.withTemporaryDirectory("repro") { base in
      try makeSampleTree(base)
      let first = try makeTar(compression: compression) { try $0.addTree(base) }
      let second = try makeTar(compression: compression) { try $0.addTree(base) }
      #expect(first.bytes == second.bytes)
      #expect(first.result == second.result)

      let clamp = TarWriter.TreeOptions(mtimeClamp: 1_000_000_000)
      let clamped = try makeTar(compression: compression) { try $0.addTree(base, options: clamp) }
      try setTimes(base + "/etc/passwd", 1_700_000_000)
      let touched = try makeTar(compression: compression) { try $0.addTree(base) }
      #expect(touched.result.diffID != first.result.diffID)
      #expect(touched.result.digest != first.result.digest)
      // Every time in the tree is past the clamp: touching a file changes nothing.
      let clampedTouched = try makeTar(compression: compression) { try $0.addTree(base, options: clamp) }
      #expect(clampedTouched.result == clamped.result)
    }
  }

  @Test("mtimeClamp lowers later times only; prefix puts members under a path")
  func clampAndPrefix() throws {
    try ArchiveFixtures.withTemporaryDirectory("clamp") { base in
      try FS.write(base + "/new", "n")
      try FS.write(base + "/old", "o")
      try setTimes(base + "/new", 2_000_000_000)
      try setTimes(base + "/old", 500_000_000)
      let (tar, _) = try makeTar { try $0.addTree(base, options: .init(prefix: "/opt/app/", mtimeClamp: 1_000_000_000)) }
      try writeFile(base + "/out.tar", tar)
      let reader = try TarReader(file: base + "/out.tar")
      var times: [String: Int64] = [:]
      while let entry = try reader.next() {
        if entry.path.hasSuffix(".tar") { continue }
        times[entry.path] = entry.mtime
      }
      #expect(times == ["opt/app/new": 1_000_000_000, "opt/app/old": 500_000_000])
    }
  }

  @Test("overlayfs whiteouts and opaque directories become OCI markers, and back", rootOnly)
  func overlayUpper() async throws {
    try await ArchiveFixtures.withTemporaryDirectory("upper") { base in
      for name in ["lower", "upper", "work", "merged", "dest"] { try FS.makeDirectories(base + "/" + name) }
      try FS.write(base + "/lower/a", "a")
      try FS.write(base + "/lower/b", "b")
      try FS.makeDirectories(base + "/lower/d")
      try FS.write(base + "/lower/d/x", "x")
      let merged = base + "/merged"
      try ArchiveFixtures.run(
        "/bin/mount",
        ["-t", "overlay", "overlay", "-o", "lowerdir=\(base)/lower,upperdir=\(base)/upper,workdir=\(base)/work", merged])
      do {
        // The kernel writes the whiteouts: a deleted file, a directory removed and made again.
        try check("unlink") { unlink(merged + "/a") }
        try FS.removeTree(merged + "/d")
        try FS.makeDirectories(merged + "/d")
        try FS.write(merged + "/d/new", "new")
        try FS.write(merged + "/c", "c")
      } catch {
        _ = try? ArchiveFixtures.run("/bin/umount", [merged])
        throw error
      }
      try ArchiveFixtures.run("/bin/umount", [merged])
      #expect(try ArchiveFixtures.lstatOrThrow(base + "/upper/a").st_mode & S_IFMT == S_IFCHR)
      #expect(try ArchiveFixtures.xattr(base + "/upper/d", "trusted.overlay.opaque") == Array("y".utf8))

      let (tar, _) = try makeTar { try $0.addTree(base + "/upper", options: .init(overlayWhiteouts: true)) }
      try writeFile(base + "/layer.tar", tar)
      let reader = try TarReader(file: base + "/layer.tar")
      var entries: [String: TarEntry] = [:]
      while let entry = try reader.next() { entries[entry.path] = entry }
      #expect(Set(entries.keys) == [".wh.a", "c", "d/", "d/.wh..wh..opq", "d/new"])
      #expect(entries[".wh.a"]?.kind == .regular && entries[".wh.a"]?.size == 0)
      #expect(entries.values.allSatisfy { $0.kind != .characterDevice })
      #expect(entries.values.allSatisfy { $0.xattrs.keys.allSatisfy { !$0.hasPrefix("trusted.overlay.") } })

      // Unpacked, the markers are overlayfs whiteouts again.
      _ = try await unpack(tar, into: base + "/dest")
      let whiteout = try ArchiveFixtures.lstatOrThrow(base + "/dest/a")
      #expect(whiteout.st_mode & S_IFMT == S_IFCHR && whiteout.st_rdev == 0)
      #expect(try ArchiveFixtures.xattr(base + "/dest/d", "trusted.overlay.opaque") == Array("y".utf8))
      #expect(try FS.readText(base + "/dest/d/new") == "new")

      // Without the option the upper directory is archived as it is.
      let (plain, _) = try makeTar { try $0.addTree(base + "/upper") }
      try writeFile(base + "/plain.tar", plain)
      let plainReader = try TarReader(file: base + "/plain.tar")
      var kinds: [String: TarEntry.Kind] = [:]
      while let entry = try plainReader.next() { kinds[entry.path] = entry.kind }
      #expect(kinds["a"] == .characterDevice)
      #expect(kinds[".wh.a"] == nil)
    }
  }

  @Test("single members read back with every field", arguments: LayerCompression.allCases)
  func singleMembers(_ compression: LayerCompression) throws {
    let longName = "deep/" + String(repeating: "long-directory-name/", count: 15) + "file-é-日本.txt"
    let members: [(TarEntry, [UInt8]?)] = [
      (TarEntry(path: "dir/", kind: .directory, mode: 0o2750, uid: 7, gid: 8, mtime: 1_234_567_890), nil),
      (TarEntry(path: "dir/file", kind: .regular, mode: 0o4711, uid: 100_000, gid: 200_000, mtime: 1_600_000_000,
                mtimeNanoseconds: 987_654_321, xattrs: ["user.a": [0, 1, 2, 255], "security.capability": netBindServiceCapability]),
       Array("content".utf8)),
      (.symlink("dir/link", target: "../" + longName), nil),
      (.hardlink("dir/hard", target: "dir/file"), nil),
      (TarEntry(path: "dev/tty0", kind: .characterDevice, mode: 0o620, deviceMajor: 4, deviceMinor: 0), nil),
      (TarEntry(path: "dev/sda", kind: .blockDevice, mode: 0o660, deviceMajor: 8, deviceMinor: 1), nil),
      (TarEntry(path: "pipe", kind: .fifo, mode: 0o600), nil),
      (TarEntry(path: longName, kind: .regular, mode: 0o644), pseudoRandomBytes(100_000, seed: 4)),
    ]
    let (tar, written) = try makeTar(compression: compression) { w in
      for (entry, content) in members {
        if let content { try w.add(entry, contents: content) } else { try w.add(entry) }
      }
      try w.addWhiteout("dir/removed")
      try w.addWhiteout("/top")
      try w.addOpaqueMarker(directory: "dir/")
    }
    try ArchiveFixtures.withTemporaryDirectory("members") { base in
      try writeFile(base + "/t", tar)
      let reader = try TarReader(file: base + "/t", compression: compression)
      var read: [(TarEntry, [UInt8])] = []
      while let entry = try reader.next() { read.append((entry, try reader.readContents())) }
      #expect(read.count == members.count + 3)
      for ((expected, content), (actual, actualContent)) in zip(members, read) {
        var wanted = expected
        if let content { wanted.size = Int64(content.count) }
        #expect(actual == wanted)
        #expect(actualContent == (content ?? []))
      }
      #expect(read.suffix(3).map(\.0.path) == ["dir/.wh.removed", ".wh.top", "dir/.wh..wh..opq"])

      // Other tools read it: GNU tar lists it, python finds the xattrs in the pax headers.
      var plain = tar
      if compression != .none {
        plain = try ArchiveFixtures.run(compression == .gzip ? "/bin/gzip" : "/usr/bin/zstd", ["-d", "-c"], input: tar)
      }
      #expect("sha256:" + ArchiveFixtures.sha256Hex(plain) == written.diffID.description)
      let listing = String(decoding: try ArchiveFixtures.run("/bin/tar", ["-tf", "-"], input: plain), as: UTF8.self)
      #expect(listing.split(separator: "\n").count == members.count + 3)
      #expect(listing.contains(longName))
      try writeFile(base + "/plain", plain)
      let xattrs = try ArchiveFixtures.python(
        """
        import sys, tarfile
        for m in tarfile.open(sys.argv[1]):
            if m.name == "dir/file":
                print(sorted(k for k in m.pax_headers if k.startswith("SCHILY.xattr.")))
        """, [base + "/plain"])
      #expect(String(decoding: xattrs, as: UTF8.self) == "['SCHILY.xattr.security.capability', 'SCHILY.xattr.user.a']\n")
    }
  }

  @Test("gzip output is a valid gzip stream without a timestamp")
  func gzipHeader() throws {
    let (blob, result) = try makeTar(compression: .gzip) { try $0.add(.file("x", size: 0), contents: [1]) }
    #expect(Array(blob.prefix(2)) == [0x1f, 0x8b])
    #expect(Array(blob[4..<8]) == [0, 0, 0, 0])  // MTIME
    let plain = try ArchiveFixtures.run("/bin/gzip", ["-d", "-c"], input: blob)
    #expect("sha256:" + ArchiveFixtures.sha256Hex(plain) == result.diffID.description)
    // No padding to 10 KiB records: header, one data block, two end blocks.
    #expect(plain.count == 512 * 4)
  }

  @Test("writing to a file descriptor")
  func fileDescriptor() throws {
    try ArchiveFixtures.withTemporaryDirectory("fd") { base in
      let fd = try OwnedFD.open(base + "/out.tar.zst", O_WRONLY | O_CREAT | O_TRUNC)
      let writer = try TarWriter(fileDescriptor: fd.raw, compression: .zstd)
      let source = try OwnedFD.open(base + "/src", O_RDWR | O_CREAT | O_TRUNC)
      try source.writeAll(pseudoRandomBytes(1 << 20, seed: 8))
      _ = lseek(source.raw, 0, SEEK_SET)
      try writer.add(.file("blob", size: 1 << 20), contentsOf: source.raw)
      let result = try writer.finish()
      #expect(try ArchiveFixtures.sha256Hex(file: base + "/out.tar.zst") == result.digest.encoded)
      let reader = try TarReader(file: base + "/out.tar.zst")
      #expect(try reader.next()?.size == 1 << 20)
      #expect(try reader.readContents() == pseudoRandomBytes(1 << 20, seed: 8))
    }
  }

  @Test("misuse and sink failures are reported")
  func errors() throws {
    struct SinkFailure: Error {}
    let failing = try TarWriter { _ in throw SinkFailure() }
    #expect(throws: SinkFailure.self) {
      try failing.add(.file("x", size: 0), contents: pseudoRandomBytes(200_000, seed: 1))
      _ = try failing.finish()
    }

    let writer = try TarWriter { _ in }
    let noContent = #expect(throws: BerthError.self) { try writer.add(.file("x", size: 10)) }
    #expect(noContent?.code == .invalidArgument)
    let noTarget = #expect(throws: BerthError.self) { try writer.add(TarEntry(path: "l", kind: .symlink)) }
    #expect(noTarget?.code == .invalidArgument)
    try ArchiveFixtures.withTemporaryDirectory("short") { base in
      try FS.write(base + "/short", "abc")
      let fd = try OwnedFD.open(base + "/short", O_RDONLY)
      let short = #expect(throws: BerthError.self) { try writer.add(.file("short", size: 10), contentsOf: fd.raw) }
      #expect(short?.message.contains("shorter") == true)
    }
    let done = try TarWriter { _ in }
    _ = try done.finish()
    #expect(throws: BerthError.self) { try done.add(.directory("late")) }
    #expect(throws: BerthError.self) { try done.finish() }
  }
}
