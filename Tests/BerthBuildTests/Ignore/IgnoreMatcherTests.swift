import BerthOS
import BerthTestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

@testable import BerthBuild

@Suite(".dockerignore patterns")
struct IgnoreMatcherTests {
  /// (patterns, path, excluded)
  static let cases: [([String], String, Bool)] = [
    (["*.md"], "README.md", true),
    (["*.md"], "docs/README.md", false),
    (["**/*.md"], "docs/README.md", true),
    (["**/*.md"], "README.md", true),
    (["**/*.go"], "a/b/c/main.go", true),
    (["**/*.go"], "main.go", true),
    (["**/*.go"], "main.gox", false),
    (["*.md", "!README.md"], "README.md", false),
    (["*.md", "!README.md"], "CHANGES.md", true),
    (["!README.md", "*.md"], "README.md", true),
    (["*/temp*"], "somedir/temporary.txt", true),
    (["*/temp*"], "somedir/sub/temp", false),
    (["*/*/temp*"], "somedir/subdir/temporary.txt", true),
    (["temp?"], "temp1", true),
    (["temp?"], "temp12", false),
    (["temp?"], "temp", false),
    (["a?c"], "a/c", false),
    (["[a-c]x"], "bx", true),
    (["[a-c]x"], "dx", false),
    (["[^a-c]x"], "dx", true),
    (["[^a-c]x"], "ax", false),
    (["[\\]]"], "]", true),
    (["\\*"], "*", true),
    (["\\*"], "x", false),
    (["x\\?"], "x?", true),
    (["x\\?"], "xy", false),
    // A directory pattern excludes everything inside; dir/ is cleaned to dir (it also matches a file).
    (["dir"], "dir/a/b.txt", true),
    (["dir/"], "dir/a/b.txt", true),
    (["dir/"], "dir", true),
    (["dir"], "dirt", false),
    (["dir"], "sub/dir", false),
    (["**/dir"], "sub/dir/x", true),
    (["dir/**"], "dir/x/y", true),
    (["dir/**"], "dir", false),
    (["**"], "anything/at/all", true),
    // `**` then plain text matches by suffix, as Docker does.
    (["**foo"], "a/xfoo", true),
    (["**.log"], "deep/down/x.log", true),
    (["**/foo"], "foo", true),
    (["**/foo"], "a/b/foo", true),
    (["**/foo"], "a/xfoo", false),
    (["**/foo"], "a/foo/inside", true),
    // Leading slash, ./ and .. are cleaned.
    (["/abs.txt"], "abs.txt", true),
    (["./rel/../x.txt"], "x.txt", true),
    (["a//b/./c"], "a/b/c", true),
    (["  spaced.txt  "], "spaced.txt", true),
    // Re-inclusion under an excluded directory.
    (["dir", "!dir/keep.txt"], "dir/keep.txt", false),
    (["dir", "!dir/keep.txt"], "dir/other.txt", true),
    (["dir", "!dir/keep"], "dir/keep/sub/file", false),
    (["**/node_modules", "!**/node_modules/keep"], "a/node_modules/keep", false),
    (["*", "!src"], "src/main.swift", false),
    (["*", "!src", "src/*.o"], "src/x.o", true),
    (["*", "!src", "src/*.o"], "src/x.c", false),
    ([], "anything", false),
    (["# not a comment when it is a pattern"], "# not a comment when it is a pattern", true),
  ]

  @Test("matches", arguments: cases)
  func matches(_ patterns: [String], _ path: String, _ excluded: Bool) throws {
    let matcher = try IgnoreMatcher(patterns: patterns)
    #expect(matcher.matches(path, isDirectory: false) == excluded)
  }

  @Test("reading a .dockerignore: comments, blank lines, CRLF, BOM, ! with spaces")
  func readFile() throws {
    let text = "\u{FEFF}# comment\r\n*.log\r\n\r\n   \n ! keep.log \n  #indented is a pattern\n/tmp/\n"
    #expect(IgnoreMatcher.patternLines(text) == ["*.log", "! keep.log", "#indented is a pattern", "/tmp/"])
    let matcher = try IgnoreMatcher(dockerignore: text)
    #expect(matcher.patterns.map(\.text) == ["*.log", "keep.log", "#indented is a pattern", "tmp"])
    #expect(matcher.patterns.map(\.isExclusion) == [false, true, false, false])
    #expect(matcher.matches("a.log"))
    #expect(!matcher.matches("keep.log"))
    #expect(matcher.matches("tmp/x"))
  }

  @Test("bad patterns", arguments: ["!", "[a", "[]", "a[b-"])
  func badPattern(_ pattern: String) {
    #expect(throws: BerthError.self) { try IgnoreMatcher(patterns: [pattern]) }
  }

  @Test("Go's filepath.Clean", arguments: [
    ("", "."), (".", "."), ("./", "."), ("a/", "a"), ("a//b", "a/b"), ("a/./b", "a/b"), ("a/../b", "b"),
    ("../a", "../a"), ("a/../..", ".."), ("/../a", "/a"), ("/", "/"), ("//a/", "/a"),
  ])
  func clean(_ path: String, _ cleaned: String) {
    #expect(IgnoreMatcher.clean(path) == cleaned)
  }

  @Test("may a ! pattern re-include something inside a directory")
  func mayReinclude() throws {
    let matcher = try IgnoreMatcher(patterns: ["dir", "!dir/sub/keep", "other", "!**/x", "!lit[ab]/y"])
    #expect(matcher.mayReinclude(under: "dir"))
    #expect(matcher.mayReinclude(under: "dir/sub"))
    #expect(matcher.mayReinclude(under: "any/where"))
    let classy = try IgnoreMatcher(patterns: ["*", "!lit[ab]/y"])
    #expect(classy.mayReinclude(under: "litb"))
    #expect(!classy.mayReinclude(under: "litc"))
    #expect(classy.mayReinclude(under: "litb/y/z"))
    let plain = try IgnoreMatcher(patterns: ["dir", "!dir/sub/keep"])
    #expect(plain.mayReinclude(under: "dir/sub"))
    #expect(!plain.mayReinclude(under: "dir/other"))
    #expect(!plain.mayReinclude(under: "elsewhere"))
    #expect(!(try IgnoreMatcher(patterns: ["dir"])).mayReinclude(under: "dir"))
  }
}

@Suite(".dockerignore: walking a context directory")
struct IgnoreWalkTests {
  /// A temporary context with `files` (paths ending in / are directories), removed afterwards.
  func withContext(_ files: [String], _ body: (String) throws -> Void) throws {
    let root = try ArchiveFixtures.makeTemporaryDirectory("ignore")
    defer { try? FS.removeTree(root) }
    for file in files {
      if file.hasSuffix("/") {
        try FS.makeDirectories(root + "/" + file)
      } else {
        try FS.makeDirectories(Path.dirname(root + "/" + file))
        try FS.write(root + "/" + file, Array("x".utf8))
      }
    }
    try body(root)
  }

  @Test("excluded files and directories are left out; re-included files keep their parents")
  func walk() throws {
    let files = [
      "Dockerfile", ".dockerignore", "README.md", "CHANGES.md", "main.go", "src/a.go", "src/b.txt", "src/deep/c.go",
      "node_modules/x/index.js", "node_modules/keep/k.js", "logs/", "build/out/bin", "build/out/keep.txt",
    ]
    try withContext(files) { root in
      try FS.write(root + "/.dockerignore", Array("*.md\n!README.md\n**/*.go\nnode_modules\n!node_modules/keep\nbuild\n!build/**/keep.txt\n.dockerignore\n".utf8))
      #expect(symlink("src/b.txt", root + "/link") == 0)
      let matcher = try IgnoreMatcher.load(contextDirectory: root)
      let entries = try matcher.includedEntries(inContext: root)
      #expect(entries.map(\.relativePath) == [
        "Dockerfile", "README.md", "build", "build/out", "build/out/keep.txt", "link", "logs",
        "node_modules", "node_modules/keep", "node_modules/keep/k.js", "src", "src/b.txt", "src/deep",
      ])
      #expect(entries.first(where: { $0.relativePath == "link" })?.kind == .symlink)
      #expect(entries.first(where: { $0.relativePath == "build/out" })?.kind == .directory)
      #expect(entries.first(where: { $0.relativePath == "README.md" })?.kind == .file)
    }
  }

  @Test("no .dockerignore: everything, in byte order, parents first")
  func noIgnoreFile() throws {
    try withContext(["b", "a/z", "a/b/c", "A", "a.txt"]) { root in
      let matcher = try IgnoreMatcher.load(contextDirectory: root)
      #expect(matcher.patterns.isEmpty)
      #expect(try matcher.includedPaths(inContext: root) == ["A", "a", "a/b", "a/b/c", "a/z", "a.txt", "b"])
    }
  }

  @Test("a bad pattern in .dockerignore names the file")
  func badFile() throws {
    try withContext([".dockerignore"]) { root in
      try FS.write(root + "/.dockerignore", Array("ok\n[bad\n".utf8))
      do {
        _ = try IgnoreMatcher.load(contextDirectory: root)
        Issue.record("no error")
      } catch let error as BerthError {
        #expect(error.message.hasPrefix(root + "/.dockerignore: syntax error in pattern \"[bad\""))
      }
    }
  }

  @Test("symlinks are listed, never followed; patterns see their own path")
  func symlinks() throws {
    try withContext(["real/inside.txt", "other/x"]) { root in
      #expect(symlink("real", root + "/dirlink") == 0)
      #expect(symlink("/etc", root + "/outside") == 0)
      try FS.write(root + "/.dockerignore", Array("other\noutside\n".utf8))
      let entries = try IgnoreMatcher.load(contextDirectory: root).includedEntries(inContext: root)
      #expect(entries.map(\.relativePath) == [".dockerignore", "dirlink", "real", "real/inside.txt"])
      #expect(entries.first(where: { $0.relativePath == "dirlink" })?.kind == .symlink)
    }
  }

  @Test("everything excluded but a few files deep down")
  func allowList() throws {
    try withContext(["a/b/c/keep.txt", "a/b/c/drop.txt", "a/b/other.txt", "top.txt", "Dockerfile"]) { root in
      let matcher = try IgnoreMatcher(patterns: ["*", "!a/b/c/keep.txt", "!Dockerfile"])
      #expect(try matcher.includedPaths(inContext: root) == ["Dockerfile", "a", "a/b", "a/b/c", "a/b/c/keep.txt"])
    }
  }
}
