import BerthOS
import Testing

#if canImport(Glibc)
  import Glibc
#endif

@Suite("Subprocess")
struct SubprocessTests {
  static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

  @Test("the exit code comes back", arguments: [0, 1, 7, 255] as [Int32])
  func exitCode(_ code: Int32) throws {
    let result = try Subprocess.run("/bin/sh", args: ["sh", "-c", "exit \(code)"])
    #expect(result.status == .exited(code))
    #expect(!result.timedOut)
  }

  @Test("stdout and stderr are captured apart")
  func capture() throws {
    let result = try Subprocess.run("/bin/sh", args: ["sh", "-c", "echo out; echo err >&2; echo more"])
    #expect(Self.text(result.output) == "out\nmore\n")
    #expect(Self.text(result.error) == "err\n")
    #expect(result.status == .exited(0))
  }

  @Test("arguments and the environment are passed as given")
  func argsAndEnvironment() throws {
    let result = try Subprocess.run(
      "/bin/sh", args: ["sh", "-c", "echo \"$0 $FOO $# $1\"", "zero", "one two"], env: ["FOO=bar baz"])
    #expect(Self.text(result.output) == "zero bar baz 1 one two\n")
    // Nothing of this process's environment leaks into the child's.
    let empty = try Subprocess.run("/bin/sh", args: ["sh", "-c", "echo ${HOME-unset}"])
    #expect(Self.text(empty.output) == "unset\n")
  }

  @Test("stdin input reaches the program")
  func input() throws {
    let result = try Subprocess.run("/bin/cat", args: ["cat"], input: Array("line 1\nline 2\n".utf8))
    #expect(Self.text(result.output) == "line 1\nline 2\n")
  }

  /// More than a pipe buffer each way: input and output must be pumped together.
  @Test("a large input and output do not deadlock")
  func largeInput() throws {
    let input = (0..<500_000).map { UInt8(truncatingIfNeeded: $0 % 251) }
    let result = try Subprocess.run("/bin/cat", args: ["cat"], input: input, timeoutNanoseconds: 60_000_000_000)
    #expect(!result.timedOut)
    #expect(result.output.count == input.count)
    #expect(result.output == input)
  }

  @Test("without input, stdin is at end of file")
  func noInput() throws {
    let result = try Subprocess.run("/bin/sh", args: ["sh", "-c", "cat; echo done"])
    #expect(Self.text(result.output) == "done\n")
  }

  @Test("a program past its timeout is killed")
  func timeout() throws {
    let result = try Subprocess.run("/bin/sleep", args: ["sleep", "30"], timeoutNanoseconds: 100_000_000)
    #expect(result.timedOut)
    #expect(result.status == .signaled(SIGKILL))
  }

  @Test("a program that finishes within its timeout is not marked timed out")
  func withinTimeout() throws {
    let result = try Subprocess.run("/bin/sh", args: ["sh", "-c", "echo quick"], timeoutNanoseconds: 60_000_000_000)
    #expect(!result.timedOut)
    #expect(Self.text(result.output) == "quick\n")
  }

  @Test("a missing program is an error naming it")
  func missingProgram() {
    let error = #expect(throws: BerthError.self) {
      try Subprocess.run("/nonexistent/program", args: ["program"])
    }
    #expect(error?.message.contains("/nonexistent/program") == true)
    #expect(error?.errno == ENOENT)
  }

  @Test("spawn with a working directory, then wait")
  func spawnWithCwd() throws {
    var pipeFDs: [Int32] = [0, 0]
    #expect(pipe(&pipeFDs) == 0)
    let pid = try Subprocess.spawn(
      "/bin/sh", args: ["sh", "-c", "pwd; exit 3"], env: [], fds: [(pipeFDs[1], 1)], cwd: "/tmp")
    close(pipeFDs[1])
    let status = try Subprocess.wait(pid)
    let output = try readAllBytes(pipeFDs[0])
    close(pipeFDs[0])
    #expect(status == .exited(3))
    #expect(Self.text(output) == "/tmp\n")
  }

  @Test("wait with a timeout returns nil while the process runs")
  func waitTimeout() throws {
    let pid = try Subprocess.spawn("/bin/sleep", args: ["sleep", "30"], env: [], fds: [])
    let early = try Subprocess.wait(pid, timeoutNanoseconds: 1_000_000)
    #expect(early == nil)
    kill(pid, SIGKILL)
    let status = try Subprocess.wait(pid)
    #expect(status == .signaled(SIGKILL))
  }
}
