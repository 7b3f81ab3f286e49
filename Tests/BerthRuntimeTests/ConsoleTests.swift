import BerthOCI
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `process.terminal` with `--console-socket`: the pty master travels to the caller over SCM_RIGHTS.
@Suite("Console", .needsRoot)
struct ConsoleTests {
  private let script =
    "read line; echo \"got:$line\"; tty; stty size; stat -c '%t:%T' /dev/console; "
    + "for f in 0 1 2; do readlink /proc/self/fd/$f; done; echo \"term=$TERM\"; exit 0"

  private func expectConversation(_ output: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let lines = output.split(whereSeparator: \.isNewline).map(String.init)
    #expect(lines.contains("got:hello-pty"), "stdin through the pty: \(output)", sourceLocation: sourceLocation)
    #expect(lines.contains("/dev/pts/0"), "tty: \(output)", sourceLocation: sourceLocation)
    #expect(lines.contains("33 111"), "stty size must match consoleSize: \(output)", sourceLocation: sourceLocation)
    #expect(lines.contains("88:0"), "/dev/console must be the pty (136:0): \(output)", sourceLocation: sourceLocation)
    #expect(
      lines.filter { $0 == "/dev/pts/0" }.count >= 4, "fds 0, 1 and 2 must be the pty: \(output)",
      sourceLocation: sourceLocation)
    #expect(lines.contains("term=xterm"), "\(output)", sourceLocation: sourceLocation)
  }

  @Test("create --console-socket sends the pty master; the process runs on /dev/pts/0 with consoleSize")
  func createConsoleSocket() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.process.terminal = true
      c.process.consoleSize = ConsoleSize(height: 33, width: 111)
      c.process.env = ["PATH=/bin", "TERM=xterm"]
      let socket = try ConsoleSocket(path: sb.path("console.sock"))
      async let created = c.create(["sh", "-c", script], options: ["--console-socket", socket.path])
      let (master, _) = try await socket.receive()
      defer { close(master) }
      try requireSuccess(try await created, "create")
      #expect(isatty(master) == 1, "the descriptor received must be a terminal")
      expectSuccess(await c.start(), "start")
      let output = await converse(master: master, input: "hello-pty\n")
      expectConversation(output)
      #expect(try await c.waitFor(.stopped))
    }
  }

  @Test("run --detach --console-socket")
  func runDetachedConsoleSocket() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.process.terminal = true
      c.process.consoleSize = ConsoleSize(height: 33, width: 111)
      c.process.env = ["PATH=/bin", "TERM=xterm"]
      let socket = try ConsoleSocket(path: sb.path("console.sock"))
      async let ran = c.run(["sh", "-c", script], options: ["--detach", "--console-socket", socket.path])
      let (master, _) = try await socket.receive()
      defer { close(master) }
      try requireSuccess(try await ran, "run -d")
      expectConversation(await converse(master: master, input: "hello-pty\n"))
    }
  }

  @Test("exec --tty --console-socket gives the exec'd process its own pty")
  func execConsoleSocket() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try await c.runDetached(["sleep", "100"])
      let socket = try ConsoleSocket(path: sb.path("exec-console.sock"))
      async let executed = c.exec(
        ["sh", "-c", "read line; echo \"got:$line\"; tty; exit 4"], options: ["--tty", "--detach", "--console-socket", socket.path])
      let (master, _) = try await socket.receive()
      defer { close(master) }
      expectSuccess(await executed, "exec -t -d")
      let output = await converse(master: master, input: "hello-exec\n")
      #expect(output.contains("got:hello-exec"), "\(output)")
      #expect(output.contains("/dev/pts/"), "\(output)")
    }
  }

  @Test("terminal: true without --console-socket is refused for create, leaving nothing behind")
  func terminalWithoutSocket() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.process.terminal = true
      let r = try await c.create(["sh"])
      #expect(!r.succeeded, "\(r)")
      #expect(!r.err.isEmpty)
    }
  }
}
