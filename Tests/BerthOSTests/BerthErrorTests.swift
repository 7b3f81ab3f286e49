import BerthOS
import Testing

#if canImport(Glibc)
  import Glibc
#endif

@Suite("BerthError")
struct BerthErrorTests {
  @Test("prefixed adds context and keeps the code and errno")
  func prefixed() {
    let error = BerthError(.notFound, "no such container", errno: ENOENT)
    let outer = error.prefixed("delete c1")
    #expect(outer.message == "delete c1: no such container")
    #expect(outer.description == outer.message)
    #expect(outer.code == .notFound)
    #expect(outer.errno == ENOENT)
    #expect(outer.prefixed("runtime").message == "runtime: delete c1: no such container")
    // The original is unchanged (a value type).
    #expect(error.message == "no such container")
  }

  @Test("system names the call and the errno text")
  func system() {
    let error = BerthError.system("mount /proc", errno: EPERM)
    #expect(error.code == .system)
    #expect(error.errno == EPERM)
    #expect(error.message == "mount /proc: Operation not permitted")
  }

  @Test("check throws the errno of a failed call and returns the result of one that works")
  func check() throws {
    let error = #expect(throws: BerthError.self) {
      try BerthOS.check("open /nonexistent/x") { open("/nonexistent/x", O_RDONLY) }
    }
    #expect(error?.errno == ENOENT)
    #expect(error?.message == "open /nonexistent/x: No such file or directory")
    let fd = try BerthOS.check("open /dev/null") { open("/dev/null", O_RDONLY) }
    #expect(fd >= 0)
    close(fd)
  }

  @Test("codes compare by name")
  func codes() {
    #expect(BerthError.Code("invalidArgument") == .invalidArgument)
    #expect(BerthError.Code.invalidArgument != .notFound)
    #expect(BerthError(.invalidState, "x") == BerthError(.invalidState, "x"))
    #expect(BerthError(.invalidState, "x") != BerthError(.invalidState, "y"))
    #expect(quoted("a b") == "\"a b\"")
  }
}
