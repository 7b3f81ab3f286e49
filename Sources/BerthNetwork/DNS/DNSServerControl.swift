#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import CLinux

/// One DNS server process per network, `berth dns-server ...` (hidden), detached in its own
/// session, its pid in runRoot/networks/<networkID>/dns.pid.
///
/// Starting and stopping hold an flock on dns.lock, and so does a server that decides to exit
/// when its network has no containers left: a caller that registers a name and then calls
/// `ensureRunning` never sees a server that is about to leave.
public enum DNSServerControl {
  /// How long `ensureRunning` waits for a new server to report that it listens.
  static let startTimeoutNanoseconds: UInt64 = 10_000_000_000

  /// Starts the server for the network unless one already runs; returns once it listens (so a
  /// container started right after can resolve). listenAddress = the network's gateway IP, port 53.
  public static func ensureRunning(networkID: String, listenAddress: String, runRoot: String, berthExecutable: String) throws {
    try ensureRunning(networkID: networkID, listenAddress: listenAddress, port: 53, runRoot: runRoot,
                      berthExecutable: berthExecutable, extraArguments: [])
  }

  /// The same on any port, with extra `dns-server` arguments (tests use a loopback address, an
  /// unprivileged port and a short idle time).
  public static func ensureRunning(
    networkID: String, listenAddress: String, port: Int, runRoot: String, berthExecutable: String,
    extraArguments: [String]
  ) throws {
    try DNSRecordStore.validate(networkID: networkID)
    let paths = DNSServerPaths(runRoot: runRoot, networkID: networkID)
    try FS.makeDirectories(paths.directory, mode: 0o755)
    let lock = try paths.lock()
    defer { withExtendedLifetime(lock) {} }
    if runningPID(paths: paths, networkID: networkID) != nil { return }
    unlink(paths.pidFile)

    var pipe: [Int32] = [0, 0]
    try check("create the DNS server's sync pipe") { berth_pipe2(&pipe, O_CLOEXEC) }
    defer { close(pipe[0]) }
    let devNull: OwnedFD
    do { devNull = try OwnedFD.open("/dev/null", O_RDWR) } catch { close(pipe[1]); throw error }
    let arguments = [
      berthExecutable, "dns-server", "--network-id", networkID, "--listen", listenAddress,
      "--port", String(port), "--runroot", runRoot, "--ready-fd", "3",
    ] + extraArguments
    // The server inherits only what it needs from the environment: PATH, and the upstream
    // override tests use.
    var environment = ["PATH=" + (getenv("PATH").map { String(cString: $0) } ?? "/usr/sbin:/usr/bin:/sbin:/bin")]
    if let upstream = getenv("BERTH_DNS_UPSTREAM") { environment.append("BERTH_DNS_UPSTREAM=" + String(cString: upstream)) }
    let pid: pid_t
    do {
      pid = try Subprocess.spawn(
        berthExecutable, args: arguments, env: environment,
        fds: [(devNull.raw, 0), (devNull.raw, 1), (devNull.raw, 2), (pipe[1], 3)], cwd: "/", newSession: true)
    } catch {
      close(pipe[1])
      throw ((error as? BerthError) ?? BerthError(.commandFailed, "\(error)")).prefixed("start the DNS server of network \(networkID)")
    }
    close(pipe[1])
    let report = readLine(pipe[0], timeoutNanoseconds: startTimeoutNanoseconds)
    guard report == "ready" else {
      kill(pid, SIGKILL)
      _ = try? Subprocess.wait(pid, timeoutNanoseconds: 1_000_000_000)
      let reason = report.map { $0.hasPrefix("error ") ? String($0.dropFirst(6)) : "it said \(quoted($0))" }
        ?? "it did not report within \(startTimeoutNanoseconds / 1_000_000_000) s"
      throw BerthError(.commandFailed, "the DNS server of network \(networkID) on \(listenAddress):\(port) did not start: \(reason)")
    }
    try FS.writeAtomically(paths.pidFile, Array("\(pid)\n".utf8), mode: 0o644)
  }

  /// Stops the network's server (SIGTERM, then SIGKILL after 5 s) and waits for it to exit.
  /// Never throws; nothing happens when none runs.
  public static func stop(networkID: String, runRoot: String) {
    guard (try? DNSRecordStore.validate(networkID: networkID)) != nil else { return }
    let paths = DNSServerPaths(runRoot: runRoot, networkID: networkID)
    let lock = try? paths.lock()
    defer { withExtendedLifetime(lock) {} }
    if let pid = runningPID(paths: paths, networkID: networkID) {
      kill(pid, SIGTERM)
      if !waitForExit(pid, timeoutNanoseconds: 5_000_000_000) {
        kill(pid, SIGKILL)
        _ = waitForExit(pid, timeoutNanoseconds: 5_000_000_000)
      }
    }
    unlink(paths.pidFile)
  }

  public static func isRunning(networkID: String, runRoot: String) -> Bool {
    guard (try? DNSRecordStore.validate(networkID: networkID)) != nil else { return false }
    return runningPID(paths: DNSServerPaths(runRoot: runRoot, networkID: networkID), networkID: networkID) != nil
  }

  /// The pid in dns.pid when that process is alive and is this network's server (a pid can be
  /// reused after a reboot or a crash).
  static func runningPID(paths: DNSServerPaths, networkID: String) -> pid_t? {
    guard let text = try? FS.readText(paths.pidFile, trimmingNewline: true), let pid = pid_t(text), pid > 0 else { return nil }
    guard isAlive(pid), let command = try? FS.read("/proc/\(pid)/cmdline") else { return nil }
    let arguments = command.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    guard arguments.contains("dns-server"), let index = arguments.firstIndex(of: "--network-id"),
      index + 1 < arguments.count, arguments[index + 1] == networkID
    else { return nil }
    return pid
  }

  /// Alive and not a zombie waiting for its parent.
  static func isAlive(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 || errno == EPERM else { return false }
    guard let stat = try? FS.readText("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
    return state != "Z" && state != "X"
  }

  /// Polls until the process is gone, reaping it when it is our child (tests start servers
  /// from their own process).
  static func waitForExit(_ pid: pid_t, timeoutNanoseconds: UInt64) -> Bool {
    let deadline = Clock.monotonicNanoseconds() + timeoutNanoseconds
    while true {
      var status: Int32 = 0
      let reaped = waitpid(pid, &status, WNOHANG)
      if reaped == pid { return true }
      if reaped < 0 && errno == ECHILD && !isAlive(pid) { return true }
      if Clock.monotonicNanoseconds() >= deadline { return false }
      usleep(10_000)
    }
  }

  /// One line from `fd`, or nil at end of file or after the timeout.
  static func readLine(_ fd: Int32, timeoutNanoseconds: UInt64) -> String? {
    let deadline = Clock.monotonicNanoseconds() + timeoutNanoseconds
    var line: [UInt8] = []
    var byte: UInt8 = 0
    while true {
      let now = Clock.monotonicNanoseconds()
      if now >= deadline { return nil }
      var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      let ready = poll(&poller, 1, Int32(min((deadline - now) / 1_000_000 + 1, 60_000)))
      if ready < 0 && errno == EINTR { continue }
      if ready <= 0 { continue }
      let count = read(fd, &byte, 1)
      if count < 0 && errno == EINTR { continue }
      if count <= 0 { return line.isEmpty ? nil : String(decoding: line, as: UTF8.self) }
      if byte == 0x0A { return String(decoding: line, as: UTF8.self) }
      line.append(byte)
    }
  }
}

/// The files of one network's DNS server.
struct DNSServerPaths {
  let directory: String
  var pidFile: String { directory + "/dns.pid" }
  var lockFile: String { directory + "/dns.lock" }
  var recordsFile: String { directory + "/dns-records" }

  init(runRoot: String, networkID: String) {
    directory = DNSRecordStore(runRoot: runRoot).directory(networkID: networkID)
  }

  /// An exclusive flock on dns.lock, released when the descriptor closes. Not `waiting`: fails
  /// at once when someone else holds it.
  func lock(waiting: Bool = true) throws -> DNSLock {
    try FS.makeDirectories(directory, mode: 0o755)
    let fd = try check("open \(lockFile)") { open(lockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
    if retryOnInterrupt({ flock(fd, waiting ? LOCK_EX : LOCK_EX | LOCK_NB) }) < 0 {
      let error = BerthError.system("lock \(lockFile)")
      close(fd)
      throw error
    }
    return DNSLock(fd: fd)
  }
}

/// A held flock; closing the descriptor releases it.
final class DNSLock: Sendable {
  let fd: Int32
  init(fd: Int32) { self.fd = fd }
  deinit { close(fd) }
}
