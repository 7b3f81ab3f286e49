import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// What a finished (or killed) command left behind.
struct CommandResult: Sendable, CustomStringConvertible {
  /// The command line, for messages.
  var argv: [String]
  /// The exit code, or 128 + signal number when a signal ended the process (shell convention).
  var status: Int32
  var stdout: String
  var stderr: String
  /// The command ran past its time limit and was killed.
  var timedOut: Bool
  /// Wall-clock seconds.
  var duration: Double

  var succeeded: Bool { status == 0 && !timedOut }
  /// stdout without surrounding whitespace.
  var out: String { stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
  /// stderr without surrounding whitespace.
  var err: String { stderr.trimmingCharacters(in: .whitespacesAndNewlines) }
  /// The non-empty lines of stdout, each trimmed.
  var lines: [String] {
    stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
  }

  var description: String {
    var text = "`\(argv.joined(separator: " "))` exited \(status)"
    if timedOut { text += " (TIMED OUT after \(String(format: "%.1f", duration)) s, killed)" }
    text += " in \(String(format: "%.2f", duration)) s"
    text += "\n--- stdout ---\n\(stdout.prefix(4000))"
    text += "\n--- stderr ---\n\(stderr.prefix(4000))"
    return text
  }
}

/// Where the child's standard input comes from.
enum StandardInput: Sendable {
  case null
  case text(String)
}

/// Spawns commands with posix_spawn, with exact control over the descriptors the child inherits.
///
/// The child gets: 0 = stdin (/dev/null or an unlinked file holding the given text),
/// 1 and 2 = unlinked temporary files (never pipes, so a container that inherits them can keep
/// them open after the runtime exits without making us wait for EOF), 3... = `extraFds` in order,
/// and nothing else (closefrom). Signal mask and dispositions are reset to the defaults, and the
/// child gets its own process group so a timeout can kill it and its helpers.
enum Subprocess {
  static let defaultEnvironment = [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "LANG=C",
  ]

  /// Runs a command to completion on a dedicated thread, so that many can wait at once without
  /// tying up Swift concurrency's small cooperative pool.
  static func run(
    _ argv: [String], stdin: StandardInput = .null, extraFds: [Int32] = [],
    environment: [String] = defaultEnvironment, timeout: Double = 20
  ) async -> CommandResult {
    await withCheckedContinuation { (continuation: CheckedContinuation<CommandResult, Never>) in
      let thread = Thread {
        continuation.resume(
          returning: runBlocking(argv, stdin: stdin, extraFds: extraFds, environment: environment, timeout: timeout))
      }
      thread.stackSize = 1 << 20
      thread.start()
    }
  }

  /// The blocking implementation of `run`.
  static func runBlocking(
    _ argv: [String], stdin: StandardInput = .null, extraFds: [Int32] = [],
    environment: [String] = defaultEnvironment, timeout: Double = 20
  ) -> CommandResult {
    let start = Date()
    func failure(_ message: String) -> CommandResult {
      CommandResult(
        argv: argv, status: 127, stdout: "", stderr: "test harness could not spawn: \(message)", timedOut: false,
        duration: Date().timeIntervalSince(start))
    }
    guard let path = argv.first else { return failure("empty command") }

    // Everything we open here is close-on-exec, so concurrent spawns on other threads never
    // inherit it; the child gets copies only through the dup2 actions below.
    guard let outFd = anonymousFile(), let errFd = anonymousFile() else { return failure("temp file: \(errnoText())") }
    defer {
      close(outFd)
      close(errFd)
    }
    let inFd: Int32
    switch stdin {
    case .null:
      inFd = open("/dev/null", O_RDONLY | O_CLOEXEC)
    case .text(let text):
      guard let fd = anonymousFile() else { return failure("temp file: \(errnoText())") }
      let bytes = Array(text.utf8)
      _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
      lseek(fd, 0, SEEK_SET)
      inFd = fd
    }
    guard inFd >= 0 else { return failure("stdin: \(errnoText())") }
    defer { close(inFd) }

    // Move every source descriptor above the targets first, so that no dup2 below can clobber a
    // source that happens to have a low number.
    let sources = [inFd, outFd, errFd] + extraFds
    var high: [Int32] = []
    defer { for fd in high { close(fd) } }
    for fd in sources {
      let copy = fcntl(fd, F_DUPFD_CLOEXEC, 100)
      guard copy >= 0 else { return failure("dup of fd \(fd): \(errnoText())") }
      high.append(copy)
    }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    for (target, fd) in high.enumerated() {
      posix_spawn_file_actions_adddup2(&actions, fd, Int32(target))
    }
    guard let closefrom = addCloseFrom else { return failure("glibc lacks posix_spawn_file_actions_addclosefrom_np") }
    _ = closefrom(&actions, Int32(high.count))

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    var allSignals = sigset_t()
    sigfillset(&allSignals)
    posix_spawnattr_setsigdefault(&attributes, &allSignals)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(
      &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

    let cArgv = argv.map { strdup($0) } + [nil]
    let cEnv = environment.map { strdup($0) } + [nil]
    defer {
      for p in cArgv { free(p) }
      for p in cEnv { free(p) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, &attributes, cArgv, cEnv)
    guard rc == 0 else { return failure("\(path): \(String(cString: strerror(rc)))") }

    var status: Int32 = 0
    var timedOut = false
    var nap: UInt32 = 500
    while true {
      let r = waitpid(pid, &status, WNOHANG)
      if r == pid { break }
      if r < 0 && errno != EINTR { break }
      if Date().timeIntervalSince(start) > timeout {
        timedOut = true
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        break
      }
      usleep(nap)
      nap = min(nap * 2, 10_000)
    }
    let code: Int32
    if status & 0x7f == 0 {
      code = (status >> 8) & 0xff
    } else {
      code = 128 + (status & 0x7f)
    }
    return CommandResult(
      argv: argv, status: code, stdout: readAll(outFd), stderr: readAll(errFd), timedOut: timedOut,
      duration: Date().timeIntervalSince(start))
  }

  /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+), which Swift's Glibc module does
  /// not import: it closes every descriptor from a number up in the child.
  private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
  private static let addCloseFrom: AddCloseFrom? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
    else { return nil }
    return unsafeBitCast(symbol, to: AddCloseFrom.self)
  }()

  /// An unlinked, close-on-exec temporary file open for reading and writing.
  static func anonymousFile() -> Int32? {
    for _ in 0..<100 {
      let path = "/tmp/berth-test-io-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
      let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
      if fd >= 0 {
        unlink(path)
        return fd
      }
      if errno != EEXIST { return nil }
    }
    return nil
  }

  /// Everything in the file from offset 0, as UTF-8 (invalid bytes replaced).
  static func readAll(_ fd: Int32) -> String {
    var data = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65536)
    var offset: off_t = 0
    while true {
      let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
      if n <= 0 { break }
      data.append(contentsOf: buffer[0..<n])
      offset += off_t(n)
      if data.count > 16 << 20 { break }
    }
    return String(decoding: data, as: UTF8.self)
  }
}

func errnoText(_ code: Int32 = errno) -> String {
  String(cString: strerror(code))
}
