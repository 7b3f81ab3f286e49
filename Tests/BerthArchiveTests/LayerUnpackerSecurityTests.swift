import BerthArchive
import BerthOCI
import BerthOS
import BerthTestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Hostile layers. Each test has a sentinel directory beside the destination holding one file;
/// whatever the unpacker does (fail, or contain the entry), the sentinel must end up exactly as
/// it was. Absolute names point at the sentinel's real path, so an unpacker that followed them
/// would write there, not into the host's /etc.
@Suite("LayerUnpacker: hostile layers", rootOnly)
struct LayerUnpackerSecurityTests {
  enum Attack: String, CaseIterable, Sendable {
    case dotDotFile, dotDotInside, absoluteFile, symlinkThenFile, relativeSymlinkThenFile, rootSymlinkThenFile
    case dotDotHardlink, absoluteHardlink, hardlinkThroughSymlink, fileOverSymlink, directoryOverSymlink
    case opaqueThroughSymlink, whiteoutThroughSymlink, dotDotWhiteout, whiteoutOfDotDot, symlinkChain
    case hardlinkOverSymlink

    /// Whether the unpack must fail (true) or may also succeed by containing the entry (false).
    var mustFail: Bool {
      switch self {
      case .dotDotFile, .dotDotInside, .dotDotHardlink, .absoluteHardlink, .hardlinkThroughSymlink, .dotDotWhiteout,
           .whiteoutOfDotDot:
        return true
      default:
        return false
      }
    }

    /// The tar's members as a Python list literal; `s` is the sentinel's absolute path.
    func members(sentinel s: String) -> String {
      switch self {
      case .dotDotFile:
        return #"[("../sentinel/pwned", "file", b"x")]"#
      case .dotDotInside:
        return #"[("a/", "dir", None), ("a/../../sentinel/pwned", "file", b"x")]"#
      case .absoluteFile:
        return #"[("\#(s)/pwned", "file", b"x")]"#
      case .symlinkThenFile:
        return #"[("link", "symlink", "\#(s)"), ("link/pwned", "file", b"x")]"#
      case .relativeSymlinkThenFile:
        return #"[("link", "symlink", "../../../../../../../\#(s)"), ("link/pwned", "file", b"x")]"#
      case .rootSymlinkThenFile:
        return #"[("root", "symlink", "/"), ("root\#(s)/pwned", "file", b"x")]"#
      case .dotDotHardlink:
        return #"[("hl", "hardlink", "../sentinel/target")]"#
      case .absoluteHardlink:
        return #"[("hl", "hardlink", "\#(s)/target")]"#
      case .hardlinkThroughSymlink:
        return #"[("link", "symlink", "\#(s)"), ("hl", "hardlink", "link/target")]"#
      case .fileOverSymlink:
        return #"[("sl", "symlink", "\#(s)/target"), ("sl", "file", b"overwritten")]"#
      case .directoryOverSymlink:
        return #"[("d", "symlink", "\#(s)"), ("d/", "dir", None)]"#
      case .opaqueThroughSymlink:
        return #"[("link", "symlink", "\#(s)"), ("link/.wh..wh..opq", "file", b"")]"#
      case .whiteoutThroughSymlink:
        return #"[("link", "symlink", "\#(s)"), ("link/.wh.target", "file", b"")]"#
      case .dotDotWhiteout:
        return #"[("../sentinel/.wh.target", "file", b"")]"#
      case .whiteoutOfDotDot:
        return #"[("a/", "dir", None), ("a/.wh...", "file", b"")]"#
      case .symlinkChain:
        return #"[("a", "symlink", "b"), ("b", "symlink", "c/.."), ("c", "dir", None), ("d", "symlink", "a/../../../\#(s)"), ("d/pwned", "file", b"x")]"#
      case .hardlinkOverSymlink:
        return #"[("sl", "symlink", "\#(s)/target"), ("x", "file", b"mine"), ("sl", "hardlink", "x")]"#
      }
    }
  }

  @Test("a hostile layer fails or stays inside the destination", arguments: Attack.allCases)
  func contained(_ attack: Attack) throws {
    try ArchiveFixtures.withTemporaryDirectory("hostile") { base in
      let dest = base + "/dest", sentinel = base + "/sentinel"
      try FS.makeDirectories(dest)
      try FS.makeDirectories(sentinel)
      try chmod(sentinel, 0o755)
      try FS.write(sentinel + "/target", "original")
      let before = try ArchiveFixtures.snapshot(sentinel)
      let tarPath = base + "/hostile.tar"
      try ArchiveFixtures.pythonTar(tarPath, members: attack.members(sentinel: sentinel))

      var failure: BerthError?
      do {
        _ = try LayerUnpacker.unpack(file: tarPath, into: dest, compression: nil)
      } catch let error as BerthError {
        failure = error
      }
      if attack.mustFail {
        #expect(failure != nil, "the unpack should have been refused")
        #expect(failure?.code == .unsafeArchiveEntry || failure?.code == .invalidArchive, "\(String(describing: failure))")
        // The message names the entry.
        #expect(failure?.message.contains("entry \"") == true, "\(String(describing: failure))")
      }
      // Nothing changed beside the destination.
      #expect(try ArchiveFixtures.snapshot(sentinel) == before)
      #expect(try ArchiveFixtures.xattr(sentinel, "trusted.overlay.opaque") == nil)
      #expect(try ArchiveFixtures.lstatOrThrow(sentinel + "/target").st_nlink == 1)
      #expect(try FS.list(base).sorted() == ["dest", "hostile.tar", "sentinel"])
    }
  }

  @Test("link -> /etc followed by link/NAME does not write into the host's /etc")
  func hostEtc() throws {
    let name = "berth-archive-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    defer { unlink("/etc/" + name) }
    try ArchiveFixtures.withTemporaryDirectory("hostile") { base in
      let dest = base + "/dest"
      try FS.makeDirectories(dest)
      // The layer has its own etc, so the name resolves (inside the destination).
      let tarPath = base + "/etc.tar"
      try ArchiveFixtures.pythonTar(
        tarPath, members: #"[("etc/", "dir", None), ("link", "symlink", "/etc"), ("link/\#(name)", "file", b"pwned")]"#)
      _ = try LayerUnpacker.unpack(file: tarPath, into: dest, compression: nil)
      #expect(!FS.exists("/etc/" + name))
      #expect(try FS.readText(dest + "/etc/" + name) == "pwned")
    }
  }

  @Test("a name with .. is refused with a message that names it")
  func dotDotMessage() async throws {
    try await withDestination { base, dest in
      let tarPath = base + "/dotdot.tar"
      try ArchiveFixtures.pythonTar(tarPath, members: #"[("ok", "file", b"1"), ("x/../../evil", "file", b"x")]"#)
      let error = #expect(throws: BerthError.self) {
        try LayerUnpacker.unpack(file: tarPath, into: dest, compression: nil)
      }
      #expect(error?.code == .unsafeArchiveEntry)
      #expect(error?.message.contains("x/../../evil") == true)
      #expect(lstatOrNil(base + "/evil") == nil)
    }
  }

  @Test("absolute names are extracted relative to the destination")
  func absoluteNames() async throws {
    try await withDestination { base, dest in
      let tarPath = base + "/abs.tar"
      try ArchiveFixtures.pythonTar(tarPath, members: #"[("/abs/file", "file", b"inside"), ("//double", "file", b"2")]"#)
      _ = try LayerUnpacker.unpack(file: tarPath, into: dest, compression: nil)
      #expect(try FS.readText(dest + "/abs/file") == "inside")
      #expect(try FS.readText(dest + "/double") == "2")
      #expect(lstatOrNil("/abs/file") == nil)
    }
  }

  @Test("overlayfs attributes in a layer's pax headers are ignored")
  func overlayXattrsIgnored() async throws {
    let (tar, _) = try makeTar { w in
      try w.add(TarEntry(
        path: "dir", kind: .directory,
        xattrs: ["trusted.overlay.redirect": Array("/elsewhere".utf8), "trusted.overlay.opaque": Array("y".utf8),
                 "user.kept": Array("1".utf8)]))
    }
    try await withDestination { _, dest in
      _ = try await unpack(tar, into: dest)
      #expect(try ArchiveFixtures.xattr(dest + "/dir", "trusted.overlay.redirect") == nil)
      #expect(try ArchiveFixtures.xattr(dest + "/dir", "trusted.overlay.opaque") == nil)
      #expect(try ArchiveFixtures.xattr(dest + "/dir", "user.kept") == Array("1".utf8))
    }
  }
}

private func chmod(_ path: String, _ mode: mode_t) throws {
  try check("chmod \(path)") { Glibc.chmod(path, mode) }
}
