import BerthOS
import Foundation
import Testing

/// `berth run --init` end to end: berth-init is PID 1 at /sbin/docker-init, in front of the
/// command, and passes on the exit status and the stop signal.
@Suite("berth run --init", .engineSandbox)
struct RunInitTests {
  @Test("PID 1 is /sbin/docker-init -- COMMAND; the command's exit code is the container's")
  func pidOne() async throws {
    try await EngineSandbox.with { sandbox in
      let script = #"tr '\0' ' ' < /proc/1/cmdline; echo; echo ppid=$PPID; exit 3"#
      let r = try await sandbox.run("run", "--rm", "--init", "busybox", "sh", "-c", script)
      #expect(r.code == 3, "\(r)")
      #expect(r.stdout == "/sbin/docker-init -- sh -c \(script) \nppid=1\n")
    }
  }

  @Test("stop's SIGTERM reaches a command that has no handler for it: 128+15, without the timeout")
  func stopForwardsTerm() async throws {
    // As PID 1 itself, sleep would ignore SIGTERM (the kernel drops signals an init does not
    // handle) and stop would wait out its timeout, then kill: 137.
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached("--init", "busybox", "sleep", "1000")
      let start = ContinuousClock.now
      try await sandbox.ok("stop", "-t", "30", id)
      #expect(ContinuousClock.now - start < .seconds(20))
      #expect(try await sandbox.ok("wait", id).stdout == "143\n")
    }
  }
}
