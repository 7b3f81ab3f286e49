#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// How a process ended.
public enum ExitStatus: Equatable, Sendable, CustomStringConvertible {
  case exited(Int32)
  case signaled(Int32)

  public init(waitStatus status: Int32) {
    if status & 0x7f == 0 {
      self = .exited((status >> 8) & 0xff)
    } else {
      self = .signaled(status & 0x7f)
    }
  }

  /// The shell convention: the exit code, or 128 + the signal number.
  public var shellCode: Int32 {
    switch self {
    case .exited(let code): return code
    case .signaled(let signal): return 128 + signal
    }
  }

  public var description: String {
    switch self {
    case .exited(let code): return "exit status \(code)"
    case .signaled(let signal): return "killed by signal \(Signals.name(of: signal))"
    }
  }
}

/// fork+exec through the C spawn helper (async-signal-safe in the child).
public enum Subprocess {
  /// Starts `path` with `args` (args[0] included) and `env`. `fds` maps descriptors in this
  /// process to numbers in the child: [(pipeEnd, 0)] makes pipeEnd the child's stdin. When
  /// `fds` is empty the child gets this process's 0, 1 and 2.
  public static func spawn(
    _ path: String, args: [String], env: [String], fds: [(source: Int32, target: Int32)]? = nil,
    cwd: String? = nil, newSession: Bool = false
  ) throws -> pid_t {
    let map = fds ?? [(0, 0), (1, 1), (2, 2)]
    var flat: [Int32] = []
    for (source, target) in map { flat += [source, target] }
    let pid = withCStrings(args) { argv in
      withCStrings(env) { envp in
        flat.withUnsafeBufferPointer { fdMap in
          if let cwd {
            return berth_spawn(path, argv, envp, fdMap.baseAddress, Int32(map.count), cwd, newSession ? 1 : 0)
          }
          return berth_spawn(path, argv, envp, fdMap.baseAddress, Int32(map.count), nil, newSession ? 1 : 0)
        }
      }
    }
    if pid < 0 { throw BerthError.system("start \(path)") }
    return pid
  }

  /// waitpid(2) until the process ends.
  public static func wait(_ pid: pid_t) throws -> ExitStatus {
    var status: Int32 = 0
    let rc = retryOnInterrupt { waitpid(pid, &status, 0) }
    if rc < 0 { throw BerthError.system("wait for process \(pid)") }
    return ExitStatus(waitStatus: status)
  }

  /// Waits up to `timeout` nanoseconds; nil when the process is still running then.
  public static func wait(_ pid: pid_t, timeoutNanoseconds timeout: UInt64) throws -> ExitStatus? {
    let deadline = Clock.monotonicNanoseconds() + timeout
    var delay: UInt32 = 200  // microseconds, doubled up to 20 ms
    while true {
      var status: Int32 = 0
      let rc = retryOnInterrupt { waitpid(pid, &status, WNOHANG) }
      if rc < 0 { throw BerthError.system("wait for process \(pid)") }
      if rc == pid { return ExitStatus(waitStatus: status) }
      if Clock.monotonicNanoseconds() >= deadline { return nil }
      usleep(delay)
      delay = min(delay * 2, 20_000)
    }
  }

  /// Runs a program to completion (in `cwd` when given), feeding `input` on stdin and
  /// collecting stdout and stderr.
  public static func run(
    _ path: String, args: [String], env: [String] = [], input: [UInt8] = [],
    timeoutNanoseconds: UInt64? = nil, cwd: String? = nil
  ) throws -> (status: ExitStatus, output: [UInt8], error: [UInt8], timedOut: Bool) {
    var stdinPipe: [Int32] = [0, 0], stdoutPipe: [Int32] = [0, 0], stderrPipe: [Int32] = [0, 0]
    try check("pipe") { berth_pipe2(&stdinPipe, O_CLOEXEC) }
    try check("pipe") { berth_pipe2(&stdoutPipe, O_CLOEXEC) }
    try check("pipe") { berth_pipe2(&stderrPipe, O_CLOEXEC) }
    let pid: pid_t
    do {
      pid = try spawn(path, args: args, env: env, fds: [(stdinPipe[0], 0), (stdoutPipe[1], 1), (stderrPipe[1], 2)], cwd: cwd)
    } catch {
      for fd in stdinPipe + stdoutPipe + stderrPipe { close(fd) }
      throw error
    }
    close(stdinPipe[0]); close(stdoutPipe[1]); close(stderrPipe[1])
    let io = pumpPipes(input: input, stdin: stdinPipe[1], stdout: stdoutPipe[0], stderr: stderrPipe[0],
                       timeoutNanoseconds: timeoutNanoseconds)
    if io.timedOut { kill(pid, SIGKILL) }
    let status = try wait(pid)
    return (status, io.output, io.error, io.timedOut)
  }

  /// Writes `input` and reads both outputs with poll(2) until both close or time runs out.
  /// Closes the three descriptors.
  private static func pumpPipes(
    input: [UInt8], stdin: Int32, stdout: Int32, stderr: Int32, timeoutNanoseconds: UInt64?
  ) -> (output: [UInt8], error: [UInt8], timedOut: Bool) {
    var output: [UInt8] = [], errorOutput: [UInt8] = []
    var written = 0
    var inFD = stdin, outFD = stdout, errFD = stderr
    if input.isEmpty { close(inFD); inFD = -1 }
    _ = fcntl(inFD, F_SETFL, O_NONBLOCK)
    signal(SIGPIPE, SIG_IGN)
    let deadline = timeoutNanoseconds.map { Clock.monotonicNanoseconds() + $0 }
    var buffer = [UInt8](repeating: 0, count: 65536)
    var timedOut = false
    while outFD >= 0 || errFD >= 0 {
      var polls = [pollfd(fd: outFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: errFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0)]
      var waitMs: Int32 = -1
      if let deadline {
        let now = Clock.monotonicNanoseconds()
        if now >= deadline { timedOut = true; break }
        waitMs = Int32(min((deadline - now) / 1_000_000 + 1, UInt64(Int32.max)))
      }
      let ready = poll(&polls, 3, waitMs)
      if ready < 0 { if errno == EINTR { continue }; break }
      for index in 0..<2 where polls[index].revents != 0 {
        let fd = polls[index].fd
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n > 0 {
          if index == 0 { output += buffer[0..<n] } else { errorOutput += buffer[0..<n] }
        } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
          close(fd)
          if index == 0 { outFD = -1 } else { errFD = -1 }
        }
      }
      if inFD >= 0 && polls[2].revents != 0 {
        let n = input.withUnsafeBytes { raw in
          guard let base = raw.baseAddress else { return 0 }
          return write(inFD, base + written, raw.count - written)
        }
        if n > 0 { written += n }
        if n < 0 && errno != EAGAIN && errno != EINTR { written = input.count }
        if written >= input.count { close(inFD); inFD = -1 }
      }
    }
    for fd in [inFD, outFD, errFD] where fd >= 0 { close(fd) }
    return (output, errorOutput, timedOut)
  }
}

/// Calls `body` with a NULL-terminated C array of strings that lives for the call.
public func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
  var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
  pointers.append(nil)
  defer { for pointer in pointers { free(pointer) } }
  return pointers.withUnsafeBufferPointer { buffer in
    guard let base = buffer.baseAddress else { fatalError("unreachable: the array holds its terminator") }
    return body(base)
  }
}
