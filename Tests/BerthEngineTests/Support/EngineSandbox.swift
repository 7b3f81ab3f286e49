import BerthEngine
import BerthOS
import BerthTestSupport
import CLinux
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// What one `berth` command did.
struct EngineOutcome: Sendable, CustomStringConvertible {
  var arguments: [String]
  /// nil when the harness killed the command after its time limit.
  var status: BerthOS.ExitStatus?
  /// stdout as written (a tar stream need not be text).
  var stdoutBytes: [UInt8]
  var stderr: String

  var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }

  /// The shell's view of the status (128 + signal); -1 after a timeout.
  var code: Int32 { status?.shellCode ?? -1 }
  var lines: [String] { stdout.split(separator: "\n").map(String.init) }
  var trimmed: String { stdout.trimmingCharacters(in: .whitespacesAndNewlines) }

  var description: String {
    "berth \(arguments.joined(separator: " ")): \(status.map { "\($0)" } ?? "killed after the time limit")"
      + "\n--- stdout:\n\(stdout.prefix(3000))\n--- stderr:\n\(stderr.prefix(3000))"
  }
}

/// A command a test needed to succeed.
struct EngineCommandFailed: Error, CustomStringConvertible {
  var outcome: EngineOutcome
  var description: String { "command failed: \(outcome)" }
}

/// One end-to-end test's engine: the `berth` built next to the tests with a private
/// `BERTH_ROOT` and `BERTH_RUNROOT` in a temporary directory, and a busybox image ("busybox":
/// every applet, a user `alice` 1000:1000, a /data directory with a file) imported into it.
///
/// ``with(_:)`` gives each test a fresh sandbox; at the end it removes what the test left with
/// the engine's own `rm -f -v`, then checks that nothing of any container is left anywhere on
/// the host (``leftovers()``), and deletes the directory. Commands run in ``scratch``, so that
/// relative paths in them name the test's files.
final class EngineSandbox: @unchecked Sendable {
  /// Where SwiftPM put the test bundle (a file on Linux) and the package's executables.
  static let productsDirectory: String = {
    let exe = (try? FS.readLink("/proc/self/exe")) ?? CommandLine.arguments[0]
    return Path.dirname(exe)
  }()
  static let berth = productsDirectory + "/berth"

  /// Why these tests cannot run here, or nil.
  static let unavailableReason: String? = {
    if geteuid() != 0 { return "needs root: containers need mounts, namespaces and cgroups" }
    if access("/bin/busybox", X_OK) != 0 { return "needs busybox-static at /bin/busybox (scripts/install-deps.sh)" }
    for program in ["berth", "berth-monitor", "berth-runtime"] where access(productsDirectory + "/" + program, X_OK) != 0 {
      return "\(program) is not in \(productsDirectory): build with --build-tests"
    }
    return nil
  }()

  let directory: String
  var root: String { directory + "/root" }
  var runRoot: String { directory + "/run" }
  /// Files a test makes (env files, bind sources, outputs of background commands).
  var scratch: String { directory + "/scratch" }
  var containersDirectory: String { root + "/containers" }
  private let created: DirectoryWatch

  private init(directory: String) throws {
    self.directory = directory
    try FS.makeDirectories(directory + "/root/containers", mode: 0o700)
    try FS.makeDirectories(directory + "/scratch")
    created = try DirectoryWatch(directory + "/root/containers")
  }

  /// A fresh sandbox with the busybox image imported.
  static func make() async throws -> EngineSandbox {
    // Short: the attach socket (RUNROOT/<64-hex id>/attach) must fit in sun_path.
    var template = Array("/tmp/berth-e2e-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw BerthError.system("mkdtemp") }
    let sandbox = try EngineSandbox(directory: String(cString: made))
    do {
      try FS.write(sandbox.imageTar, try BusyboxRootfs.tar.get())
      try await sandbox.ok("import", sandbox.imageTar, "busybox")
    } catch {
      sandbox.destroy()
      throw error
    }
    return sandbox
  }

  /// Runs `body` with a fresh sandbox, then removes its containers (`rm -f -v`), checks for
  /// leftovers and deletes it.
  static func with<T>(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: (EngineSandbox) async throws -> T
  ) async throws -> T {
    let sandbox = try await make()
    let result: T
    do {
      result = try await body(sandbox)
    } catch {
      await sandbox.removeContainers(sourceLocation: sourceLocation)
      sandbox.destroy()
      throw error
    }
    await sandbox.removeContainers(sourceLocation: sourceLocation)
    await sandbox.expectNoLeftovers(sourceLocation: sourceLocation)
    sandbox.destroy()
    return result
  }

  var imageTar: String { directory + "/busybox.tar" }

  /// Imports the busybox rootfs again as NAME with Dockerfile instructions (`VOLUME /data`).
  func importImage(_ name: String, changes: [String]) async throws {
    try await ok(["import"] + changes.flatMap { ["--change", $0] } + [imageTar, name])
  }

  // MARK: running berth

  var environment: [String] {
    [
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME=" + scratch, "BERTH_ROOT=" + root, "BERTH_RUNROOT=" + runRoot, "LC_ALL=C.UTF-8",
    ]
  }

  /// Runs `berth ARGS` to completion (whatever its status), on a thread of its own so that a
  /// waiting test never holds one of the few threads of the concurrency pool.
  /// `environment` adds variables to the sandbox's.
  func run(
    _ arguments: [String], input: [UInt8] = [], environment extra: [String] = [], timeout: Double = 60
  ) async throws -> EngineOutcome {
    try await Self.runProgram(
      Self.berth, arguments, environment: environment + extra, input: input, timeout: timeout, directory: scratch)
  }

  func run(_ arguments: String..., input: [UInt8] = []) async throws -> EngineOutcome {
    try await run(arguments, input: input)
  }

  /// Runs `berth ARGS`; throws unless it exits 0.
  @discardableResult
  func ok(
    _ arguments: [String], input: [UInt8] = [], environment extra: [String] = [], timeout: Double = 60
  ) async throws -> EngineOutcome {
    let outcome = try await run(arguments, input: input, environment: extra, timeout: timeout)
    if outcome.code != 0 { throw EngineCommandFailed(outcome: outcome) }
    return outcome
  }

  @discardableResult
  func ok(_ arguments: String..., input: [UInt8] = []) async throws -> EngineOutcome {
    try await ok(arguments, input: input)
  }

  /// `berth run -d ARGS`: the new container's full ID.
  @discardableResult
  func runDetached(_ arguments: [String]) async throws -> String {
    try await ok(["run", "-d"] + arguments).trimmed
  }

  @discardableResult
  func runDetached(_ arguments: String...) async throws -> String {
    try await runDetached(arguments)
  }

  /// `inspect NAME` as one JSON object.
  func inspect(_ name: String) async throws -> [String: Any] {
    let text = try await ok("inspect", name).stdout
    guard let array = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]], array.count == 1 else {
      throw BerthError(.invalidState, "inspect \(name) did not print one object: \(text)")
    }
    return array[0]
  }

  /// Waits until `inspect -f TEMPLATE NAME` prints `expected` (at most `seconds`).
  func waitFor(_ name: String, _ template: String, toBe expected: String, seconds: Double = 10) async throws {
    var last = ""
    let reached = try await eventually(seconds) {
      last = try await ok("inspect", "-f", template, name).trimmed
      return last == expected
    }
    if !reached {
      throw BerthError(.invalidState, "\(name): \(template) is \(quoted(last)), not \(quoted(expected)), after \(seconds) s")
    }
  }

  /// Runs any program with this sandbox's environment (in `directory` when given).
  static func runProgram(
    _ path: String, _ arguments: [String], environment: [String], input: [UInt8] = [], timeout: Double = 60,
    directory: String? = nil
  ) async throws -> EngineOutcome {
    try await withCheckedThrowingContinuation { continuation in
      let thread = Thread {
        do {
          let result = try Subprocess.run(
            path, args: [path] + arguments, env: environment, input: input,
            timeoutNanoseconds: UInt64(timeout * 1e9), cwd: directory)
          continuation.resume(returning: EngineOutcome(
            arguments: arguments, status: result.timedOut ? nil : result.status,
            stdoutBytes: result.output, stderr: String(decoding: result.error, as: UTF8.self)))
        } catch {
          continuation.resume(throwing: error)
        }
      }
      thread.stackSize = 1 << 20
      thread.start()
    }
  }

  /// Starts ARGV (argv[0] a path) in the background with this sandbox's environment.
  func spawn(_ argv: [String], stdin: Bool = false) throws -> EngineProcess {
    try EngineProcess(argv, environment: environment, directory: scratch, stdin: stdin)
  }

  /// Starts `berth ARGS` in the background.
  func spawnBerth(_ arguments: [String], stdin: Bool = false) throws -> EngineProcess {
    try spawn([Self.berth] + arguments, stdin: stdin)
  }

  // MARK: what is on disk

  func containerDirectory(_ id: String) -> String { containersDirectory + "/" + id }
  /// The monitor's files (docs/monitor.md).
  func stateFile(_ id: String, _ name: String) -> String { containerDirectory(id) + "/state/" + name }
  /// A monitor file's text without its final newline.
  func stateText(_ id: String, _ name: String) -> String? {
    (try? FS.readText(stateFile(id, name)))?.trimmingCharacters(in: .whitespacesAndNewlines)
  }
  /// Containers whose directory exists.
  var containerDirectories: [String] { (try? FS.list(containersDirectory)) ?? [] }
  /// Mount points at or below the sandbox's directory.
  var mountPoints: [String] { HostScan.mountPoints(under: directory) }
  var volumeNames: [String] { ((try? FS.list(root + "/volumes")) ?? []).filter { !$0.hasPrefix(".") && !$0.hasSuffix(".lock") } }
  /// Every container ever made in this sandbox (seen by inotify, so those that came and went
  /// within one command count too).
  var seenIDs: Set<String> { created.names.filter { $0.count == 64 } }

  /// `ps -a -q --no-trunc`.
  func listedIDs() async throws -> [String] {
    try await ok("ps", "-a", "-q", "--no-trunc").lines
  }

  /// Polls `condition` every 50 ms for up to `seconds`; whether it came true.
  func eventually(_ seconds: Double = 10, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
      if try await condition() { return true }
      if Date() >= deadline { return false }
      try? await Task.sleep(nanoseconds: 50_000_000)
    }
  }

  // MARK: leftovers

  /// `rm -f -v` of every container the engine still knows or has a directory of.
  func removeContainers(sourceLocation: SourceLocation = #_sourceLocation) async {
    let listed = (try? await run("ps", "-a", "-q", "--no-trunc"))?.lines ?? []
    let ids = Array(Set(listed + containerDirectories.filter { $0.count == 64 })).sorted()
    guard !ids.isEmpty else { return }
    let outcome = try? await run(["rm", "-f", "-v"] + ids, timeout: 120)
    #expect(outcome?.code == 0, "rm -f -v of what the test left failed: \(outcome.map { "\($0)" } ?? "")", sourceLocation: sourceLocation)
  }

  /// Everything of this sandbox's containers still on the host: rows, directories, mounts,
  /// monitors and container processes, cgroups, run-root entries, and a run root the engine
  /// made of its own accord (it must take the sandbox's).
  func leftovers() async -> [String] {
    var found: [String] = []
    let ids = seenIDs
    if let listed = try? await run("ps", "-a", "-q", "--no-trunc"), listed.code == 0, !listed.lines.isEmpty {
      found.append("ps -a lists \(listed.lines)")
    }
    if !containerDirectories.isEmpty { found.append("\(containersDirectory) holds \(containerDirectories)") }
    for mount in mountPoints { found.append("mounted: \(mount)") }
    for process in HostScan.processes() where !process.zombie && process.commandLine.contains(directory) {
      found.append("process \(process.pid): \(process.commandLine)")
    }
    for pid in HostScan.processes(inCgroupsOf: ids) { found.append("container process \(pid) (\(HostScan.commandLine(pid)))") }
    for cgroup in HostScan.cgroupDirectories(named: ids) { found.append("cgroup \(cgroup)") }
    let runtimes = (try? FS.list(runRoot + "/runtime")) ?? []
    for id in ids {
      let paths = [runRoot + "/" + id, runRoot + "/locks/" + id] + runtimes.map { runRoot + "/runtime/\($0)/\(id)" }
      for path in paths where FS.exists(path) { found.append("run root entry \(path)") }
    }
    found += networkLeftovers(ids)
    let ownRunRoot = EngineLayout.hashedRunRoot(for: root)
    if FS.exists(ownRunRoot) { found.append("a run root the engine chose: \(ownRunRoot)") }
    return found
  }

  /// Waits (up to 15 s: a `--rm` container's detached removal, a monitor finishing) until
  /// nothing is left; records an issue listing what still is.
  func expectNoLeftovers(sourceLocation: SourceLocation = #_sourceLocation) async {
    var left: [String] = []
    _ = await eventually(15) {
      left = await leftovers()
      return left.isEmpty
    }
    #expect(left.isEmpty, "left behind:\n\(left.joined(separator: "\n"))", sourceLocation: sourceLocation)
  }

  // MARK: the host's view

  /// Kills this sandbox's monitors and berth processes, then its container processes.
  func killProcesses() {
    for process in HostScan.processes() where !process.zombie && process.commandLine.contains(directory) {
      kill(process.pid, SIGKILL)
    }
    for pid in HostScan.processes(inCgroupsOf: seenIDs) { kill(pid, SIGKILL) }
  }

  /// What a reboot does to this sandbox's containers: every monitor and container process
  /// dies (monitors first, so that none records an exit), the overlay mounts and cgroups go,
  /// and the run root (a tmpfs) comes back empty. The disk keeps root/.
  func simulateReboot() async throws {
    let monitors = HostScan.processes().filter { !$0.zombie && $0.commandLine.contains(directory) }.map(\.pid)
    for pid in monitors { kill(pid, SIGKILL) }
    let containerProcesses = HostScan.processes(inCgroupsOf: seenIDs)
    for pid in containerProcesses { kill(pid, SIGKILL) }
    // After a reboot no process is left, not even a zombie: wait until PID 1 has reaped them.
    let gone = await eventually(30) { (monitors + containerProcesses).allSatisfy { !FS.exists("/proc/\($0)") } }
    if !gone { throw BerthError(.invalidState, "the killed processes were not reaped within 30 s") }
    try HostScan.unmountAll(under: directory)
    for cgroup in HostScan.cgroupDirectories(named: seenIDs).reversed() { rmdir(cgroup) }
    try FS.removeTree(runRoot)
  }

  /// Takes down whatever is left by force and deletes the directory.
  func destroy() {
    killProcesses()
    usleep(100_000)
    removeNetworks()
    try? HostScan.unmountAll(under: directory)
    for cgroup in HostScan.cgroupDirectories(named: seenIDs).reversed() { rmdir(cgroup) }
    try? FS.removeTree(directory)
  }
}

extension Trait where Self == ConditionTrait {
  /// Needs root, busybox and the built executables.
  static var engineSandbox: Self {
    .enabled(if: EngineSandbox.unavailableReason == nil, Comment(rawValue: EngineSandbox.unavailableReason ?? ""))
  }

  /// Needs a program installed (and the sandbox).
  static func engineNeeds(_ program: String) -> Self {
    let reason = EngineSandbox.unavailableReason
      ?? (RegistrySupport.which(program) == nil ? "\(program) is not installed (scripts/install-deps.sh)" : nil)
    return .enabled(if: reason == nil, Comment(rawValue: reason ?? ""))
  }
}

/// A command started in the background: stdout and stderr go to files (an orphan that keeps
/// them open cannot hold the test up), stdin optionally from a pipe the test writes.
final class EngineProcess: @unchecked Sendable {
  let pid: pid_t
  let outputPath: String
  let errorPath: String
  private var stdinWriter: Int32 = -1
  private var status: BerthOS.ExitStatus?
  private let lock = NSLock()

  init(_ argv: [String], environment: [String], directory: String, stdin: Bool) throws {
    let name = "\(directory)/bg-\(UInt32.random(in: 0...UInt32.max))"
    outputPath = name + ".out"
    errorPath = name + ".err"
    let out = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    let err = open(errorPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
    var pipe: [Int32] = [-1, -1]
    if stdin { _ = berth_pipe2(&pipe, O_CLOEXEC) }
    defer {
      for fd in [out, err, null, pipe[0]] where fd >= 0 { close(fd) }
    }
    guard out >= 0, err >= 0, null >= 0, !stdin || pipe[1] >= 0 else {
      throw BerthError.system("set up the stdio of \(argv[0])")
    }
    pid = try Subprocess.spawn(argv[0], args: argv, env: environment, fds: [(stdin ? pipe[0] : null, 0), (out, 1), (err, 2)])
    stdinWriter = pipe[1]
  }

  deinit {
    if stdinWriter >= 0 { close(stdinWriter) }
    if status == nil {
      kill(pid, SIGKILL)
      _ = try? Subprocess.wait(pid)
    }
  }

  var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
  var errorOutput: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

  func write(_ text: String) throws {
    try writeAllBytes(stdinWriter, Array(text.utf8))
  }

  func closeStdin() {
    if stdinWriter >= 0 { close(stdinWriter) }
    stdinWriter = -1
  }

  func signal(_ number: Int32) { kill(pid, number) }

  /// The exit status when the process has ended (reaping it).
  func reap() -> BerthOS.ExitStatus? {
    lock.lock()
    defer { lock.unlock() }
    if status == nil, let ended = try? Subprocess.wait(pid, timeoutNanoseconds: 0) { status = ended }
    return status
  }

  /// Waits up to `seconds` for the process to end; nil if it still runs.
  func wait(seconds: Double) async -> BerthOS.ExitStatus? {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if let status = reap() { return status }
      try? await Task.sleep(nanoseconds: 20_000_000)
    }
    return reap()
  }

  /// Waits up to `seconds` until stdout contains `marker`.
  func waitForOutput(_ marker: String, seconds: Double = 10) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if output.contains(marker) { return true }
      try? await Task.sleep(nanoseconds: 20_000_000)
    }
    return output.contains(marker)
  }
}

/// The busybox root filesystem the sandboxes import, as a tar (built once per test run).
enum BusyboxRootfs {
  static let tar: Result<[UInt8], Error> = Result {
    let list = try Subprocess.run("/bin/busybox", args: ["busybox", "--list"])
    let applets = String(decoding: list.output, as: UTF8.self).split(separator: "\n").map(String.init)
    var files: [TestImage.File] = [.directory("bin"), .file("bin/busybox", try FS.read("/bin/busybox"), mode: 0o755)]
    for applet in applets where applet != "busybox" && !applet.contains("/") {
      files.append(.symlink("bin/" + applet, to: "busybox"))
    }
    files += [
      .directory("etc"),
      .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:alice:/home/alice:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
      .file("etc/group", "root:x:0:\nalice:x:1000:\nnogroup:x:65534:\n"),
      .directory("home"), .directory("home/alice"),
      .directory("data"), .file("data/seed", "from the image\n"),
      .directory("tmp", mode: 0o1777), .directory("root", mode: 0o700),
      .directory("proc", mode: 0o555), .directory("sys", mode: 0o555), .directory("dev"),
    ]
    return try TestImage(layers: [files], compressed: false).layers[0].tar
  }
}

/// Watches a directory for new entries (inotify): the sandbox learns every container ID,
/// even of a container created and removed within one command.
final class DirectoryWatch: @unchecked Sendable {
  private let fd: Int32
  private let lock = NSLock()
  private var seen: Set<String> = []

  init(_ path: String) throws {
    fd = try check("inotify_init1") { inotify_init1(Int32(IN_NONBLOCK) | Int32(IN_CLOEXEC)) }
    try check("watch \(path)") { inotify_add_watch(fd, path, UInt32(IN_CREATE) | UInt32(IN_MOVED_TO)) }
  }

  deinit { close(fd) }

  /// Names created so far.
  var names: Set<String> {
    lock.lock()
    defer { lock.unlock() }
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
      let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      guard count > 0 else { break }
      // struct inotify_event: wd, mask, cookie, len (4 bytes each), then len bytes of name.
      var offset = 0
      while offset + 16 <= count {
        let length = buffer.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)) }
        let name = buffer[(offset + 16)..<min(count, offset + 16 + length)].prefix { $0 != 0 }
        if !name.isEmpty { seen.insert(String(decoding: name, as: UTF8.self)) }
        offset += 16 + length
      }
    }
    return seen
  }
}

/// What the host shows: processes, mounts, cgroups.
enum HostScan {
  struct Process {
    var pid: pid_t
    var commandLine: String
    var zombie: Bool
  }

  /// Every process with its command line (arguments joined by spaces).
  static func processes() -> [Process] {
    ((try? FS.list("/proc")) ?? []).compactMap { name -> Process? in
      guard let pid = pid_t(name), pid != getpid() else { return nil }
      guard let raw = try? FS.read("/proc/\(name)/cmdline") else { return nil }
      let commandLine = String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
      return Process(pid: pid, commandLine: commandLine, zombie: isZombie(pid))
    }
  }

  static func commandLine(_ pid: pid_t) -> String {
    ((try? FS.read("/proc/\(pid)/cmdline")) ?? []).map { $0 == 0 ? " " : String(UnicodeScalar($0)) }.joined()
  }

  static func isZombie(_ pid: pid_t) -> Bool {
    guard let stat = try? FS.read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: UInt8(ascii: ")")),
      close + 2 < stat.count
    else { return false }
    return stat[close + 2] == UInt8(ascii: "Z")
  }

  /// Live processes whose cgroup path names one of `ids`.
  static func processes(inCgroupsOf ids: Set<String>) -> [pid_t] {
    guard !ids.isEmpty else { return [] }
    return ((try? FS.list("/proc")) ?? []).compactMap { name -> pid_t? in
      guard let pid = pid_t(name), let text = try? FS.readText("/proc/\(name)/cgroup") else { return nil }
      let components = text.split(whereSeparator: { $0 == "/" || $0 == "\n" || $0 == ":" || $0 == "-" || $0 == "." })
      guard components.contains(where: { $0.count == 64 && ids.contains(String($0)) }) else { return nil }
      return isZombie(pid) ? nil : pid
    }
  }

  /// Mount points at or below `directory`, deepest last.
  static func mountPoints(under directory: String) -> [String] {
    guard let text = try? FS.readText("/proc/self/mountinfo") else { return [] }
    return text.split(separator: "\n").compactMap { line -> String? in
      let fields = line.split(separator: " ")
      guard fields.count > 4 else { return nil }
      let point = String(fields[4]).replacingOccurrences(of: "\\040", with: " ")
      return point == directory || point.hasPrefix(directory + "/") ? point : nil
    }
  }

  /// Unmounts (lazily) everything at or below `directory`.
  static func unmountAll(under directory: String) throws {
    for _ in 0..<10 {
      let points = mountPoints(under: directory)
      if points.isEmpty { return }
      for point in points.reversed() { umount2(point, Int32(MNT_DETACH)) }
    }
    throw BerthError(.invalidState, "still mounted: \(mountPoints(under: directory))")
  }

  /// Directories named after one of `ids` in every cgroup hierarchy (v1 controllers and the
  /// v2 unified one), up to three levels down; parents before children.
  static func cgroupDirectories(named ids: Set<String>) -> [String] {
    guard !ids.isEmpty else { return [] }
    var found: [String] = []
    func walk(_ path: String, depth: Int) {
      guard depth > 0, let names = try? FS.list(path) else { return }
      for name in names {
        let child = path + "/" + name
        guard let info = try? FS.lstatIfPresent(child), (info.st_mode & S_IFMT) == S_IFDIR else { continue }
        if ids.contains(name) { found.append(child) }
        walk(child, depth: depth - 1)
      }
    }
    walk("/sys/fs/cgroup", depth: 4)
    return found
  }
}
