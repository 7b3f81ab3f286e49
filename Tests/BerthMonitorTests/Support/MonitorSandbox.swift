import BerthOS
import CLinux
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The executables under test, built next to the test bundle.
enum Products {
  static let directory: String = {
    var candidates: [String] = []
    if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { candidates.append(exe) }
    candidates.append(contentsOf: CommandLine.arguments.prefix(1))
    candidates.append(Bundle.main.bundlePath)
    for candidate in candidates {
      var url = URL(fileURLWithPath: candidate)
      while url.pathComponents.count > 1 {
        if url.pathExtension == "xctest" { return url.deletingLastPathComponent().path }
        url = url.deletingLastPathComponent()
      }
      let dir = URL(fileURLWithPath: candidate).deletingLastPathComponent().path
      if access(dir + "/berth-monitor", X_OK) == 0 { return dir }
    }
    return URL(fileURLWithPath: candidates.first ?? ".").deletingLastPathComponent().path
  }()
  static var runtime: String { directory + "/berth-runtime" }
  static var monitor: String { directory + "/berth-monitor" }

  /// Why the suite cannot run, if it cannot.
  static let problem: String? = {
    if geteuid() != 0 { return "needs root: these tests run real containers" }
    for path in [runtime, monitor] where access(path, X_OK) != 0 {
      return "\(path) is missing: build the package first"
    }
    if access("/bin/busybox", X_OK) != 0 { return "/bin/busybox is missing: apt-get install busybox-static" }
    return nil
  }()
}

extension Trait where Self == ConditionTrait {
  static var canRunContainers: Self {
    .enabled(if: Products.problem == nil, Comment(rawValue: Products.problem ?? ""))
  }
}

struct TestFailure: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// Bounds how many sandboxes run at once (two cores; many tests start containers).
actor Limiter {
  static let shared = Limiter(limit: Int(ProcessInfo.processInfo.environment["BERTH_TEST_PARALLEL"] ?? "") ?? 4)
  private var available: Int
  private var waiters: [CheckedContinuation<Void, Never>] = []
  init(limit: Int) { available = max(1, limit) }
  func acquire() async {
    if available > 0 {
      available -= 1
      return
    }
    await withCheckedContinuation { waiters.append($0) }
  }
  func release() {
    if waiters.isEmpty { available += 1 } else { waiters.removeFirst().resume() }
  }
}

/// Polls `condition` every 20 ms until it holds or `timeout` seconds pass.
func eventually(timeout: Double = 20, _ condition: () async throws -> Bool) async rethrows -> Bool {
  let deadline = Date().addingTimeInterval(timeout)
  while true {
    if try await condition() { return true }
    if Date() > deadline { return false }
    try? await Task.sleep(nanoseconds: 20_000_000)
  }
}

func readText(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

/// The busybox root filesystem: a cached copy of /bin/busybox hard-linked into each rootfs,
/// with a symlink per applet.
enum BusyboxRootfs {
  static let testRoot = "/tmp/bmt"
  static let cache: (binary: String, applets: [String]) = {
    let dir = testRoot + "/cache"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    chmod(testRoot, 0o755)
    chmod(dir, 0o755)
    var st = stat()
    stat("/bin/busybox", &st)
    let cached = dir + "/busybox-\(st.st_size)-\(st.st_mtim.tv_sec)"
    if access(cached, X_OK) != 0 {
      let temporary = cached + ".\(getpid())"
      try? FileManager.default.copyItem(atPath: "/bin/busybox", toPath: temporary)
      chmod(temporary, 0o755)
      rename(temporary, cached)
    }
    let list = (try? Subprocess.run(cached, args: [cached, "--list"]))?.output ?? []
    let applets = String(decoding: list, as: UTF8.self).split(separator: "\n").map(String.init)
      .filter { !$0.isEmpty && $0 != "busybox" && !$0.contains("/") }
    return (cached, applets)
  }()

  static func build(at path: String) throws {
    let fm = FileManager.default
    for sub in ["", "/bin", "/proc", "/sys", "/dev", "/etc", "/root", "/tmp", "/usr"] {
      try fm.createDirectory(atPath: path + sub, withIntermediateDirectories: false)
      chmod(path + sub, 0o755)
    }
    chmod(path + "/tmp", 0o1777)
    if link(cache.binary, path + "/bin/busybox") != 0 {
      try fm.copyItem(atPath: cache.binary, toPath: path + "/bin/busybox")
    }
    for applet in cache.applets { symlink("busybox", path + "/bin/" + applet) }
    symlink("bin", path + "/sbin")
    symlink("../bin", path + "/usr/bin")
    try "root:x:0:0:root:/root:/bin/sh\n".write(toFile: path + "/etc/passwd", atomically: false, encoding: .utf8)
    try "root:x:0:\n".write(toFile: path + "/etc/group", atomically: false, encoding: .utf8)
  }
}

/// What goes into the monitor's configuration file besides the paths.
struct MonitorOptions {
  var terminal = false
  var stdin = false
  var logDriver = "json-file"
  var logMaxSize = 0
  var logMaxFiles = 1
  var restart = "no"
  var restartMax = 0
  var health: [String] = []
  var healthInterval: UInt64 = 200_000_000
  var healthTimeout: UInt64 = 5_000_000_000
  var healthStartPeriod: UInt64 = 0
  var healthRetries = 3
  var start = "auto"
  var exitArgs: [String] = []
  /// The runtime the monitor runs (a wrapper script); nil: berth-runtime.
  var runtime: String?
}

/// A container of a sandbox: bundle, state directory and socket of its monitor.
final class TestContainer: @unchecked Sendable {
  let id: String
  let dir: String
  let cgroupsPath: String
  var bundle: String { dir + "/bundle" }
  var stateDir: String { dir + "/state" }
  var socket: String { dir + "/a.sock" }
  var logPath: String { stateDir + "/ctr.log" }
  var configPath: String { dir + "/monitor.conf" }
  var options = MonitorOptions()

  init(id: String, dir: String, cgroupsPath: String) {
    self.id = id
    self.dir = dir
    self.cgroupsPath = cgroupsPath
  }

  func state(_ name: String) -> String { stateDir + "/" + name }

  /// Rewrites config.json's process (args, terminal) and anything else through `edit`.
  func setProcess(_ args: [String], terminal: Bool = false, edit: (inout [String: Any]) -> Void = { _ in }) throws {
    let path = bundle + "/config.json"
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    guard var spec = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw TestFailure("config.json is not an object")
    }
    var process = spec["process"] as? [String: Any] ?? [:]
    process["args"] = args
    process["terminal"] = terminal
    spec["process"] = process
    edit(&spec)
    try JSONSerialization.data(withJSONObject: spec, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: path))
  }

  /// The monitor's configuration file, as the engine writes it.
  func writeMonitorConfig(runtimeRoot: String) throws {
    let o = options
    var lines = [
      "id=\(id)", "bundle=\(bundle)", "runtime=\(o.runtime ?? Products.runtime)", "runtime-arg=--root", "runtime-arg=\(runtimeRoot)",
      "state-dir=\(stateDir)", "socket=\(socket)", "terminal=\(o.terminal ? 1 : 0)", "stdin=\(o.stdin ? 1 : 0)",
      "log-driver=\(o.logDriver)", "log-path=\(logPath)", "log-max-size=\(o.logMaxSize)",
      "log-max-files=\(o.logMaxFiles)", "restart=\(o.restart)", "restart-max=\(o.restartMax)",
    ]
    lines += o.health.map { "health-arg=\($0)" }
    lines += [
      "health-interval=\(o.healthInterval)", "health-timeout=\(o.healthTimeout)",
      "health-start-period=\(o.healthStartPeriod)", "health-retries=\(o.healthRetries)", "start=\(o.start)",
    ]
    lines += o.exitArgs.map { "exit-arg=\($0)" }
    try (lines.joined(separator: "\n") + "\n").write(toFile: configPath, atomically: false, encoding: .utf8)
  }

  /// The json-file log's entries (of `path`, default the live log).
  func logEntries(_ path: String? = nil) throws -> [[String: String]] {
    guard let text = readText(path ?? logPath) else { return [] }
    return try text.split(separator: "\n", omittingEmptySubsequences: true).map { line in
      guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String] else {
        throw TestFailure("log line is not an object of strings: \(line)")
      }
      return object
    }
  }

  /// STATE/state's fields: ["running", pid, startedAt, restartCount].
  var stateFields: [String] {
    (readText(state("state")) ?? "").split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
  }

  /// STATE/exit's fields: [code, finishedAt, oomKilled].
  var exitFields: [String] {
    (readText(state("exit")) ?? "").split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
  }

  /// STATE/health decoded (nil while it does not exist or does not parse).
  func health() -> HealthState? {
    guard let data = FileManager.default.contents(atPath: state("health")) else { return nil }
    return try? JSONDecoder().decode(HealthState.self, from: data)
  }
}

/// STATE/health: Docker's health JSON.
struct HealthState: Decodable, Sendable {
  struct Result: Decodable, Sendable {
    var Start: String
    var End: String
    var ExitCode: Int
    var Output: String
  }
  var Status: String
  var FailingStreak: Int
  var Log: [Result]
}

/// A running berth-monitor, started as the engine does: setsid, /dev/null stdio, the write end
/// of the sync pipe as fd 3.
final class MonitorProcess: @unchecked Sendable {
  let pid: pid_t
  private var syncFD: Int32
  private var syncBuffer: [UInt8] = []
  private(set) var exitCode: Int32?

  init(configPath: String) throws {
    var fds: [Int32] = [-1, -1]
    guard berth_pipe2(&fds, O_CLOEXEC) == 0 else { throw TestFailure("pipe: \(String(cString: strerror(errno)))") }
    let null = open("/dev/null", O_RDWR | O_CLOEXEC)
    defer {
      close(fds[1])
      close(null)
    }
    do {
      pid = try Subprocess.spawn(
        Products.monitor, args: [Products.monitor, configPath], env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
        fds: [(null, 0), (null, 1), (null, 2), (fds[1], 3)], newSession: true)
    } catch {
      close(fds[0])
      throw error
    }
    syncFD = fds[0]
    _ = fcntl(syncFD, F_SETFL, O_NONBLOCK)
  }

  deinit { if syncFD >= 0 { close(syncFD) } }

  /// The next line on the sync pipe; nil at end of file or after `timeout` seconds.
  func syncLine(timeout: Double = 20) async -> String? {
    var line: String?
    _ = await eventually(timeout: timeout) {
      if let newline = syncBuffer.firstIndex(of: UInt8(ascii: "\n")) {
        line = String(decoding: syncBuffer[..<newline], as: UTF8.self)
        syncBuffer.removeFirst(newline + 1)
        return true
      }
      var chunk = [UInt8](repeating: 0, count: 4096)
      let n = chunk.withUnsafeMutableBytes { read(syncFD, $0.baseAddress, $0.count) }
      if n > 0 {
        syncBuffer += chunk[0..<n]
        return false
      }
      return n == 0  // end of file: no more lines
    }
    return line
  }

  /// Whether the sync pipe is at end of file (the monitor closed fd 3).
  func syncClosed(timeout: Double = 20) async -> Bool {
    await eventually(timeout: timeout) {
      var byte: UInt8 = 0
      return read(syncFD, &byte, 1) == 0
    }
  }

  /// Waits for the monitor to exit; its exit code (128+signal if killed), nil on timeout.
  func waitExit(timeout: Double = 30) async -> Int32? {
    if let exitCode { return exitCode }
    _ = await eventually(timeout: timeout) {
      var status: Int32 = 0
      if waitpid(pid, &status, WNOHANG) == pid {
        exitCode = BerthOS.ExitStatus(waitStatus: status).shellCode
        return true
      }
      return false
    }
    return exitCode
  }

  var isRunning: Bool {
    if exitCode != nil { return false }
    var status: Int32 = 0
    if waitpid(pid, &status, WNOHANG) == pid {
      exitCode = BerthOS.ExitStatus(waitStatus: status).shellCode
      return false
    }
    return true
  }

  func kill(_ signal: Int32 = SIGKILL) { if isRunning { Glibc.kill(pid, signal) } }
}

/// One test's directory, runtime root, containers and monitors; `finish` deletes every
/// container and checks that nothing is left behind.
final class MonitorSandbox: @unchecked Sendable {
  let dir: String
  let runtimeRoot: String
  let sourceLocation: SourceLocation
  private(set) var containers: [TestContainer] = []
  private(set) var monitors: [MonitorProcess] = []

  init(sourceLocation: SourceLocation) throws {
    dir = BusyboxRootfs.testRoot + "/" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    runtimeRoot = dir + "/root"
    self.sourceLocation = sourceLocation
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    chmod(dir, 0o755)
  }

  /// A container with a busybox bundle (config.json from `berth-runtime spec`, no terminal,
  /// writable rootfs, a unique cgroupsPath) running `args`. The cgroup has no parent of its
  /// own: the runtime's delete removes all of it.
  func container(_ name: String = "c", args: [String] = ["true"]) throws -> TestContainer {
    let id = (0..<4).map { _ in String(format: "%016llx", UInt64.random(in: 0...UInt64.max)) }.joined()
    let c = TestContainer(id: id, dir: dir + "/" + name, cgroupsPath: "/berth-monitor-test-" + id)
    let fm = FileManager.default
    try fm.createDirectory(atPath: c.bundle, withIntermediateDirectories: true)
    try fm.createDirectory(atPath: c.stateDir, withIntermediateDirectories: true)
    try BusyboxRootfs.build(at: c.bundle + "/rootfs")
    let spec = try Subprocess.run(Products.runtime, args: [Products.runtime, "spec", "--bundle", c.bundle])
    guard spec.status == .exited(0) else {
      throw TestFailure("berth-runtime spec failed: \(String(decoding: spec.error, as: UTF8.self))")
    }
    try c.setProcess(args) { spec in
      var root = spec["root"] as? [String: Any] ?? [:]
      root["readonly"] = false
      spec["root"] = root
      var linux = spec["linux"] as? [String: Any] ?? [:]
      linux["cgroupsPath"] = c.cgroupsPath
      spec["linux"] = linux
    }
    containers.append(c)
    return c
  }

  /// Writes the monitor configuration and starts the monitor.
  func startMonitor(_ c: TestContainer) throws -> MonitorProcess {
    try c.writeMonitorConfig(runtimeRoot: runtimeRoot)
    let monitor = try MonitorProcess(configPath: c.configPath)
    monitors.append(monitor)
    return monitor
  }

  /// Starts the monitor and requires `created PID` (and `started PID` with start=auto).
  func launch(_ c: TestContainer, sourceLocation: SourceLocation = #_sourceLocation) async throws -> (
    MonitorProcess, Int
  ) {
    let monitor = try startMonitor(c)
    let created = await monitor.syncLine()
    let createdPid = try #require(
      created.flatMap { $0.hasPrefix("created ") ? Int($0.dropFirst(8)) : nil }, "sync: \(created ?? "nothing")",
      sourceLocation: sourceLocation)
    if c.options.start == "auto" {
      let started = await monitor.syncLine()
      #expect(started == "started \(createdPid)", sourceLocation: sourceLocation)
    }
    return (monitor, createdPid)
  }

  /// A runtime for the monitor that runs `script` (sh, with the runtime's arguments as "$@"
  /// and COMMAND set to the runtime command: create, start, …) and then berth-runtime.
  func runtimeWrapper(_ name: String, script: String) throws -> String {
    let path = dir + "/" + name
    let text = """
      #!/bin/sh
      COMMAND=
      for a in "$@"; do case "$a" in create|start|delete|kill|exec) COMMAND=$a; break;; esac; done
      \(script)
      exec \(Products.runtime) "$@"

      """
    try text.write(toFile: path, atomically: false, encoding: .utf8)
    chmod(path, 0o755)
    return path
  }

  /// Runs the runtime with this sandbox's --root.
  @discardableResult
  func runtime(_ args: [String]) throws -> (status: BerthOS.ExitStatus, output: String) {
    let r = try Subprocess.run(
      Products.runtime, args: [Products.runtime, "--root", runtimeRoot] + args, timeoutNanoseconds: 30_000_000_000)
    return (r.status, String(decoding: r.output + r.error, as: UTF8.self))
  }

  /// Processes in the container's cgroup (as the host sees them).
  func cgroupProcesses(_ c: TestContainer) -> [Int] {
    for mount in ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup"] {
      if let text = readText(mount + c.cgroupsPath + "/cgroup.procs") {
        return text.split(separator: "\n").compactMap { Int($0) }
      }
    }
    return []
  }

  /// Whether a process with this command line runs in the container.
  func containerRuns(_ c: TestContainer, commandLine: [String]) -> Bool {
    let wanted = commandLine.map { $0 + "\u{0}" }.joined()
    for pid in cgroupProcesses(c) where readText("/proc/\(pid)/cmdline") == wanted { return true }
    return false
  }

  /// Where the cgroup hierarchies are mounted.
  static func cgroupMounts() -> [String] {
    (readText("/proc/self/mountinfo") ?? "").split(separator: "\n").compactMap { line -> String? in
      let fields = line.split(separator: " ")
      guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count,
        fields[dash + 1] == "cgroup" || fields[dash + 1] == "cgroup2"
      else { return nil }
      return String(fields[4])
    }
  }

  /// Every cgroup directory of the container, in any hierarchy.
  func cgroupDirectories(_ c: TestContainer) -> [String] {
    Self.cgroupMounts().map { $0 + c.cgroupsPath }.filter { FileManager.default.fileExists(atPath: $0) }
  }

  func finish() async {
    for monitor in monitors {
      monitor.kill()
      _ = await monitor.waitExit(timeout: 10)
    }
    for c in containers { _ = try? runtime(["delete", "--force", c.id]) }
    let fm = FileManager.default
    if let left = try? fm.contentsOfDirectory(atPath: runtimeRoot), !left.isEmpty {
      Issue.record("leak: runtime state left in \(runtimeRoot): \(left)", sourceLocation: sourceLocation)
    }
    for c in containers {
      for cgroup in cgroupDirectories(c) {
        if await eventually(timeout: 2, { !fm.fileExists(atPath: cgroup) }) { continue }
        Issue.record("leak: cgroup \(cgroup) is left", sourceLocation: sourceLocation)
        for pid in (readText(cgroup + "/cgroup.procs") ?? "").split(separator: "\n").compactMap({ pid_t($0) }) {
          Glibc.kill(pid, SIGKILL)
        }
        _ = await eventually(timeout: 2) { rmdir(cgroup) == 0 || errno == ENOENT }
      }
    }
    try? fm.removeItem(atPath: dir)
  }
}

/// Runs `body` in a fresh sandbox and cleans up afterwards, whatever happened.
func withMonitorSandbox(
  sourceLocation: SourceLocation = #_sourceLocation, _ body: (MonitorSandbox) async throws -> Void
) async throws {
  if let problem = Products.problem { throw TestFailure(problem) }
  signal(SIGPIPE, SIG_IGN)
  await Limiter.shared.acquire()
  let sandbox: MonitorSandbox
  do {
    sandbox = try MonitorSandbox(sourceLocation: sourceLocation)
  } catch {
    await Limiter.shared.release()
    throw error
  }
  do {
    try await body(sandbox)
  } catch {
    await sandbox.finish()
    await Limiter.shared.release()
    throw error
  }
  await sandbox.finish()
  await Limiter.shared.release()
}

/// A client of the monitor's attach socket.
final class AttachClient: @unchecked Sendable {
  let fd: Int32
  private(set) var received: [UInt8] = []
  private(set) var closed = false

  init(path: String) throws {
    fd = try UnixSocket.connect(path, what: "attach socket").release()
    _ = fcntl(fd, F_SETFL, O_NONBLOCK)
  }

  deinit { close(fd) }

  func send(_ bytes: [UInt8]) throws {
    var done = 0
    while done < bytes.count {
      let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, $0.count - done, Int32(MSG_NOSIGNAL)) }
      if n > 0 {
        done += n
      } else if errno == EAGAIN || errno == EINTR {
        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        _ = poll(&pfd, 1, 100)
      } else {
        throw TestFailure("send: \(String(cString: strerror(errno)))")
      }
    }
  }

  func send(_ text: String) throws { try send(Array(text.utf8)) }

  func sendFrame(_ stream: UInt8, _ payload: [UInt8]) throws {
    let n = UInt32(payload.count)
    try send([stream, UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)] + payload)
  }

  func sendFrame(_ stream: UInt8, _ text: String) throws { try sendFrame(stream, Array(text.utf8)) }

  /// Reads what is available.
  func pump() {
    var chunk = [UInt8](repeating: 0, count: 65536)
    while !closed {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n > 0 {
        received += chunk[0..<n]
      } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
        closed = true
      } else {
        return
      }
    }
  }

  /// Reads until the monitor closes the connection.
  @discardableResult
  func readUntilClosed(timeout: Double = 30) async -> Bool {
    await eventually(timeout: timeout) {
      pump()
      return closed
    }
  }

  /// A one-line reply (start, resize).
  func replyLine(timeout: Double = 30) async -> String? {
    var line: String?
    _ = await eventually(timeout: timeout) {
      pump()
      if let newline = received.firstIndex(of: UInt8(ascii: "\n")) {
        line = String(decoding: received[..<newline], as: UTF8.self)
        return true
      }
      return closed
    }
    return line
  }

  /// The frames received so far (stream, payload); a trailing incomplete frame is ignored.
  var frames: [(stream: UInt8, payload: [UInt8])] {
    var result: [(UInt8, [UInt8])] = []
    var i = 0
    while received.count - i >= 5 {
      let length = Int(received[i + 1]) << 24 | Int(received[i + 2]) << 16 | Int(received[i + 3]) << 8 | Int(received[i + 4])
      guard received.count - i - 5 >= length else { break }
      result.append((received[i], Array(received[(i + 5)..<(i + 5 + length)])))
      i += 5 + length
    }
    return result
  }

  /// The concatenated payloads of one stream, as text.
  func text(_ stream: UInt8) -> String {
    String(decoding: frames.filter { $0.stream == stream }.flatMap(\.payload), as: UTF8.self)
  }

  /// The exit frame's code, if one arrived.
  var exitCode: Int? {
    frames.first { $0.stream == 3 }.flatMap { Int(String(decoding: $0.payload, as: UTF8.self)) }
  }
}

/// Whether `text` is Go's RFC3339Nano in UTC, as the monitor writes times.
func isRFC3339Nano(_ text: String?) -> Bool {
  guard let text else { return false }
  return text.wholeMatch(of: #/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{0,8}[1-9])?Z/#) != nil
}

/// Parses an RFC3339Nano UTC time to seconds since the epoch.
func parseTime(_ text: String) -> Double? {
  let parts = text.dropLast().split(separator: ".")
  let formatter = DateFormatter()
  formatter.locale = Locale(identifier: "en_US_POSIX")
  formatter.timeZone = TimeZone(identifier: "UTC")
  formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
  guard text.hasSuffix("Z"), let first = parts.first, let date = formatter.date(from: String(first)) else { return nil }
  var seconds = date.timeIntervalSince1970
  if parts.count == 2, let fraction = Double("0." + parts[1]) { seconds += fraction }
  return seconds
}
