import BerthOS
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A fresh directory under /tmp.
struct TemporaryDirectory {
  let path: String

  func at(_ name: String) -> String { path + "/" + name }
}

/// Runs `body` with a fresh directory, removed afterwards (without following symlinks).
func withTemporaryDirectory<T>(_ body: (TemporaryDirectory) throws -> T) throws -> T {
  var template = Array("/tmp/berth-os-tests-XXXXXX".utf8CString)
  let made: String? = template.withUnsafeMutableBufferPointer { buffer in
    buffer.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) }
  }
  guard let made else { throw BerthError.system("mkdtemp") }
  let dir = TemporaryDirectory(path: made)
  defer { try? FS.removeTree(dir.path) }
  return try body(dir)
}

@Suite("FS")
struct FSTests {
  @Test("write then read, text with and without its trailing newline")
  func writeRead() throws {
    try withTemporaryDirectory { dir throws in
      let file = dir.at("a")
      try FS.write(file, [0, 1, 2, 255])
      #expect(try FS.read(file) == [0, 1, 2, 255])
      try FS.write(file, "hello\n")
      #expect(try FS.readText(file) == "hello\n")
      #expect(try FS.readText(file, trimmingNewline: true) == "hello")
      // Only one newline goes.
      try FS.write(file, "two\n\n")
      #expect(try FS.readText(file, trimmingNewline: true) == "two\n")
      // Writing truncates what was longer.
      try FS.write(file, "x")
      #expect(try FS.readText(file) == "x")
      // An empty file.
      try FS.write(file, "")
      #expect(try FS.read(file) == [])
    }
  }

  @Test("write sets the mode of a new file")
  func writeMode() throws {
    try withTemporaryDirectory { dir throws in
      try FS.write(dir.at("secret"), "s", mode: 0o600)
      let info = try #require(try FS.lstatIfPresent(dir.at("secret")))
      #expect(info.st_mode & 0o777 == 0o600)
      #expect(info.st_mode & S_IFMT == S_IFREG)
    }
  }

  @Test("a large file is read whole")
  func largeFile() throws {
    try withTemporaryDirectory { dir throws in
      let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
      try FS.write(dir.at("big"), bytes)
      #expect(try FS.read(dir.at("big")) == bytes)
    }
  }

  @Test("reading a missing file names it, with ENOENT")
  func readMissing() throws {
    try withTemporaryDirectory { dir throws in
      let error = #expect(throws: BerthError.self) { try FS.read(dir.at("missing")) }
      #expect(error?.errno == ENOENT)
      #expect(error?.message.contains(dir.at("missing")) == true)
    }
  }

  @Test("writeAtomically replaces the content and leaves no temporary file")
  func writeAtomically() throws {
    try withTemporaryDirectory { dir throws in
      let file = dir.at("state.json")
      try FS.writeAtomically(file, Array("old".utf8))
      try FS.writeAtomically(file, Array("new content".utf8), mode: 0o600)
      #expect(try FS.readText(file) == "new content")
      #expect(try FS.list(dir.path) == ["state.json"])
      #expect(try #require(try FS.lstatIfPresent(file)).st_mode & 0o777 == 0o600)
    }
  }

  @Test("writeAtomically into a missing directory fails and leaves nothing")
  func writeAtomicallyFails() throws {
    try withTemporaryDirectory { dir throws in
      #expect(throws: BerthError.self) { try FS.writeAtomically(dir.at("missing/file"), Array("x".utf8)) }
      #expect(try FS.list(dir.path).isEmpty)
    }
  }

  @Test("makeDirectories makes every missing parent; an existing directory is fine")
  func makeDirectories() throws {
    try withTemporaryDirectory { dir throws in
      let deep = dir.at("a/b/c/d")
      try FS.makeDirectories(deep, mode: 0o700)
      #expect(FS.isDirectory(deep))
      try FS.makeDirectories(deep)
      try FS.makeDirectories(dir.at("a/b"))
      #expect(try FS.list(dir.at("a/b")) == ["c"])
      // Trailing slashes and repeated slashes are fine.
      try FS.makeDirectories(dir.at("x//y/"))
      #expect(FS.isDirectory(dir.at("x/y")))
    }
  }

  @Test("makeDirectories through a file fails, naming the path")
  func makeDirectoriesThroughFile() throws {
    try withTemporaryDirectory { dir throws in
      try FS.write(dir.at("file"), "x")
      let error = #expect(throws: BerthError.self) { try FS.makeDirectories(dir.at("file/sub")) }
      #expect(error?.message.contains(dir.at("file")) == true)
      #expect(!FS.isDirectory(dir.at("file")))
    }
  }

  @Test("list gives every name but . and ..")
  func list() throws {
    try withTemporaryDirectory { dir throws in
      #expect(try FS.list(dir.path).isEmpty)
      try FS.write(dir.at("f"), "")
      try FS.makeDirectories(dir.at("d"))
      symlink("/nonexistent", dir.at("dangling"))
      try FS.write(dir.at(".hidden"), "")
      #expect(try FS.list(dir.path).sorted() == [".hidden", "d", "dangling", "f"])
      let fd = open(dir.path, O_RDONLY | O_DIRECTORY)
      defer { close(fd) }
      #expect(try FS.list(directoryFD: fd).sorted() == [".hidden", "d", "dangling", "f"])
      // The descriptor is not consumed: it lists again.
      #expect(try FS.list(directoryFD: fd).count == 4)
    }
  }

  @Test("list of a missing directory fails, naming it")
  func listMissing() throws {
    try withTemporaryDirectory { dir throws in
      let error = #expect(throws: BerthError.self) { try FS.list(dir.at("nope")) }
      #expect(error?.message.contains(dir.at("nope")) == true)
      #expect(error?.errno == ENOENT)
    }
  }

  @Test("removeTree removes a tree and does not follow symlinks out of it")
  func removeTree() throws {
    try withTemporaryDirectory { outside throws in
      try FS.makeDirectories(outside.at("keep/inner"))
      try FS.write(outside.at("keep/inner/precious"), "do not delete")
      try FS.write(outside.at("file"), "do not delete either")

      try withTemporaryDirectory { dir throws in
        let tree = dir.at("tree")
        try FS.makeDirectories(tree + "/a/b/c")
        try FS.write(tree + "/a/b/c/file", "x")
        try FS.write(tree + "/top", "y")
        symlink(outside.at("keep"), tree + "/a/link-to-dir")
        symlink(outside.at("file"), tree + "/a/b/link-to-file")
        symlink("../../..", tree + "/a/b/c/up")
        symlink("/nonexistent", tree + "/dangling")

        try FS.removeTree(tree)
        #expect(!FS.exists(tree))
        #expect(try FS.lstatIfPresent(tree) == nil)
        #expect(try FS.readText(outside.at("keep/inner/precious")) == "do not delete")
        #expect(try FS.readText(outside.at("file")) == "do not delete either")
        #expect(try FS.list(dir.path).isEmpty)
      }
    }
  }

  @Test("removeTree of a symlink to a directory removes only the link")
  func removeTreeOfLink() throws {
    try withTemporaryDirectory { dir throws in
      try FS.makeDirectories(dir.at("target/sub"))
      symlink(dir.at("target"), dir.at("link"))
      try FS.removeTree(dir.at("link"))
      #expect(try FS.lstatIfPresent(dir.at("link")) == nil)
      #expect(FS.isDirectory(dir.at("target/sub")))
    }
  }

  @Test("removeTree of a missing path or a single file")
  func removeTreeSimple() throws {
    try withTemporaryDirectory { dir throws in
      try FS.removeTree(dir.at("missing"))
      try FS.write(dir.at("file"), "x")
      try FS.removeTree(dir.at("file"))
      #expect(!FS.exists(dir.at("file")))
    }
  }

  @Test("exists, isDirectory, lstatIfPresent, readLink and realPath")
  func inspection() throws {
    try withTemporaryDirectory { dir throws in
      try FS.write(dir.at("file"), "x")
      symlink("file", dir.at("link"))
      symlink("nowhere", dir.at("dangling"))
      #expect(FS.exists(dir.at("file")))
      #expect(FS.exists(dir.at("link")))
      #expect(!FS.exists(dir.at("dangling")))  // access(2) follows the link
      #expect(FS.isDirectory(dir.path))
      #expect(!FS.isDirectory(dir.at("file")))
      #expect(try FS.lstatIfPresent(dir.at("dangling")).map { $0.st_mode & S_IFMT } == S_IFLNK)
      #expect(try FS.lstatIfPresent(dir.at("missing")) == nil)
      #expect(try FS.lstatIfPresent(dir.at("file/below")) == nil)  // ENOTDIR counts as absent
      #expect(try FS.readLink(dir.at("link")) == "file")
      #expect(try FS.realPath(dir.at("link")) == (try FS.realPath(dir.path)) + "/file")
      #expect(throws: BerthError.self) { try FS.readLink(dir.at("file")) }
      #expect(throws: BerthError.self) { try FS.realPath(dir.at("dangling")) }
    }
  }
}
