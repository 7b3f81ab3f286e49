import BerthOS
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Lexical path operations: no file system access, so every case is exact.
@Suite("Path")
struct PathTests {
  struct Join: Sendable, CustomTestStringConvertible {
    var base: String
    var rest: [String]
    var expected: String
    var testDescription: String { "join(\(([base] + rest).map { "\"\($0)\"" }.joined(separator: ", ")))" }
  }

  static let joins: [Join] = [
    Join(base: "/rootfs", rest: ["etc"], expected: "/rootfs/etc"),
    // An absolute later component does not reset the result: it stays inside the base.
    Join(base: "/rootfs", rest: ["/etc"], expected: "/rootfs/etc"),
    Join(base: "/rootfs/", rest: ["/etc"], expected: "/rootfs/etc"),
    Join(base: "/rootfs/", rest: ["etc"], expected: "/rootfs/etc"),
    Join(base: "/", rest: ["etc"], expected: "/etc"),
    Join(base: "/", rest: ["/etc"], expected: "/etc"),
    Join(base: "a", rest: ["b", "c"], expected: "a/b/c"),
    Join(base: "/a", rest: ["", "b"], expected: "/a/b"),
    Join(base: "/a", rest: [], expected: "/a"),
    // Lexical only: no cleaning of "..", trailing slashes kept.
    Join(base: "/a", rest: ["../b"], expected: "/a/../b"),
    Join(base: "/a", rest: ["b/"], expected: "/a/b/"),
    Join(base: "/run/x", rest: ["/etc", "/passwd"], expected: "/run/x/etc/passwd"),
    // Single slashes between components, and an empty base stays relative.
    Join(base: "/a", rest: ["//b"], expected: "/a/b"),
    Join(base: "/a//", rest: ["b"], expected: "/a/b"),
    Join(base: "", rest: ["etc"], expected: "etc"),
    Join(base: "", rest: ["/etc", "x"], expected: "etc/x"),
  ]

  @Test("join", arguments: joins)
  func join(_ c: Join) {
    let result: String
    switch c.rest.count {
    case 0: result = Path.join(c.base)
    case 1: result = Path.join(c.base, c.rest[0])
    case 2: result = Path.join(c.base, c.rest[0], c.rest[1])
    default: result = Path.join(c.base, c.rest[0], c.rest[1], c.rest[2])
    }
    #expect(result == c.expected)
  }

  @Test(
    "clean",
    arguments: [
      ("", "."),
      (".", "."),
      ("./", "."),
      ("/", "/"),
      ("//", "/"),
      ("///a", "/a"),
      ("/..", "/"),
      ("/../..", "/"),
      ("/../a", "/a"),
      ("/a/..", "/"),
      ("a/..", "."),
      ("..", ".."),
      ("../a", "../a"),
      ("../..", "../.."),
      ("a/../../b", "../b"),
      ("/a/b/../c/./d/", "/a/c/d"),
      ("a//b///c/", "a/b/c"),
      ("./a", "a"),
      ("/a/./b/.", "/a/b"),
      ("/a/b/", "/a/b"),
    ])
  func clean(_ input: String, _ expected: String) {
    #expect(Path.clean(input) == expected)
  }

  @Test("clean never leaves the root of an absolute path", arguments: ["/../../etc", "/a/../../etc", "/./../etc/"])
  func cleanStaysUnderRoot(_ input: String) {
    #expect(Path.clean(input) == "/etc")
  }

  @Test(
    "dirname",
    arguments: [
      ("/a/b", "/a"),
      ("/a/b/", "/a"),
      ("//a//b//", "/a"),
      ("/a", "/"),
      ("/", "/"),
      ("//", "/"),
      ("/..", "/"),
      ("/a/..", "/"),
      ("a", "."),
      ("a/b", "a"),
      ("a/b/", "a"),
      ("", "."),
      ("..", "."),
      ("../a", ".."),
    ])
  func dirname(_ input: String, _ expected: String) {
    #expect(Path.dirname(input) == expected)
  }

  @Test(
    "basename",
    arguments: [
      ("/a/b", "b"),
      ("/a/b/", "b"),
      ("/a/b//", "b"),
      ("/", "/"),
      ("//", "/"),
      ("/..", "/"),
      ("a", "a"),
      ("", "."),
      ("/a/b/..", "a"),
      ("..", ".."),
      ("file.tar.gz", "file.tar.gz"),
    ])
  func basename(_ input: String, _ expected: String) {
    #expect(Path.basename(input) == expected)
  }

  @Test("absolute: an absolute path is only cleaned", arguments: [("/x/../y", "/y"), ("//a/./b/", "/a/b"), ("/", "/")])
  func absoluteOfAbsolute(_ input: String, _ expected: String) {
    #expect(Path.absolute(input) == expected)
  }

  /// The working directory is never changed here (tests run in parallel).
  @Test("absolute: a relative path is resolved against the working directory")
  func absoluteOfRelative() throws {
    let cwd = try #require(getcwd(nil, 0))
    defer { free(cwd) }
    let directory = String(cString: cwd)
    let prefix = directory == "/" ? "" : directory
    #expect(Path.absolute("sub/../file") == prefix + "/file")
    #expect(Path.absolute("a/b/") == prefix + "/a/b")
    #expect(Path.absolute(".") == directory)
    #expect(Path.absolute("") == directory)
    #expect(Path.absolute("..") == Path.dirname(directory))
  }
}
