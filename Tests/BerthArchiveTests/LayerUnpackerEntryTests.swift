import BerthArchive
import BerthOCI
import BerthOS
import BerthTestSupport
import CLinux
import Testing

#if canImport(Glibc)
  import Glibc
#endif

@Suite("LayerUnpacker: entry types and attributes", rootOnly)
struct LayerUnpackerEntryTests {
  @Test("every entry type comes out with its mode, owner, times, device numbers and xattrs")
  func entryTypes() async throws {
    let content = pseudoRandomBytes(300_000, seed: 1)
    let (tar, _) = try makeTar { w in
      try w.add(TarEntry(path: "dir", kind: .directory, mode: 0o750, uid: 1000, gid: 1001, mtime: 1_600_000_000))
      try w.add(
        TarEntry(path: "dir/file", kind: .regular, mode: 0o640, uid: 1000, gid: 1001, mtime: 1_600_000_100, mtimeNanoseconds: 123_456_789),
        contents: content)
      try w.add(TarEntry(path: "setuid", kind: .regular, mode: 0o4755, mtime: 1_500_000_000), contents: Array("su".utf8))
      try w.add(TarEntry(path: "setgid-dir", kind: .directory, mode: 0o2775, gid: 50, mtime: 1_500_000_001))
      try w.add(TarEntry(path: "tmp", kind: .directory, mode: 0o1777, mtime: 1_500_000_002))
      try w.add(TarEntry(path: "link", kind: .symlink, uid: 1002, gid: 1003, mtime: 1_400_000_000, linkTarget: "dir/file"))
      try w.add(TarEntry(path: "dangling", kind: .symlink, linkTarget: "/nonexistent/target"))
      try w.add(.hardlink("dir/hard", target: "dir/file"))
      try w.add(TarEntry(path: "null", kind: .characterDevice, mode: 0o666, mtime: 1_300_000_000, deviceMajor: 1, deviceMinor: 3))
      try w.add(TarEntry(path: "loop9", kind: .blockDevice, mode: 0o660, gid: 6, deviceMajor: 7, deviceMinor: 9))
      try w.add(TarEntry(path: "fifo", kind: .fifo, mode: 0o620, uid: 5, gid: 5))
      try w.add(
        TarEntry(
          path: "ping", kind: .regular, mode: 0o4755, mtime: 1_200_000_000,
          xattrs: ["security.capability": netBindServiceCapability, "user.comment": Array("hello".utf8)]),
        contents: Array("#!/bin/sh\n".utf8))
      try w.add(TarEntry(path: "empty", kind: .regular, mode: 0o000))
    }
    try await withDestination { _, dest in
      let result = try await unpack(tar, into: dest)
      #expect(result.entries == 13)

      let dir = try ArchiveFixtures.lstatOrThrow(dest + "/dir")
      #expect(dir.st_mode & S_IFMT == S_IFDIR)
      #expect(dir.st_mode & 0o7777 == 0o750)
      #expect(dir.st_uid == 1000 && dir.st_gid == 1001)
      // Set after its children were created.
      #expect(dir.st_mtim.tv_sec == 1_600_000_000)

      let file = try ArchiveFixtures.lstatOrThrow(dest + "/dir/file")
      #expect(file.st_mode & S_IFMT == S_IFREG)
      #expect(file.st_mode & 0o7777 == 0o640)
      #expect(file.st_uid == 1000 && file.st_gid == 1001)
      #expect(file.st_mtim.tv_sec == 1_600_000_100 && file.st_mtim.tv_nsec == 123_456_789)
      #expect(try FS.read(dest + "/dir/file") == content)

      #expect(try ArchiveFixtures.lstatOrThrow(dest + "/setuid").st_mode & 0o7777 == 0o4755)
      let setgid = try ArchiveFixtures.lstatOrThrow(dest + "/setgid-dir")
      #expect(setgid.st_mode & 0o7777 == 0o2775 && setgid.st_gid == 50)
      #expect(try ArchiveFixtures.lstatOrThrow(dest + "/tmp").st_mode & 0o7777 == 0o1777)

      let link = try ArchiveFixtures.lstatOrThrow(dest + "/link")
      #expect(link.st_mode & S_IFMT == S_IFLNK)
      #expect(try FS.readLink(dest + "/link") == "dir/file")
      #expect(link.st_uid == 1002 && link.st_gid == 1003)
      #expect(link.st_mtim.tv_sec == 1_400_000_000)
      #expect(try FS.readLink(dest + "/dangling") == "/nonexistent/target")

      let hard = try ArchiveFixtures.lstatOrThrow(dest + "/dir/hard")
      #expect(hard.st_ino == file.st_ino)
      #expect(hard.st_nlink == 2)

      let null = try ArchiveFixtures.lstatOrThrow(dest + "/null")
      #expect(null.st_mode & S_IFMT == S_IFCHR)
      #expect(berth_major(null.st_rdev) == 1 && berth_minor(null.st_rdev) == 3)
      #expect(null.st_mode & 0o7777 == 0o666)
      #expect(null.st_mtim.tv_sec == 1_300_000_000)
      let loop = try ArchiveFixtures.lstatOrThrow(dest + "/loop9")
      #expect(loop.st_mode & S_IFMT == S_IFBLK)
      #expect(berth_major(loop.st_rdev) == 7 && berth_minor(loop.st_rdev) == 9)
      #expect(loop.st_mode & 0o7777 == 0o660 && loop.st_gid == 6)
      let fifo = try ArchiveFixtures.lstatOrThrow(dest + "/fifo")
      #expect(fifo.st_mode & S_IFMT == S_IFIFO)
      #expect(fifo.st_mode & 0o7777 == 0o620 && fifo.st_uid == 5)

      // chown before chmod and xattrs: neither the setuid bit nor the capability is lost.
      let ping = try ArchiveFixtures.lstatOrThrow(dest + "/ping")
      #expect(ping.st_mode & 0o7777 == 0o4755)
      #expect(try ArchiveFixtures.xattr(dest + "/ping", "security.capability") == netBindServiceCapability)
      #expect(try ArchiveFixtures.xattr(dest + "/ping", "user.comment") == Array("hello".utf8))

      let empty = try ArchiveFixtures.lstatOrThrow(dest + "/empty")
      #expect(empty.st_size == 0 && empty.st_mode & 0o7777 == 0)
    }
  }

  @Test("symlinks and devices get trusted.* attributes; user.* ones, which the kernel refuses there, are skipped")
  func xattrsOnSpecialFiles() async throws {
    let attributes: [String: [UInt8]] = ["trusted.berth": Array("t".utf8), "user.berth": Array("u".utf8)]
    let (tar, _) = try makeTar { w in
      try w.add(TarEntry(path: "link", kind: .symlink, linkTarget: "nowhere", xattrs: attributes))
      try w.add(TarEntry(path: "tty", kind: .characterDevice, deviceMajor: 5, deviceMinor: 0, xattrs: attributes))
      try w.add(TarEntry(path: "file", kind: .regular, xattrs: attributes), contents: [1])
    }
    try await withDestination { _, dest in
      _ = try await unpack(tar, into: dest)
      for name in ["link", "tty"] {
        #expect(try ArchiveFixtures.xattr(dest + "/" + name, "trusted.berth") == Array("t".utf8), "\(name)")
        #expect(try ArchiveFixtures.xattr(dest + "/" + name, "user.berth") == nil, "\(name)")
      }
      #expect(try ArchiveFixtures.xattr(dest + "/file", "user.berth") == Array("u".utf8))
      #expect(try ArchiveFixtures.xattr(dest + "/file", "trusted.berth") == Array("t".utf8))
    }
  }

  @Test("pax atime and subsecond mtime are applied; the root entry's metadata goes to the destination")
  func paxTimes() async throws {
    try await withDestination { base, dest in
      let tarPath = base + "/times.tar"
      try ArchiveFixtures.python(
        """
        import io, sys, tarfile
        with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as tar:
            root = tarfile.TarInfo("./")
            root.type = tarfile.DIRTYPE
            root.mode = 0o711
            root.mtime = 1111111111
            tar.addfile(root)
            info = tarfile.TarInfo("./timed")
            info.size = 2
            info.pax_headers = {"atime": "1234567890.5", "mtime": "1600000000.25"}
            tar.addfile(info, io.BytesIO(b"ok"))
            plain = tarfile.TarInfo("plain")
            plain.size = 0
            plain.mtime = 1000
            tar.addfile(plain)
        """, [tarPath])
      let before = time(nil)
      _ = try LayerUnpacker.unpack(file: tarPath, into: dest, compression: nil)
      let timed = try ArchiveFixtures.lstatOrThrow(dest + "/timed")
      #expect(timed.st_atim.tv_sec == 1_234_567_890 && timed.st_atim.tv_nsec == 500_000_000)
      #expect(timed.st_mtim.tv_sec == 1_600_000_000 && timed.st_mtim.tv_nsec == 250_000_000)
      // No atime in the tar: the file keeps the time it was created.
      let plain = try ArchiveFixtures.lstatOrThrow(dest + "/plain")
      #expect(plain.st_atim.tv_sec >= before - 1)
      #expect(plain.st_mtim.tv_sec == 1000)
      let root = try ArchiveFixtures.lstatOrThrow(dest)
      #expect(root.st_mode & 0o7777 == 0o711)
      #expect(root.st_mtim.tv_sec == 1_111_111_111)
    }
  }

  @Test("sparse files keep their holes", arguments: ["gnu", "posix"])
  func sparse(format: String) async throws {
    try await withDestination { base, dest in
      let source = base + "/src"
      try FS.makeDirectories(source)
      let sparse = source + "/sparse.img"
      let fd = try OwnedFD.open(sparse, O_WRONLY | O_CREAT | O_TRUNC)
      let chunk = pseudoRandomBytes(8192, seed: 7)
      for offset in [0, 3 << 20, 9 << 20] {
        _ = chunk.withUnsafeBytes { pwrite(fd.raw, $0.baseAddress, $0.count, off_t(offset)) }
      }
      try check("ftruncate") { ftruncate(fd.raw, 16 << 20) }
      let tarPath = base + "/sparse.tar"
      try ArchiveFixtures.run("/bin/tar", ["--sparse", "--format=\(format)", "-C", source, "-cf", tarPath, "sparse.img"])

      let result = try LayerUnpacker.unpack(file: tarPath, into: dest, compression: LayerCompression.none)
      #expect(result.entries == 1)
      let out = try ArchiveFixtures.lstatOrThrow(dest + "/sparse.img")
      #expect(out.st_size == 16 << 20)
      // Three 8 KiB pieces of data: far fewer than the 32768 blocks a dense copy takes.
      #expect(Int(out.st_blocks) * 512 < 1 << 20)
      #expect(try ArchiveFixtures.sha256Hex(file: dest + "/sparse.img") == ArchiveFixtures.sha256Hex(file: sparse))
    }
  }

  @Test("file names keep their bytes: UTF-8 from pax headers and non-UTF-8 from GNU headers")
  func fileNameBytes() async throws {
    try await withDestination { base, dest in
      let tarPath = base + "/names.tar"
      try ArchiveFixtures.python(
        """
        import io, sys, tarfile
        with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as tar:
            for name in ["h\\u00e9llo-\\u65e5\\u672c", "d/" + "x" * 150 + "\\u00e9"]:
                info = tarfile.TarInfo(name)
                info.size = 1
                tar.addfile(info, io.BytesIO(b"a"))
        with tarfile.open(sys.argv[1] + ".gnu", "w", format=tarfile.GNU_FORMAT, encoding="latin-1") as tar:
            info = tarfile.TarInfo("latin-\\u00e9")
            info.size = 1
            tar.addfile(info, io.BytesIO(b"b"))
        """, [tarPath])
      _ = try LayerUnpacker.unpack(file: tarPath, into: dest, compression: nil)
      #expect(lstatOrNil(dest + "/héllo-日本") != nil)
      #expect(lstatOrNil(dest + "/d/" + String(repeating: "x", count: 150) + "é") != nil)

      let dest2 = base + "/dest2"
      try FS.makeDirectories(dest2)
      _ = try LayerUnpacker.unpack(file: tarPath + ".gnu", into: dest2, compression: nil)
      // "latin-" followed by the single byte 0xE9: not UTF-8, and kept as it is.
      var info = stat()
      #expect(lstatOrNil(dest2 + "/latin-\u{E9}") == nil)
      let rawPath = Array((dest2 + "/latin-").utf8CString.dropLast()) + [CChar(bitPattern: 0xE9), 0]
      #expect(lstat(rawPath, &info) == 0)
      #expect(try FS.list(dest2).count == 1)
      // FS.removeTree works with Strings, which cannot name this file: remove it here.
      unlink(rawPath)
    }
  }

  @Test("missing parent directories are created (0755, root)")
  func implicitParents() async throws {
    let (tar, _) = try makeTar { w in
      try w.add(TarEntry(path: "a/b/c/file", kind: .regular, mode: 0o600), contents: [1, 2, 3])
    }
    try await withDestination { _, dest in
      _ = try await unpack(tar, into: dest)
      for path in ["a", "a/b", "a/b/c"] {
        let info = try ArchiveFixtures.lstatOrThrow(dest + "/" + path)
        #expect(info.st_mode & S_IFMT == S_IFDIR)
        #expect(info.st_mode & 0o777 == 0o755)
        #expect(info.st_uid == 0)
      }
      #expect(try FS.read(dest + "/a/b/c/file") == [1, 2, 3])
    }
  }

  /// A later entry with the same name replaces the earlier one, as with tar.
  enum Replacement: String, CaseIterable, Sendable {
    case fileThenFile, fileThenDirectory, directoryThenFile, symlinkThenFile, fileThenSymlink
    case directoryThenDirectory, symlinkToDirectoryThenDirectory
  }

  @Test("a later entry of the same name replaces the earlier one", arguments: Replacement.allCases)
  func replacement(_ kind: Replacement) async throws {
    let (tar, _) = try makeTar { w in
      switch kind {
      case .fileThenFile:
        try w.add(.file("x", size: 0), contents: Array("old".utf8))
        try w.add(.file("x", size: 0, mode: 0o600), contents: Array("new".utf8))
      case .fileThenDirectory:
        try w.add(.file("x", size: 0), contents: Array("old".utf8))
        try w.add(.directory("x", mode: 0o700))
      case .directoryThenFile:
        try w.add(.directory("x"))
        try w.add(.file("x/child", size: 0), contents: Array("child".utf8))
        try w.add(.file("x", size: 0, mode: 0o600), contents: Array("new".utf8))
      case .symlinkThenFile:
        try w.add(.file("target", size: 0), contents: Array("target".utf8))
        try w.add(.symlink("x", target: "target"))
        try w.add(.file("x", size: 0, mode: 0o600), contents: Array("new".utf8))
      case .fileThenSymlink:
        try w.add(.file("x", size: 0), contents: Array("old".utf8))
        try w.add(.symlink("x", target: "somewhere"))
      case .directoryThenDirectory:
        try w.add(.directory("x", mode: 0o755))
        try w.add(.file("x/child", size: 0), contents: Array("child".utf8))
        try w.add(.directory("x", mode: 0o700, mtime: 1000))
      case .symlinkToDirectoryThenDirectory:
        try w.add(.directory("real"))
        try w.add(.file("real/child", size: 0), contents: Array("child".utf8))
        try w.add(.symlink("x", target: "real"))
        try w.add(.directory("x", mode: 0o700))
      }
    }
    try await withDestination { _, dest in
      _ = try await unpack(tar, into: dest)
      let info = try ArchiveFixtures.lstatOrThrow(dest + "/x")
      switch kind {
      case .fileThenFile, .directoryThenFile, .symlinkThenFile:
        #expect(info.st_mode & S_IFMT == S_IFREG)
        #expect(info.st_mode & 0o7777 == 0o600)
        #expect(try FS.readText(dest + "/x") == "new")
        if kind == .symlinkThenFile { #expect(try FS.readText(dest + "/target") == "target") }
      case .fileThenDirectory:
        #expect(info.st_mode & S_IFMT == S_IFDIR)
        #expect(info.st_mode & 0o7777 == 0o700)
      case .fileThenSymlink:
        #expect(info.st_mode & S_IFMT == S_IFLNK)
        #expect(try FS.readLink(dest + "/x") == "somewhere")
      case .directoryThenDirectory:
        #expect(info.st_mode & 0o7777 == 0o700)
        #expect(info.st_mtim.tv_sec == 1000)
        #expect(try FS.readText(dest + "/x/child") == "child")
      case .symlinkToDirectoryThenDirectory:
        #expect(info.st_mode & S_IFMT == S_IFDIR)
        #expect(try FS.list(dest + "/x").isEmpty)
        #expect(try FS.readText(dest + "/real/child") == "child")
        #expect(try ArchiveFixtures.lstatOrThrow(dest + "/real").st_mode & 0o7777 == 0o755)
      }
    }
  }

  @Test("a hard link to a member that is not in the layer fails and names the entry")
  func hardlinkToMissing() async throws {
    let (tar, _) = try makeTar { w in
      try w.add(.hardlink("link", target: "missing"))
    }
    try await withDestination { _, dest in
      let error = await #expect(throws: BerthError.self) { try await unpack(tar, into: dest) }
      #expect(error?.code == .invalidArchive)
      #expect(error?.message.contains("\"link\"") == true)
      #expect(error?.message.contains("missing") == true)
    }
  }

  @Test("without preserveOwners files belong to the unpacking user")
  func noOwners() async throws {
    let (tar, _) = try makeTar { w in
      try w.add(TarEntry(path: "f", kind: .regular, uid: 1234, gid: 4321), contents: [1])
      try w.add(TarEntry(path: "l", kind: .symlink, uid: 1234, gid: 4321, linkTarget: "f"))
    }
    try await withDestination { _, dest in
      _ = try await unpack(tar, into: dest, options: UnpackOptions(preserveOwners: false))
      #expect(try ArchiveFixtures.lstatOrThrow(dest + "/f").st_uid == geteuid())
      #expect(try ArchiveFixtures.lstatOrThrow(dest + "/l").st_uid == geteuid())
    }
  }

  @Test("the destination must be an empty directory")
  func destinationChecks() async throws {
    try await withDestination { base, dest in
      try FS.write(dest + "/occupied", "x")
      let notEmpty = #expect(throws: BerthError.self) { try LayerUnpacker(destination: dest, compression: nil) }
      #expect(notEmpty?.code == .invalidArgument)
      #expect(notEmpty?.message.contains("not empty") == true)
      let missing = #expect(throws: BerthError.self) { try LayerUnpacker(destination: base + "/nope", compression: nil) }
      #expect(missing?.code == .invalidArgument)
    }
  }
}
