import BerthOS
import Foundation
import Testing

/// `-t` and `-i`: a pty for the container, the terminal's size, detaching and attaching.
/// `script` (util-linux) gives berth a terminal of its own.
@Suite("berth run -t / -i: terminals, detach, attach", .engineNeeds("script"))
struct RunTerminalTests {
  /// `script -qec COMMAND /dev/null`: COMMAND runs on a new pty; script exits with its code.
  static func scriptArguments(_ command: String) -> [String] { ["/usr/bin/script", "-qec", command, "/dev/null"] }

  @Test("-t gives the container a terminal of the terminal's size; its exit code comes back")
  func terminal() async throws {
    try await EngineSandbox.with { sandbox in
      let command = "stty rows 33 cols 77; exec \(EngineSandbox.berth) run --rm -it busybox sh -c 'tty; stty size; exit 4'"
      let arguments = Self.scriptArguments(command)
      let outcome = try await EngineSandbox.runProgram(arguments[0], Array(arguments.dropFirst()), environment: sandbox.environment)
      #expect(outcome.code == 4, "\(outcome)")
      // script(1) passes on its stdin's end of file as a control character, which the
      // container's terminal may echo ("^@") between the two lines.
      #expect(outcome.stdout.contains("/dev/pts/0\r\n") && outcome.stdout.contains("33 77\r\n"), "\(outcome)")

      // Without a terminal around it, -t still gives the container one (output lines end in \r\n).
      let bare = try await sandbox.ok("run", "--rm", "-t", "busybox", "sh", "-c", "test -t 0 && test -t 1 && echo on-a-tty")
      #expect(bare.stdout == "on-a-tty\r\n")
    }
  }

  @Test("ctrl-p ctrl-q detaches and leaves the container running; attach takes it back")
  func detachAndAttach() async throws {
    try await EngineSandbox.with { sandbox in
      let run = try sandbox.spawn(Self.scriptArguments("exec \(EngineSandbox.berth) run -it --name console busybox sh"), stdin: true)
      #expect(await run.waitForOutput("# "), "no prompt: \(run.output)")
      try run.write("echo mark-$((6*7))\n")
      #expect(await run.waitForOutput("mark-42"), "\(run.output)")
      try run.write("\u{10}\u{11}")
      let detached = await run.wait(seconds: 10)
      #expect(detached == .exited(0), "run after ctrl-p ctrl-q: \(String(describing: detached))\n\(run.output)\n\(run.errorOutput)")
      #expect(try await sandbox.ok("exec", "console", "echo", "still running").trimmed == "still running")

      let attach = try sandbox.spawn(Self.scriptArguments("exec \(EngineSandbox.berth) attach console"), stdin: true)
      // Nothing is printed on attach; the shell answers what is typed.
      let answered = await sandbox.eventually(10) {
        try? attach.write("echo back-$((1+1))\n")
        return await attach.waitForOutput("back-2", seconds: 0.5)
      }
      #expect(answered, "\(attach.output)")
      try attach.write("exit 3\n")
      let ended = await attach.wait(seconds: 10)
      #expect(ended == .exited(3), "attach: \(String(describing: ended))\n\(attach.output)\n\(attach.errorOutput)")
      #expect(try await sandbox.ok("wait", "console").trimmed == "3")
    }
  }
}
