import BerthOS
import Testing

/// BerthOS's, not Swift Testing's exit-test status.
typealias ExitStatus = BerthOS.ExitStatus

@Suite("ExitStatus")
struct ExitStatusTests {
  /// Raw wait(2) statuses: the exit code in bits 8-15, or the signal in bits 0-6 (bit 7: core dumped).
  @Test(
    "init(waitStatus:)",
    arguments: [
      (0, ExitStatus.exited(0)),
      (1 << 8, .exited(1)),
      (7 << 8, .exited(7)),
      (255 << 8, .exited(255)),
      (9, .signaled(9)),
      (15, .signaled(15)),
      (0x80 | 11, .signaled(11)),  // SIGSEGV with a core dump
      (0x80 | 6, .signaled(6)),
      (64, .signaled(64)),
    ] as [(Int32, ExitStatus)])
  func fromWaitStatus(_ raw: Int32, _ expected: ExitStatus) {
    #expect(ExitStatus(waitStatus: raw) == expected)
  }

  @Test(
    "shellCode and description",
    arguments: [
      (ExitStatus.exited(0), Int32(0), "exit status 0"),
      (.exited(7), 7, "exit status 7"),
      (.exited(255), 255, "exit status 255"),
      (.signaled(9), 137, "killed by signal KILL"),
      (.signaled(15), 143, "killed by signal TERM"),
      (.signaled(37), 165, "killed by signal RTMIN+3"),
    ])
  func shellCode(_ status: ExitStatus, _ code: Int32, _ description: String) {
    #expect(status.shellCode == code)
    #expect(status.description == description)
  }

  @Test("a real process killed by a signal and one that exits")
  func realProcesses() throws {
    let killed = try Subprocess.run("/bin/sh", args: ["sh", "-c", "kill -KILL $$"])
    #expect(killed.status == .signaled(9))
    #expect(killed.status.shellCode == 137)
    let exited = try Subprocess.run("/bin/sh", args: ["sh", "-c", "exit 42"])
    #expect(exited.status == .exited(42))
  }
}
