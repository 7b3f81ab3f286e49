import BerthArchive
import BerthOCI
import BerthOS
import Foundation
import Testing

@testable import BerthBuild

#if canImport(Glibc)
  import Glibc
#endif

/// The builder's pure parts on real directories: source selection (globs, symlinks resolved
/// inside the tree, .dockerignore), directory times of a layer, mount-point stubs, cache keys.
@Suite struct BuilderUnitTests {
  /// A temporary directory, removed after `body`.
  static func withDirectory<T>(_ body: (String) throws -> T) throws -> T {
    var template = Array("/tmp/berth-builder-unit-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw BerthError.system("mkdtemp") }
    let directory = String(cString: made)
    defer { try? FS.removeTree(directory) }
    return try body(directory)
  }

  /// a.txt b.txt sub/c.txt sub/deep/d.go, a link to /sub (absolute: inside the tree), an
  /// ignored file.
  static func makeTree(_ root: String) throws {
    try FS.makeDirectories(root + "/sub/deep")
    for file in ["a.txt", "b.txt", "sub/c.txt", "sub/deep/d.go", "ignored.log"] { try FS.write(root + "/" + file, file) }
    #expect(symlink("/sub", root + "/link") == 0)
  }

  @Test func selectsPathsGlobsAndResolvesLinksInsideTheTree() throws {
    try Self.withDirectory { root in
      try Self.makeTree(root)
      let tree = SourceTree(root: root, excluded: { path, _ in path.hasSuffix(".log") })
      #expect(try tree.select("a.txt") == ["a.txt"])
      #expect(try tree.select("/sub/../a.txt") == ["a.txt"])
      #expect(try tree.select("*.txt") == ["a.txt", "b.txt"])
      #expect(try tree.select("sub/*/d.go") == ["sub/deep/d.go"])
      #expect(try tree.select(".") == [""])
      // The absolute link target is the tree's /sub, not the host's.
      #expect(try tree.select("link/c.txt") == ["sub/c.txt"])
      #expect(throws: BerthError.self) { try tree.select("ignored.log") }
      #expect(throws: BerthError.self) { try tree.select("*.md") }
      let entries = try tree.entries(under: "sub").map(\.path)
      #expect(entries == ["sub", "sub/c.txt", "sub/deep", "sub/deep/d.go"])
      #expect(try !tree.entries(under: "").map(\.path).contains("ignored.log"))
    }
  }

  @Test func anExcludedDirectoryWithAReincludedFileIsKept() throws {
    try Self.withDirectory { root in
      try Self.makeTree(root)
      let matcher = try IgnoreMatcher(patterns: ["sub", "!sub/deep/d.go"])
      let tree = SourceTree(root: root, excluded: { matcher.matches($0, isDirectory: $1) })
      let paths = try tree.entries(under: "").map(\.path)
      #expect(paths.contains("sub/deep/d.go"))
      #expect(paths.contains("sub") && paths.contains("sub/deep"))
      #expect(!paths.contains("sub/c.txt"))
    }
  }

  @Test func directoryTimesComeFromTheImageTheSourceOrTheGivenTime() throws {
    try Self.withDirectory { root in
      let lower = root + "/lower", upper = root + "/upper"
      try FS.makeDirectories(lower + "/etc")
      try FS.makeDirectories(upper + "/etc")
      try FS.makeDirectories(upper + "/new/copied")
      var old = [timespec(tv_sec: 1000, tv_nsec: 0), timespec(tv_sec: 1000, tv_nsec: 0)]
      #expect(utimensat(AT_FDCWD, lower + "/etc", &old, 0) == 0)
      try TimeNormalizer.normalize(
        upper: upper, lowers: [lower], copied: ["/new/copied": timespec(tv_sec: 2000, tv_nsec: 5)], newTime: 3000)
      func mtime(_ path: String) throws -> Int { try #require(try FS.lstatIfPresent(upper + path)).st_mtim.tv_sec }
      #expect(try mtime("/etc") == 1000)
      #expect(try mtime("/new/copied") == 2000)
      #expect(try mtime("/new") == 3000)
    }
  }

  @Test func mountPointStubsLeaveTheUpperDirectory() throws {
    try Self.withDirectory { upper in
      try FS.makeDirectories(upper + "/etc")
      try FS.write(upper + "/etc/hosts", "")
      try FS.write(upper + "/etc/kept", "data")
      try FS.makeDirectories(upper + "/mnt/point")
      try FS.write(upper + "/etc/resolv.conf", "written by the step\n")
      StepRunner.removeStub("/etc/hosts", upper: upper)
      StepRunner.removeStub("/mnt/point", upper: upper)
      StepRunner.removeStub("/etc/resolv.conf", upper: upper)
      #expect(!FS.exists(upper + "/etc/hosts"))
      #expect(!FS.exists(upper + "/mnt"), "empty parents go too")
      #expect(FS.exists(upper + "/etc/kept"))
      #expect(FS.exists(upper + "/etc/resolv.conf"), "a file with content is the step's own")
    }
  }

  @Test func cacheKeysSeparateTheirParts() {
    #expect(BuildCache.key(["a", "bc"]) != BuildCache.key(["ab", "c"]))
    #expect(BuildCache.key(["x"]) == BuildCache.key(["x"]))
    #expect(BuildCache.key(["x"]).count == 64)
    #expect(hexString([0x00, 0xab, 0xff]) == "00abff")
  }

  @Test(arguments: [("host", BuildNetwork.host), ("default", .host), ("none", .none)])
  func networkFlag(text: String, expected: BuildNetwork) throws {
    #expect(try BuildNetwork.parse(text) == expected)
  }

  @Test func otherNetworksAndPlatformsAreRefused() {
    #expect(throws: BerthError.self) { try BuildNetwork.parse("bridge") }
    #expect(throws: BerthError.self) { try Builder.checkPlatform("linux/s390x", what: "--platform") }
    #expect(throws: Never.self) { try Builder.checkPlatform("linux/\(Platform.host.architecture)", what: "--platform") }
  }
}
