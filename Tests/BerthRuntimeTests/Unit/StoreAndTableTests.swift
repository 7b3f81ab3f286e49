@testable import BerthRuntime
import BerthOS
import Testing

#if canImport(Glibc)
  import Glibc
#endif

@Suite("Table")
struct TableTests {
  /// Go's tabwriter with runc's settings: columns at least 12 wide, 3 spaces of padding, the
  /// last column not padded.
  @Test("render pads like runc list")
  func render() {
    let rows = [
      ["ID", "PID", "STATUS", "BUNDLE"],
      ["a", "1", "running", "/b"],
      ["long-container-id-1", "12345", "stopped", "/run/bundles/long"],
    ]
    let expected =
      "ID                    PID         STATUS      BUNDLE\n"
      + "a                     1           running     /b\n"
      + "long-container-id-1   12345       stopped     /run/bundles/long\n"
    #expect(Table.render(rows) == expected)
  }

  @Test("a header alone, empty cells, and no rows")
  func edges() {
    #expect(
      Table.render([["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]])
        == "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n")
    #expect(Table.render([["A", "B"], ["", ""]]) == "A           B\n            \n")
    #expect(Table.render([]) == "")
    #expect(Table.render([["only"]]) == "only\n")
    // A cell of exactly 9 characters still fits in 12; one of 10 widens the column to 13.
    #expect(Table.render([["123456789", "x"]]) == "123456789   x\n")
    #expect(Table.render([["1234567890", "x"]]) == "1234567890   x\n")
  }
}

@Suite("ContainerStore")
struct ContainerStoreTests {
  @Test("valid container IDs", arguments: ["a", "abc", "A_Z-09+x", "a.b", "...", "-", "x" + String(repeating: "y", count: 200)])
  func valid(_ id: String) throws {
    try ContainerStore.validate(id: id)
  }

  @Test("invalid container IDs are refused, quoting the ID", arguments: ["", ".", "..", "a/b", "/abs", "a b", "ä", "a:b", "a\n", "a\0b", "a*"])
  func invalid(_ id: String) {
    let error = #expect(throws: BerthError.self) { try ContainerStore.validate(id: id) }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.contains("\"\(id)\"") == true)
  }

  @Test("makeDirectory refuses an ID in use and an invalid ID; list sees directories only")
  func store() throws {
    try withUnitBundle { dir in
      let store = ContainerStore(root: dir + "/state")
      #expect(try store.list() == [])
      #expect(try store.makeDirectory(for: "c1") == dir + "/state/c1")
      _ = try store.makeDirectory(for: "b2")
      let taken = #expect(throws: BerthError.self) { try store.makeDirectory(for: "c1") }
      #expect(taken?.code == .alreadyExists)
      #expect(throws: BerthError.self) { try store.makeDirectory(for: "../escape") }
      #expect(!FS.exists(dir + "/escape"))
      try FS.write(dir + "/state/stray-file", "x")
      #expect(try store.list() == ["b2", "c1"])
      let missing = #expect(throws: BerthError.self) { try store.load("nope") }
      #expect(missing?.code == .notFound)
      #expect(missing?.message.contains("\"nope\"") == true)
    }
  }
}

@Suite("ProcessInfo")
struct ProcessInfoTests {
  @Test("stat of this process gives its state and start time")
  func ownStat() throws {
    let info = try #require(BerthRuntime.ProcessInfo.stat(pid: Int(getpid())))
    #expect("RSD".contains(info.state))
    #expect(info.startTime > 0)
    #expect(BerthRuntime.ProcessInfo.isAlive(pid: Int(getpid()), startTime: info.startTime))
    // Another start time means another process that reused the PID.
    #expect(!BerthRuntime.ProcessInfo.isAlive(pid: Int(getpid()), startTime: info.startTime + 1))
    // PID 1 started before this process.
    let initInfo = try #require(BerthRuntime.ProcessInfo.stat(pid: 1))
    #expect(initInfo.startTime <= info.startTime)
  }

  @Test("no such process", arguments: [0, -1, 1 << 30])
  func missing(_ pid: Int) {
    #expect(BerthRuntime.ProcessInfo.stat(pid: pid) == nil)
    #expect(!BerthRuntime.ProcessInfo.isAlive(pid: pid, startTime: 0))
  }

  /// The command name may hold spaces and parentheses: fields are read after the last ")".
  @Test("a command name with spaces and parentheses, and a zombie")
  func awkwardName() throws {
    try withUnitBundle { dir in
      // The kernel names the process after the path given to execve, link or not.
      let program = dir + "/a) b (c"
      #expect(symlink("/bin/sleep", program) == 0)
      let pid = try BerthOS.Subprocess.spawn(program, args: ["sleep", "1000"], env: [], fds: [])
      defer { kill(pid, SIGKILL); _ = try? BerthOS.Subprocess.wait(pid) }
      let info = try #require(BerthRuntime.ProcessInfo.stat(pid: Int(pid)))
      #expect("RSD".contains(info.state))
      #expect(info.startTime >= (BerthRuntime.ProcessInfo.stat(pid: Int(getpid()))?.startTime ?? .max))
      #expect(BerthRuntime.ProcessInfo.isAlive(pid: Int(pid), startTime: info.startTime))

      // Exited but not reaped: a zombie is not alive.
      kill(pid, SIGKILL)
      var siginfo = siginfo_t()
      #expect(waitid(P_PID, id_t(pid), &siginfo, WEXITED | WNOWAIT) == 0)
      #expect(BerthRuntime.ProcessInfo.stat(pid: Int(pid))?.state == "Z")
      #expect(!BerthRuntime.ProcessInfo.isAlive(pid: Int(pid), startTime: info.startTime))
    }
  }
}
