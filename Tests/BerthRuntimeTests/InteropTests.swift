import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

// Interop: real engines (podman, dockerd) driving berth-runtime as their OCI runtime, the
// acceptance test of "use it from other engines as you would use runc" (README).
//
// Each engine gets a private store under /tmp for the whole suite (a suite-scoped trait starts
// it once and tears it down after the suite's last test): podman with its own --root,
// --runroot and --tmpdir; a dockerd with its own data root, exec root, socket and config. One
// busybox image is imported per engine and removed at the end. The teardown checks that
// nothing is left behind: containers, images, the runtime's state, cgroups, processes (conmon,
// containerd, shims), mounts under the store, and the store itself.

// MARK: - Host

/// The engines on this host, and what the interop suites need.
enum InteropHost {
  static func executable(_ candidates: [String]) -> String? {
    candidates.first { access($0, X_OK) == 0 }
  }

  static let podman = executable(["/usr/bin/podman"])
  static let dockerd = executable(["/usr/sbin/dockerd", "/usr/bin/dockerd"])
  /// Debian's client (docker.io), not whatever /usr/local/bin/docker is.
  static let docker = executable(["/usr/bin/docker"])

  /// The state directory berth-runtime uses when an engine passes no --root (podman).
  static let berthDefaultRoot = "/run/berth-runtime"

  /// podman and docker ask for more than root may have here (no CAP_SYS_RESOURCE: the hard
  /// nofile limit is 20000); these fit.
  static let podmanLimits = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]

  /// A short random tag for names under /tmp (unix socket paths are limited to 107 bytes).
  static func randomTag() -> String {
    String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)
  }

  /// PIDs of live processes whose command line mentions `text` (a store path): the engine's
  /// daemons, conmon, shims, cleanup helpers.
  static func processes(mentioning text: String) -> [pid_t] {
    let own = getpid()
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { pid_t($0) }.filter { pid in
      guard pid != own, !processIsGone(Int(pid)),
        let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
      else { return false }
      return String(decoding: data, as: UTF8.self).contains(text)
    }
  }

  static func commandLine(_ pid: pid_t) -> String {
    readText("/proc/\(pid)/cmdline")?.replacingOccurrences(of: "\0", with: " ") ?? "?"
  }

  /// One engine at a time takes the slots.
  static let engineGate = ConcurrencyLimiter(limit: 1)

  /// Runs `body` alone: holding every sandbox slot of the suite (see `ConcurrencyLimiter`), so
  /// that no container test runs meanwhile. An engine (dockerd and containerd starting, podman
  /// and conmon) loads the two cores like many containers at once: timing-sensitive tests
  /// elsewhere in the suite should not pay for it, nor the engine for them.
  static func withAllSandboxSlots(_ body: () async throws -> Void) async throws {
    let slots = max(1, Int(ProcessInfo.processInfo.environment["BERTH_TEST_PARALLEL"] ?? "") ?? 8)
    await engineGate.acquire()
    for _ in 0..<slots { await ConcurrencyLimiter.shared.acquire() }
    func release() async {
      for _ in 0..<slots { await ConcurrencyLimiter.shared.release() }
      await engineGate.release()
    }
    do {
      try await body()
    } catch {
      await release()
      throw error
    }
    await release()
  }

  /// Mounts at or under `dir` on the host.
  static func mounts(under dir: String) -> [MountEntry] {
    MountEntry.host().filter { $0.mountPoint == dir || $0.mountPoint.hasPrefix(dir + "/") }
  }

  /// The cgroup directories (v1 hierarchies and cgroup2) of a process, as host paths.
  static func cgroupDirectories(of pid: Int) -> [String] {
    let layout = CgroupLayout.host
    var result: [String] = []
    for line in (readText("/proc/\(pid)/cgroup") ?? "").split(separator: "\n") {
      // "4:memory:/docker/<id>" or "0::/..."
      let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard fields.count == 3 else { continue }
      let controllers = fields[1].split(separator: ",").map(String.init)
      let path = String(fields[2])
      if controllers.isEmpty {
        if let unified = layout.unified { result.append(unified + path) }
      } else if let mount = controllers.lazy.compactMap({ layout.v1[$0] }).first {
        result.append(mount + path)
      }
    }
    return result
  }
}

struct InteropFailure: Error, CustomStringConvertible {
  var description: String
}

extension Trait where Self == ConditionTrait {
  /// The interop suites test berth-runtime itself.
  static var berthRuntimeOnly: Self {
    .disabled(
      if: RuntimeUnderTest.shared.isReference,
      "interop tests check berth-runtime under podman and docker; BERTH_TEST_RUNTIME points at a reference runtime")
  }
}

// MARK: - Shared store

/// A private directory tree for one engine, and the busybox image tarball the engine imports.
class InteropStore: @unchecked Sendable {
  let base: String
  let tag = InteropHost.randomTag()
  let runtime = RuntimeUnderTest.shared
  private let lock = NSLock()
  private var ids: [String] = []

  /// The container IDs the tests made (for the leak checks).
  var containerIDs: [String] { lock.withLock { ids } }

  func remember(_ id: String) {
    let id = id.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !id.isEmpty else { return }
    lock.withLock { ids.append(id) }
  }

  init(engine: String) throws {
    if let problem = RuntimeUnderTest.shared.problem { throw InteropFailure(description: problem) }
    base = "/tmp/berth-interop-\(engine)-\(tag)"
    try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: false)
    chmod(base, 0o755)
  }

  func path(_ name: String) -> String { base + "/" + name }

  /// A tarball of a busybox root file system: /bin/busybox, a symlink per applet (`tty`
  /// included), /etc/passwd and /etc/group with a user 1000.
  func makeImageTarball() async throws -> String {
    let template: Rootfs.Template
    switch Rootfs.template {
    case .success(let value): template = value
    case .failure(let failure): throw InteropFailure(description: failure.description)
    }
    let rootfs = path("image-rootfs")
    try Rootfs.build(at: rootfs)
    // A copy, not the shared hard link: other tests linking and unlinking the cached binary
    // change its ctime, and tar fails with "file changed as we read it".
    unlink(rootfs + "/bin/busybox")
    try FileManager.default.copyItem(atPath: template.busybox, toPath: rootfs + "/bin/busybox")
    chmod(rootfs + "/bin/busybox", 0o755)
    let tarball = path("image.tar")
    let tar = await Subprocess.run(["/bin/tar", "-C", rootfs, "-cf", tarball, "."], timeout: 60)
    guard tar.succeeded else { throw InteropFailure(description: "cannot make the image tarball: \(tar)") }
    return tarball
  }

  /// A unique container name for a test.
  func name(_ label: String) -> String { "bi-\(tag)-\(label)" }

  /// Waits for the processes mentioning the store to end; kills and reports those that do not.
  func expectNoProcesses(_ what: String, timeout: Double = 15) async {
    if await eventually(timeout: timeout, interval: 0.1, { InteropHost.processes(mentioning: base).isEmpty }) { return }
    let left = InteropHost.processes(mentioning: base)
    Issue.record(
      Comment(
        rawValue: "leak: \(what) left processes running: "
          + left.map { "\($0) (\(InteropHost.commandLine($0)))" }.joined(separator: "; ")))
    for pid in left { kill(pid, SIGKILL) }
  }

  /// Reports and detaches mounts left under the store.
  func expectNoMounts() {
    let left = InteropHost.mounts(under: base)
    guard !left.isEmpty else { return }
    Issue.record(
      Comment(rawValue: "leak: mounts left under \(base): \(left.map { "\($0.mountPoint) (\($0.fsType))" })"))
    for mount in left.reversed() { umount2(mount.mountPoint, Int32(MNT_DETACH)) }
  }

  /// Reports cgroup directories that should be gone.
  func expectCgroupsGone(_ directories: [String]) async {
    let fm = FileManager.default
    for directory in directories {
      if await eventually(timeout: 2, { !fm.fileExists(atPath: directory) }) { continue }
      Issue.record(Comment(rawValue: "leak: cgroup \(directory) still exists"))
    }
  }

  /// Removes the store, unless something is still mounted in it.
  func removeStore() {
    expectNoMounts()
    if InteropHost.mounts(under: base).isEmpty {
      do { try FileManager.default.removeItem(atPath: base) } catch {
        Issue.record(Comment(rawValue: "cannot remove \(base): \(error)"))
      }
    } else {
      Issue.record(Comment(rawValue: "not removing \(base): mounts remain under it"))
    }
    if FileManager.default.fileExists(atPath: base) {
      Issue.record(Comment(rawValue: "leak: \(base) still exists"))
    }
  }
}

// MARK: - Podman

/// podman with a private store, running containers with berth-runtime.
final class PodmanEngine: InteropStore, @unchecked Sendable {
  @TaskLocal static var current: Result<PodmanEngine, InteropFailure>?

  let executable: String
  var image: String { "localhost/berth-interop:\(tag)" }

  init(podman: String) throws {
    executable = podman
    try super.init(engine: "podman")
  }

  /// `podman` with the private store and berth-runtime. podman passes the runtime no --root,
  /// so berth-runtime keeps its state in its default directory (a `--runtime-flag root=...`
  /// would not reach the `podman container cleanup` that conmon runs when a container exits).
  func podman(_ args: [String], timeout: Double = 120) async -> CommandResult {
    await Subprocess.run(
      [
        executable, "--root", path("storage"), "--runroot", path("run"), "--tmpdir", path("tmp"),
        "--runtime", runtime.path, "--cgroup-manager", "cgroupfs", "--events-backend", "file",
      ] + args, timeout: timeout)
  }

  /// Starts the store: imports the busybox image.
  static func start() async -> Result<PodmanEngine, InteropFailure> {
    guard let path = InteropHost.podman else { return .failure(InteropFailure(description: "podman is not installed")) }
    let engine: PodmanEngine
    do { engine = try PodmanEngine(podman: path) } catch {
      return .failure(error as? InteropFailure ?? InteropFailure(description: "\(error)"))
    }
    do {
      let tarball = try await engine.makeImageTarball()
      let imported = await engine.podman(["import", "--quiet", tarball, engine.image])
      guard imported.succeeded else { throw InteropFailure(description: "podman import failed: \(imported)") }
      return .success(engine)
    } catch {
      await engine.finish()
      return .failure(error as? InteropFailure ?? InteropFailure(description: "\(error)"))
    }
  }

  /// The suite's engine; records an issue and throws when it could not start.
  static func require(sourceLocation: SourceLocation = #_sourceLocation) throws -> PodmanEngine {
    switch current {
    case .success(let engine): return engine
    case .failure(let failure):
      Issue.record(Comment(rawValue: "podman store: \(failure)"), sourceLocation: sourceLocation)
      throw failure
    case nil:
      let failure = InteropFailure(description: "no podman store: the suite lacks the .podmanStore trait")
      Issue.record(Comment(rawValue: failure.description), sourceLocation: sourceLocation)
      throw failure
    }
  }

  /// `podman run` with the options every test needs, recording the container's ID.
  func run(_ args: [String], name label: String, timeout: Double = 120) async -> CommandResult {
    let cidFile = path("cid-\(label)")
    let result = await podman(
      ["run", "--pull=never", "--cidfile", cidFile] + InteropHost.podmanLimits + args, timeout: timeout)
    if let id = readText(cidFile) { remember(id) }
    return result
  }

  /// Removes a container whatever state it is in (a test's cleanup).
  func forceRemove(_ name: String) async {
    _ = await podman(["rm", "--force", "--time", "0", "--ignore", name])
  }

  /// Removes the image and checks that nothing is left, then removes the store.
  func finish() async {
    let containers = await podman(["ps", "--all", "--quiet", "--no-trunc"])
    if !containers.lines.isEmpty {
      Issue.record(Comment(rawValue: "leak: podman containers left after the tests: \(containers.lines)"))
      _ = await podman(["rm", "--all", "--force", "--time", "0"])
    }
    let removed = await podman(["rmi", "--force", image])
    if !removed.succeeded && FileManager.default.fileExists(atPath: path("storage")) {
      Issue.record(Comment(rawValue: "cannot remove the image: \(removed)"))
    }
    let images = await podman(["images", "--quiet", "--all"])
    if !images.lines.isEmpty {
      Issue.record(Comment(rawValue: "leak: podman images left: \(images.lines)"))
      _ = await podman(["rmi", "--all", "--force"])
    }
    for id in containerIDs where FileManager.default.fileExists(atPath: InteropHost.berthDefaultRoot + "/" + id) {
      Issue.record(Comment(rawValue: "leak: berth-runtime state \(InteropHost.berthDefaultRoot)/\(id) is still there"))
    }
    await expectNoProcesses("podman (conmon, cleanup)")
    removeStore()
  }
}

/// Runs the suite with one podman store and image (see `PodmanEngine`).
struct PodmanStoreTrait: SuiteTrait, TestScoping {
  var isRecursive: Bool { false }

  func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    try await InteropHost.withAllSandboxSlots {
      let engine = await PodmanEngine.start()
      do {
        try await PodmanEngine.$current.withValue(engine) { try await function() }
      } catch {
        if case .success(let engine) = engine { await engine.finish() }
        throw error
      }
      if case .success(let engine) = engine { await engine.finish() }
    }
  }
}

extension Trait where Self == PodmanStoreTrait {
  static var podmanStore: Self { Self() }
}

@Suite(
  "podman --runtime berth-runtime", .serialized, .needsRoot, .berthRuntimeOnly,
  .enabled(if: InteropHost.podman != nil, "podman is not installed (scripts/install-deps.sh installs it)"),
  .podmanStore)
struct PodmanInteropTests {
  /// The acceptance criterion, as written: `podman --runtime berth-runtime run --rm IMAGE echo hi`
  /// (podman's default network included).
  @Test("run --rm IMAGE echo hi")
  func echoHi() async throws {
    let podman = try PodmanEngine.require()
    let r = await podman.run(["--rm", podman.image, "echo", "hi"], name: "echo")
    try requireSuccess(r, "podman run --rm echo hi")
    #expect(r.out == "hi")
    let left = await podman.podman(["ps", "--all", "--quiet", "--filter", "name=\(podman.name("echo"))"])
    #expect(left.lines.isEmpty, "--rm left the container: \(left.lines)")
  }

  @Test("exit codes propagate", arguments: [("exit 7", Int32(7)), ("exit 0", 0), ("exit 255", 255)])
  func exitCode(_ script: String, _ expected: Int32) async throws {
    let podman = try PodmanEngine.require()
    let r = await podman.run(
      ["--rm", "--network", "none", podman.image, "sh", "-c", script], name: "exit\(expected)")
    #expect(!r.timedOut, "\(r)")
    #expect(r.status == expected, "\(r)")
  }

  @Test("run -d, exec, stop, rm")
  func lifecycle() async throws {
    let podman = try PodmanEngine.require()
    let name = podman.name("life")
    do {
      // TERM ends the shell through its trap, with an exit code that proves the signal got there.
      let started = await podman.run(
        ["-d", "--name", name, "--network", "none", podman.image, "sh", "-c", "trap 'exit 3' TERM; sleep 1000 & wait"],
        name: "life")
      try requireSuccess(started, "podman run -d")
      let id = started.out
      #expect(id.count == 64, "run -d should print the ID: \(started)")

      // berth-runtime made it: its state directory has it, and its `state` reads it.
      let state = await Subprocess.run([podman.runtime.path, "state", id])
      try requireSuccess(state, "berth-runtime state \(id)")
      #expect(state.out.contains("\"status\": \"running\"") || state.out.contains("\"status\":\"running\""), "\(state)")
      let inspect = await podman.podman(["inspect", "--format", "{{.State.Pid}}", name])
      let pid = try #require(Int(inspect.out), "no PID: \(inspect)")
      let cgroups = InteropHost.cgroupDirectories(of: pid)
      #expect(!cgroups.isEmpty)

      let exec = await podman.podman(["exec", name, "sh", "-c", "echo from-exec; cat /proc/1/comm; echo $$"])
      try requireSuccess(exec, "podman exec")
      // The exec'd shell is in the container's PID namespace, beside its init.
      #expect(exec.lines.count == 3 && exec.lines[0] == "from-exec" && exec.lines[1] == "sh", "\(exec)")
      #expect(exec.lines.last.flatMap { Int($0) }.map { $0 > 1 } == true, "\(exec)")
      let execStatus = await podman.podman(["exec", name, "sh", "-c", "exit 5"])
      #expect(execStatus.status == 5, "\(execStatus)")
      let execUser = await podman.podman(["exec", "--user", "1000:1000", name, "id", "-u"])
      #expect(execUser.out == "1000", "\(execUser)")

      let stopped = await podman.podman(["stop", "--time", "10", name])
      try requireSuccess(stopped, "podman stop")
      let exited = await podman.podman(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name])
      #expect(exited.out == "exited 3", "\(exited)")
      #expect(await eventually(timeout: 5) { processIsGone(pid) }, "the container's init outlived stop")

      let removed = await podman.podman(["rm", name])
      try requireSuccess(removed, "podman rm")
      let left = await podman.podman(["ps", "--all", "--quiet", "--filter", "name=\(name)"])
      #expect(left.lines.isEmpty)
      #expect(!FileManager.default.fileExists(atPath: InteropHost.berthDefaultRoot + "/" + id), "runtime state left")
      await podman.expectCgroupsGone(cgroups)
    } catch {
      await podman.forceRemove(name)
      throw error
    }
    await podman.forceRemove(name)
  }

  @Test("run -t gives the process a terminal")
  func tty() async throws {
    let podman = try PodmanEngine.require()
    let r = await podman.run(["--rm", "-t", "--network", "none", podman.image, "tty"], name: "tty")
    try requireSuccess(r, "podman run -t tty")
    #expect(r.out == "/dev/pts/0", "\(r)")
    let noTTY = await podman.run(["--rm", "--network", "none", podman.image, "tty"], name: "notty")
    #expect(noTTY.status == 1, "without -t, tty should say \"not a tty\": \(noTTY)")
  }

  /// What /proc/self/status and mountinfo say inside, by default and with the options.
  struct Observed: Equatable, CustomStringConvertible {
    var uid: String?
    var gid: String?
    var capEff: String?
    var capBnd: String?
    var rootReadOnly: Bool?
    var description: String {
      "uid \(uid ?? "?") gid \(gid ?? "?") CapEff \(capEff ?? "?") CapBnd \(capBnd ?? "?") root ro \(rootReadOnly.map(String.init) ?? "?")"
    }
  }

  func observe(_ podman: PodmanEngine, options: [String], label: String) async throws -> Observed {
    let r = await podman.run(
      ["--rm", "--network", "none"] + options + [podman.image, "sh", "-c", "cat /proc/self/status; echo ---; cat /proc/self/mountinfo"],
      name: label)
    try requireSuccess(r, "podman run \(options.joined(separator: " "))")
    let parts = r.stdout.components(separatedBy: "---\n")
    try #require(parts.count == 2, "\(r)")
    let status = parseStatus(parts[0])
    let root = MountEntry.parse(parts[1]).last { $0.mountPoint == "/" }
    return Observed(
      uid: status["Uid"], gid: status["Gid"], capEff: status["CapEff"], capBnd: status["CapBnd"],
      rootReadOnly: root.map { $0.mountOptions.contains("ro") })
  }

  @Test("--read-only, --user 1000:1000 and --cap-drop ALL reach the process")
  func securityOptions() async throws {
    let podman = try PodmanEngine.require()
    let defaults = try await observe(podman, options: [], label: "defaults")
    #expect(defaults.uid == "0\t0\t0\t0")
    #expect(defaults.capBnd != "0000000000000000")
    #expect(defaults.rootReadOnly == false)

    let restricted = try await observe(
      podman, options: ["--read-only", "--user", "1000:1000", "--cap-drop", "ALL"], label: "restricted")
    #expect(restricted.uid == "1000\t1000\t1000\t1000")
    #expect(restricted.gid == "1000\t1000\t1000\t1000")
    #expect(restricted.capEff == "0000000000000000")
    #expect(restricted.capBnd == "0000000000000000")
    #expect(restricted.rootReadOnly == true)

    let write = await podman.run(
      ["--rm", "--network", "none", "--read-only", podman.image, "sh", "-c", "touch /file"], name: "rofile")
    #expect(write.status == 1 && write.stderr.contains("Read-only file system"), "\(write)")
  }
}

// MARK: - Docker

/// A private dockerd (and the containerd it starts) with berth-runtime added as "berth".
final class DockerEngine: InteropStore, @unchecked Sendable {
  @TaskLocal static var current: Result<DockerEngine, InteropFailure>?

  let dockerd: String
  let client: String
  var socket: String { path("docker.sock") }
  var image: String { "berth-interop:\(tag)" }
  /// The directory where dockerd's containerd shims keep the runtime's state (`--root`).
  var runtimeRoot: String { path("exec/runtime-runc/moby") }
  private(set) var daemonPID: pid_t?

  init(dockerd: String, client: String) throws {
    self.dockerd = dockerd
    self.client = client
    try super.init(engine: "docker")
  }

  func docker(_ args: [String], timeout: Double = 120) async -> CommandResult {
    await Subprocess.run([client, "-H", "unix://" + socket] + args, timeout: timeout)
  }

  /// Starts dockerd in the background, waits until it answers (30 s at most), imports the image.
  static func start() async -> Result<DockerEngine, InteropFailure> {
    guard let dockerd = InteropHost.dockerd, let client = InteropHost.docker else {
      return .failure(InteropFailure(description: "dockerd or /usr/bin/docker is not installed"))
    }
    let engine: DockerEngine
    do { engine = try DockerEngine(dockerd: dockerd, client: client) } catch {
      return .failure(error as? InteropFailure ?? InteropFailure(description: "\(error)"))
    }
    do {
      try await engine.startDaemon()
      let tarball = try await engine.makeImageTarball()
      let imported = await engine.docker(["import", tarball, engine.image])
      guard imported.succeeded else { throw InteropFailure(description: "docker import failed: \(imported)") }
      return .success(engine)
    } catch {
      await engine.finish()
      return .failure(error as? InteropFailure ?? InteropFailure(description: "\(error)"))
    }
  }

  private func startDaemon() async throws {
    try "{}\n".write(toFile: path("daemon.json"), atomically: false, encoding: .utf8)
    let arguments = [
      dockerd, "--config-file", path("daemon.json"), "--data-root", path("data"), "--exec-root", path("exec"),
      "-H", "unix://" + socket, "--pidfile", path("docker.pid"), "--bridge=none", "--iptables=false",
      "--ip6tables=false", "--add-runtime", "berth=" + runtime.path, "--log-level", "warn",
    ]
    // The shell puts dockerd in the background and exits: dockerd outlives the command.
    let command = arguments.map(shellQuoted).joined(separator: " ") + " </dev/null >" + shellQuoted(path("dockerd.log"))
      + " 2>&1 & echo $!"
    let launched = await Subprocess.run(["/bin/sh", "-c", command], timeout: 20)
    guard launched.succeeded, let pid = pid_t(launched.out) else {
      throw InteropFailure(description: "cannot start dockerd: \(launched)")
    }
    daemonPID = pid
    let ready = await eventually(timeout: 30, interval: 0.2) {
      if processIsGone(Int(pid)) { return true }
      return await docker(["version", "--format", "{{.Server.Version}}"], timeout: 10).succeeded
    }
    guard ready, !processIsGone(Int(pid)) else {
      let log = (try? String(contentsOfFile: path("dockerd.log"), encoding: .utf8)) ?? ""
      throw InteropFailure(
        description: "dockerd did not answer within 30 s\(processIsGone(Int(pid)) ? " (it exited)" : ""); its log:\n"
          + log.suffix(3000))
    }
  }

  static func require(sourceLocation: SourceLocation = #_sourceLocation) throws -> DockerEngine {
    switch current {
    case .success(let engine): return engine
    case .failure(let failure):
      Issue.record(Comment(rawValue: "dockerd: \(failure)"), sourceLocation: sourceLocation)
      throw failure
    case nil:
      let failure = InteropFailure(description: "no dockerd: the suite lacks the .dockerDaemon trait")
      Issue.record(Comment(rawValue: failure.description), sourceLocation: sourceLocation)
      throw failure
    }
  }

  /// `docker run --runtime berth` with the options every test needs, recording the container's ID.
  func run(_ args: [String], name label: String, timeout: Double = 120) async -> CommandResult {
    let cidFile = path("cid-\(label)")
    let result = await docker(
      ["run", "--runtime", "berth", "--network", "none", "--pull", "never", "--cidfile", cidFile] + args,
      timeout: timeout)
    if let id = readText(cidFile) { remember(id) }
    return result
  }

  func forceRemove(_ name: String) async {
    _ = await docker(["rm", "--force", name])
  }

  /// Checks and removes what the tests left, stops the daemon (and its containerd), checks
  /// that every process and mount of the store is gone, removes the store.
  func finish() async {
    if let pid = daemonPID, !processIsGone(Int(pid)) {
      let containers = await docker(["ps", "--all", "--quiet", "--no-trunc"])
      if !containers.lines.isEmpty {
        Issue.record(Comment(rawValue: "leak: docker containers left after the tests: \(containers.lines)"))
        _ = await docker(["rm", "--force"] + containers.lines)
      }
      _ = await docker(["rmi", "--force", image])
      let images = await docker(["images", "--quiet", "--all"])
      if !images.lines.isEmpty {
        Issue.record(Comment(rawValue: "leak: docker images left: \(images.lines)"))
        _ = await docker(["rmi", "--force"] + images.lines)
      }
      if let entries = try? FileManager.default.contentsOfDirectory(atPath: runtimeRoot), !entries.isEmpty {
        Issue.record(Comment(rawValue: "leak: berth-runtime state left in \(runtimeRoot): \(entries)"))
      }
      kill(pid, SIGTERM)
      if !(await eventually(timeout: 20, interval: 0.1) { processIsGone(Int(pid)) }) {
        Issue.record(Comment(rawValue: "dockerd (\(pid)) did not stop within 20 s of SIGTERM; killing it"))
        kill(pid, SIGKILL)
      }
    }
    // containerd, its shims and anything else started for this store must go with dockerd.
    await expectNoProcesses("dockerd (containerd, shims)")
    var cgroups: [String] = []
    for id in containerIDs {
      for mountPoint in CgroupLayout.host.mountPoints { cgroups.append(mountPoint + "/docker/" + id) }
    }
    await expectCgroupsGone(cgroups)
    removeStore()
  }
}

/// Runs the suite with one private dockerd (see `DockerEngine`).
struct DockerDaemonTrait: SuiteTrait, TestScoping {
  var isRecursive: Bool { false }

  func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    try await InteropHost.withAllSandboxSlots {
      let engine = await DockerEngine.start()
      do {
        try await DockerEngine.$current.withValue(engine) { try await function() }
      } catch {
        if case .success(let engine) = engine { await engine.finish() }
        throw error
      }
      if case .success(let engine) = engine { await engine.finish() }
    }
  }
}

extension Trait where Self == DockerDaemonTrait {
  static var dockerDaemon: Self { Self() }
}

@Suite(
  "docker run --runtime berth", .serialized, .needsRoot, .berthRuntimeOnly,
  .enabled(
    if: InteropHost.dockerd != nil && InteropHost.docker != nil,
    "dockerd or /usr/bin/docker is not installed (scripts/install-deps.sh installs docker.io)"),
  .dockerDaemon)
struct DockerInteropTests {
  /// The acceptance criterion: `docker run --runtime berth --rm IMAGE echo hi`.
  @Test("run --rm --runtime berth IMAGE echo hi")
  func echoHi() async throws {
    let docker = try DockerEngine.require()
    let r = await docker.run(["--rm", docker.image, "echo", "hi"], name: "echo")
    try requireSuccess(r, "docker run --rm echo hi")
    #expect(r.out == "hi")
    let exit = await docker.run(["--rm", docker.image, "sh", "-c", "exit 7"], name: "exit7")
    #expect(exit.status == 7, "\(exit)")
    let left = await docker.docker(["ps", "--all", "--quiet"])
    #expect(left.lines.isEmpty, "--rm left containers: \(left.lines)")
  }

  @Test("run -d, exec, pause/unpause, update --memory, stop, rm")
  func lifecycle() async throws {
    let docker = try DockerEngine.require()
    let name = docker.name("life")
    do {
      let started = await docker.run(
        ["-d", "--name", name, docker.image, "sh", "-c", "trap 'exit 3' TERM; sleep 1000 & wait"], name: "life")
      try requireSuccess(started, "docker run -d")
      let id = started.out
      try #require(id.count == 64, "run -d should print the ID: \(started)")

      // berth-runtime made it: its `state` reads the shim's state directory (runc's would not parse).
      let state = await Subprocess.run([docker.runtime.path, "--root", docker.runtimeRoot, "state", id])
      try requireSuccess(state, "berth-runtime state")
      #expect(state.out.contains("running"), "\(state)")
      let inspect = await docker.docker(["inspect", "--format", "{{.State.Pid}}", id])
      let pid = try #require(Int(inspect.out), "no PID: \(inspect)")
      let cgroups = InteropHost.cgroupDirectories(of: pid)

      let exec = await docker.docker(["exec", id, "sh", "-c", "echo from-exec; exit 4"])
      #expect(exec.status == 4, "\(exec)")
      #expect(exec.out == "from-exec")

      let paused = await docker.docker(["pause", id])
      try requireSuccess(paused, "docker pause")
      #expect(await status(docker, id) == "paused")
      let freezer = cgroups.first { $0.contains("/freezer/") }.map { $0 + "/freezer.state" }
      let frozenFile = freezer ?? cgroups.first.map { $0 + "/cgroup.freeze" }
      if let frozenFile {
        #expect(["FROZEN", "1"].contains(readText(frozenFile)), "\(frozenFile) says \(readText(frozenFile) ?? "nothing")")
      }
      let unpaused = await docker.docker(["unpause", id])
      try requireSuccess(unpaused, "docker unpause")
      #expect(await status(docker, id) == "running")
      let afterResume = await docker.docker(["exec", id, "echo", "awake"])
      #expect(afterResume.out == "awake", "\(afterResume)")

      let updated = await docker.docker(["update", "--memory", "64m", "--memory-swap", "128m", id])
      try requireSuccess(updated, "docker update")
      let layout = CgroupLayout.host
      if layout.isV1 {
        // Hybrid or v1 host: the memory controller's hierarchy, under docker's "docker" parent.
        let dir = try #require(layout.directory(controller: "memory", cgroupsPath: "/docker/" + id))
        #expect(readText(dir + "/memory.limit_in_bytes") == "67108864")
        if FileManager.default.fileExists(atPath: dir + "/memory.memsw.limit_in_bytes") {
          #expect(readText(dir + "/memory.memsw.limit_in_bytes") == "134217728")
        }
      } else {
        let dir = try #require(layout.directory(controller: "memory", cgroupsPath: "/docker/" + id))
        #expect(readText(dir + "/memory.max") == "67108864")
        #expect(readText(dir + "/memory.swap.max") == "67108864")
      }
      let limits = await docker.docker(["inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}", id])
      #expect(limits.out == "67108864 134217728")

      let stopped = await docker.docker(["stop", "--time", "10", id])
      try requireSuccess(stopped, "docker stop")
      let exited = await docker.docker(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", id])
      #expect(exited.out == "exited 3", "SIGTERM should reach the shell's trap: \(exited)")
      #expect(await eventually(timeout: 5) { processIsGone(pid) }, "the container's init outlived stop")

      let removed = await docker.docker(["rm", id])
      try requireSuccess(removed, "docker rm")
      let left = await docker.docker(["ps", "--all", "--quiet", "--no-trunc"])
      #expect(!left.lines.contains(id))
      #expect(!FileManager.default.fileExists(atPath: docker.runtimeRoot + "/" + id), "runtime state left")
      await docker.expectCgroupsGone(cgroups)
    } catch {
      await docker.forceRemove(name)
      throw error
    }
    await docker.forceRemove(name)
  }

  func status(_ docker: DockerEngine, _ id: String) async -> String {
    await docker.docker(["inspect", "--format", "{{.State.Status}}", id]).out
  }
}

/// `text` quoted for /bin/sh.
func shellQuoted(_ text: String) -> String {
  "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
