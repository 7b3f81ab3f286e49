@testable import BerthEngine
import BerthOS
import BerthTestSupport
import CLinux
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `diff` on hand-made layers: what a stack of image layers shows (whiteouts and opaque
/// directories in the image's own layers) decides what the upper directory's entries mean.
@Suite("ChangeWalker", .enabled(if: geteuid() == 0, "needs root: whiteout devices and trusted.* xattrs"))
struct ChangeWalkerTests {
  static func whiteout(_ path: String) throws {
    try check("mknod \(path)") { mknod(path, S_IFCHR, berth_makedev(0, 0)) }
  }

  static func opaque(_ path: String) throws {
    let status = ExtendedAttributes.set(.path(Array(path.utf8CString)), name: Array("trusted.overlay.opaque".utf8), value: Array("y".utf8))
    if status != 0 { throw BerthError.system("setxattr on \(path)") }
  }

  @Test("the image's own whiteouts and opaque directories: a path it deleted is new again; an opaque upper directory deletes what the image shows")
  func layeredImage() throws {
    try ArchiveFixtures.withTemporaryDirectory("walker") { directory in
      let bottom = directory + "/bottom", top = directory + "/top", upper = directory + "/upper"
      // bottom: /a/x /a/y /b/old /c/z ; top: deletes /a/x and /c, makes /b opaque with /b/new.
      for path in ["/a", "/b", "/c"] { try FS.makeDirectories(bottom + path) }
      for path in ["/a/x", "/a/y", "/b/old", "/c/z"] { try FS.write(bottom + path, "bottom") }
      try FS.makeDirectories(top + "/a")
      try FS.makeDirectories(top + "/b")
      try Self.whiteout(top + "/a/x")
      try Self.whiteout(top + "/c")
      try Self.opaque(top + "/b")
      try FS.write(top + "/b/new", "top")
      // The container: makes /a/x and /c/z again (the image has neither), deletes /b/new,
      // replaces /b with an opaque directory holding /b/fresh, leaves /a/y alone.
      try FS.makeDirectories(upper + "/a")
      try FS.write(upper + "/a/x", "again")
      try FS.makeDirectories(upper + "/c")
      try FS.write(upper + "/c/z", "again")
      try FS.makeDirectories(upper + "/b")
      try Self.opaque(upper + "/b")
      try FS.write(upper + "/b/fresh", "container")
      // A whiteout of something the image never had is no change.
      try Self.whiteout(upper + "/never")

      let changes = try ChangeWalker(upper: upper, lowers: [top, bottom]).changes().map(\.description)
      #expect(changes == ["C /a", "A /a/x", "C /b", "A /b/fresh", "D /b/new", "A /c", "A /c/z"])
    }
  }

  @Test("mountpoints the runtime made are left out, with a directory made only to hold them; the container's own files are not")
  func runtimeMountpoints() throws {
    try ArchiveFixtures.withTemporaryDirectory("walker") { directory in
      let image = directory + "/image", upper = directory + "/upper"
      try FS.makeDirectories(image + "/etc")
      try FS.makeDirectories(image + "/proc")
      try FS.makeDirectories(upper + "/etc")
      try FS.makeDirectories(upper + "/sys")
      try FS.makeDirectories(upper + "/dev")
      try FS.write(upper + "/dev/made-by-container", "x")
      for name in ["hosts", "hostname"] { try FS.write(upper + "/etc/" + name, "") }
      #expect(ContainerEngine.mountpointStubs(upper: upper, lowers: [image]) == ["/etc/hosts", "/etc/hostname", "/etc", "/sys"])
      #expect(try ChangeWalker(upper: upper, lowers: [image]).changes().map(\.description) == ["A /dev", "A /dev/made-by-container"])

      // Once the container writes its own file in /etc, /etc is its change.
      try FS.write(upper + "/etc/motd", "hello")
      #expect(ContainerEngine.mountpointStubs(upper: upper, lowers: [image]) == ["/etc/hosts", "/etc/hostname", "/sys"])
      #expect(try ChangeWalker(upper: upper, lowers: [image]).changes().map(\.description)
        == ["A /dev", "A /dev/made-by-container", "C /etc", "A /etc/motd"])
      // A non-empty /etc/hosts is the container's (a copy-up or its own file).
      try FS.write(upper + "/etc/hosts", "127.0.0.1 me\n")
      #expect(ContainerEngine.mountpointStubs(upper: upper, lowers: [image]) == ["/etc/hostname", "/sys"])
    }
  }
}
