import BerthOCI
import CLinux
import Glibc
import Testing

@testable import BerthSeccomp

/// How a child ended.
enum ChildEnd: Equatable, CustomStringConvertible {
  case exited(Int32)
  case signaled(Int32)

  init(waitStatus status: Int32) {
    self = status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
  }

  var description: String {
    switch self {
    case .exited(let code): return "exited \(code)"
    case .signaled(let signal): return "killed by signal \(signal)"
    }
  }
}

/// Exit codes the child uses for its own failures (errno values stay below them).
enum ChildFailure {
  static let noNewPrivs: Int32 = 250
  static let load: Int32 = 251
  static let unexpected: Int32 = 252
}

/// Loads filters only in children, never in the test process.
///
/// The test runner is multi-threaded, so the child (made with `berth_fork`, a raw clone
/// without atfork handlers) must not allocate or take locks: it resets signal dispositions,
/// turns off core dumps (SIGSYS from KILL_PROCESS/TRAP would dump core), sets no_new_privs,
/// calls `loadReturningErrno()` (allocation-free by design), runs `body` (raw syscalls only) and
/// `_exit`s with what `body` returns.
func runUnderFilter(_ program: SeccompProgram, _ body: () -> Int32) -> ChildEnd {
  let pid = berth_fork()
  if pid == 0 {
    berth_reset_signal_handlers()
    _ = berth_prlimit(0, Int32(RLIMIT_CORE.rawValue), 0, 0)
    if berth_prctl(Kernel.prSetNoNewPrivs, 1, 0, 0, 0) != 0 { _exit(ChildFailure.noNewPrivs) }
    if program.loadReturningErrno() < 0 { _exit(ChildFailure.load) }
    _exit(body())
  }
  #expect(pid > 0, "fork failed: errno \(errno)")
  return waitForChild(pid)
}

func waitForChild(_ pid: pid_t) -> ChildEnd {
  var status: Int32 = 0
  while waitpid(pid, &status, 0) < 0 {
    if errno != EINTR { return .exited(-1) }
  }
  return ChildEnd(waitStatus: status)
}

/// A raw syscall's errno, 0 when it succeeded: the child's exit code.
@inline(__always)
func errnoOf(_ number: Int32, _ a1: Int = 0, _ a2: Int = 0, _ a3: Int = 0, _ a4: Int = 0, _ a5: Int = 0) -> Int32 {
  let result = berth_syscall6(Int(number), a1, a2, a3, a4, a5, 0)
  return result < 0 ? berth_errno() : 0
}

/// The native syscall number libseccomp knows for `name` (tests rely on it existing).
func sysno(_ name: String) -> Int32 {
  guard let number = Seccomp.syscallNumber(name) else {
    Issue.record("libseccomp knows no syscall \(name)")
    return -1
  }
  return number
}

/// A temporary directory, removed by the caller.
func makeTemporaryDirectory() -> String {
  var template = Array("/tmp/berth-seccomp-test-XXXXXX".utf8CString)
  return template.withUnsafeMutableBufferPointer { buffer in
    guard let base = buffer.baseAddress, let result = mkdtemp(base) else { return "/tmp" }
    return String(cString: result)
  }
}

/// The code and message of a BerthError, read without importing BerthOS (this test target
/// depends only on BerthSeccomp and BerthOCI): nil for any other error.
func berthError(_ error: any Error) -> (code: String, message: String)? {
  guard String(reflecting: type(of: error)) == "BerthOS.BerthError" else { return nil }
  let mirror = Mirror(reflecting: error)
  guard let code = mirror.descendant("code", "name") as? String,
        let message = mirror.descendant("message") as? String
  else { return nil }
  return (code, message)
}

/// Expects `body` to throw a BerthError with `code` whose message starts with `prefix`.
func expectBerthError(
  code: String, messagePrefix prefix: String, _ context: String = "",
  sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
  do {
    try body()
    Issue.record("\(context): no error, expected \(code): \(prefix)…", sourceLocation: sourceLocation)
  } catch {
    guard let info = berthError(error) else {
      Issue.record("\(context): unexpected error \(error)", sourceLocation: sourceLocation)
      return
    }
    #expect(info.code == code, "\(context): \(info.message)", sourceLocation: sourceLocation)
    #expect(info.message.hasPrefix(prefix), "\(context): \(info.message)", sourceLocation: sourceLocation)
  }
}
