import BerthOCI
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension Trait where Self == ConditionTrait {
  /// Integration tests run real containers and so need root.
  static var needsRoot: Self {
    .enabled(if: TestHost.isRoot, "needs root: these integration tests run real containers (run the suite as root)")
  }

  /// Skips a test of Berth-only behaviour when the suite runs against a reference runtime.
  static func berthOnly(_ reason: Comment) -> Self {
    .disabled(if: RuntimeUnderTest.shared.isReference, reason)
  }
}

/// Bounds how many sandboxes run at once: Swift Testing starts every test in parallel, and two
/// cores running a hundred container starts at once make timing-sensitive tests flaky.
/// `BERTH_TEST_PARALLEL` overrides the default of 8.
actor ConcurrencyLimiter {
  static let shared = ConcurrencyLimiter(
    limit: Int(ProcessInfo.processInfo.environment["BERTH_TEST_PARALLEL"] ?? "") ?? 8)

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
    if waiters.isEmpty {
      available += 1
    } else {
      waiters.removeFirst().resume()
    }
  }
}

struct SandboxUnavailable: Error, CustomStringConvertible {
  var description: String
}

/// Runs `body` with a fresh sandbox: its own `--root` state directory and bundle directories
/// under /tmp/berth-runtime-tests. Afterwards, whether `body` passed, failed or threw, every
/// container it made is deleted with `--force` and the leak checks run (see `Sandbox.finish`).
func withSandbox<T>(
  _ tag: String = #function, sourceLocation: SourceLocation = #_sourceLocation,
  _ body: (Sandbox) async throws -> T
) async throws -> T {
  let runtime = RuntimeUnderTest.shared
  if let problem = runtime.problem {
    Issue.record(Comment(rawValue: problem), sourceLocation: sourceLocation)
    throw SandboxUnavailable(description: problem)
  }
  if case .failure(let failure) = Rootfs.template {
    Issue.record(Comment(rawValue: failure.description), sourceLocation: sourceLocation)
    throw failure
  }
  await ConcurrencyLimiter.shared.acquire()
  let sandbox: Sandbox
  do {
    sandbox = try Sandbox(tag: tag, sourceLocation: sourceLocation)
  } catch {
    await ConcurrencyLimiter.shared.release()
    throw error
  }
  do {
    let result = try await body(sandbox)
    await sandbox.finish()
    await ConcurrencyLimiter.shared.release()
    return result
  } catch {
    await sandbox.finish()
    await ConcurrencyLimiter.shared.release()
    throw error
  }
}

/// One test's private corner of the host: a directory, a runtime state root, and the containers
/// (bundles) it made. Used by one test at a time (hence the unchecked Sendable: a test may hand it
/// to an `async let` while it polls).
final class Sandbox: @unchecked Sendable {
  /// Unique prefix of every container ID in this sandbox.
  let base: String
  /// The sandbox directory; every bundle and host directory the test uses lives under it.
  let dir: String
  /// The runtime's `--root`.
  let stateRoot: String
  let runtime = RuntimeUnderTest.shared
  let sourceLocation: SourceLocation
  private(set) var containers: [TestContainer] = []
  private var hostMounts: [String] = []

  init(tag: String, sourceLocation: SourceLocation) throws {
    let letters = tag.prefix { $0 != "(" }.filter { $0.isLetter || $0.isNumber }.prefix(14)
    let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    base = "bt-\(letters)-\(random)"
    dir = Rootfs.testRoot + "/" + base
    stateRoot = dir + "/state"
    self.sourceLocation = sourceLocation
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    chmod(Rootfs.testRoot, 0o755)
    chmod(dir, 0o755)
  }

  /// A path inside the sandbox directory.
  func path(_ name: String) -> String { dir + "/" + name }

  /// Creates a directory (mode 0755) in the sandbox and returns its path.
  @discardableResult
  func makeDirectory(_ name: String) throws -> String {
    let p = path(name)
    try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    chmod(p, 0o755)
    return p
  }

  /// Writes a file in the sandbox and returns its path.
  @discardableResult
  func writeFile(_ name: String, _ contents: String, mode: mode_t = 0o644) throws -> String {
    let p = path(name)
    try contents.write(toFile: p, atomically: false, encoding: .utf8)
    chmod(p, mode)
    return p
  }

  /// A new container with its own bundle (busybox rootfs plus the default spec).
  /// The ID is "<sandbox>-<name>" and cgroupsPath "/berth-test/<id>".
  func container(_ name: String = "c", args: [String] = ["true"]) throws -> TestContainer {
    let container = try TestContainer(sandbox: self, name: name, args: args)
    containers.append(container)
    return container
  }

  /// Runs the runtime with `--root <stateRoot>` before `args`.
  func runtime(
    _ args: [String], stdin: StandardInput = .null, extraFds: [Int32] = [], timeout: Double = 20,
    sourceLocation: SourceLocation = #_sourceLocation
  ) async -> CommandResult {
    await runtimeWithoutRoot(
      ["--root", stateRoot] + args, stdin: stdin, extraFds: extraFds, timeout: timeout, sourceLocation: sourceLocation)
  }

  /// Runs the runtime with exactly `args`.
  func runtimeWithoutRoot(
    _ args: [String], stdin: StandardInput = .null, extraFds: [Int32] = [], timeout: Double = 20,
    sourceLocation: SourceLocation = #_sourceLocation
  ) async -> CommandResult {
    let result = await Subprocess.run([runtime.path] + args, stdin: stdin, extraFds: extraFds, timeout: timeout)
    if result.timedOut {
      Issue.record(
        Comment(rawValue: "\(runtime.name) hung and was killed after \(timeout) s:\n\(result)"),
        sourceLocation: sourceLocation)
    }
    return result
  }

  /// Runs a host command (not the runtime).
  func host(_ argv: [String], timeout: Double = 20) async -> CommandResult {
    await Subprocess.run(argv, timeout: timeout)
  }

  /// Mounts on the host, to be unmounted when the sandbox finishes.
  func hostMount(_ arguments: [String], at target: String) async throws {
    let r = await host(["/bin/mount"] + arguments + [target])
    try #require(r.succeeded, "host mount failed: \(r)")
    hostMounts.append(target)
  }

  /// Deletes every container (`delete --force`), then checks that nothing is left behind:
  /// no entry in the state root, no mount under the sandbox directory, no cgroup directory for
  /// any container's cgroupsPath, no process the test saw still running. Whatever leaked is
  /// recorded as an issue and then cleaned up by hand so one failure does not cascade.
  func finish() async {
    for container in containers.reversed() {
      _ = await runtime(["delete", "--force", container.id], sourceLocation: sourceLocation)
    }
    for target in hostMounts.reversed() {
      umount2(target, Int32(MNT_DETACH))
    }
    let fm = FileManager.default

    // 1. The state root holds nothing.
    if let entries = try? fm.contentsOfDirectory(atPath: stateRoot), !entries.isEmpty {
      Issue.record(
        Comment(rawValue: "leak: state root \(stateRoot) still holds \(entries.sorted()) after delete --force"),
        sourceLocation: sourceLocation)
    }

    // 2. No mount under the sandbox (bundles, rootfs, host directories).
    let leakedMounts = MountEntry.host().filter { $0.mountPoint == dir || $0.mountPoint.hasPrefix(dir + "/") }
    if !leakedMounts.isEmpty {
      Issue.record(
        Comment(
          rawValue: "leak: mounts left on the host: \(leakedMounts.map { "\($0.mountPoint) (\($0.fsType))" })"),
        sourceLocation: sourceLocation)
      for mount in leakedMounts.reversed() { umount2(mount.mountPoint, Int32(MNT_DETACH)) }
    }

    // 3. No cgroup directory, hence no process in it.
    for container in containers {
      for mountPoint in CgroupLayout.host.mountPoints {
        let cgroup = mountPoint + container.cgroupsPath
        guard fm.fileExists(atPath: cgroup) else { continue }
        // Removal can lag a moment behind the last process's exit.
        if await eventually(timeout: 1, { !fm.fileExists(atPath: cgroup) }) { continue }
        let procs = readText(cgroup + "/cgroup.procs") ?? ""
        Issue.record(
          Comment(
            rawValue: "leak: cgroup \(cgroup) still exists"
              + (procs.isEmpty ? "" : " with processes \(procs.split(separator: "\n"))")),
          sourceLocation: sourceLocation)
        removeCgroup(cgroup)
      }
    }

    // 4. No process the test saw is still alive.
    for container in containers {
      for pid in container.observedPids {
        if await eventually(timeout: 2, { processIsGone(pid) }) { continue }
        let cmdline = readText("/proc/\(pid)/cmdline")?.replacingOccurrences(of: "\0", with: " ") ?? "?"
        Issue.record(
          Comment(rawValue: "leak: process \(pid) (\(cmdline)) of container \(container.id) is still running"),
          sourceLocation: sourceLocation)
        kill(pid_t(pid), SIGKILL)
      }
    }

    if MountEntry.host().contains(where: { $0.mountPoint.hasPrefix(dir + "/") }) {
      Issue.record(
        Comment(rawValue: "not removing \(dir): mounts remain under it"), sourceLocation: sourceLocation)
    } else {
      try? fm.removeItem(atPath: dir)
    }
  }

  /// Kills what is in a leaked cgroup directory and removes it, children first.
  private func removeCgroup(_ path: String) {
    let fm = FileManager.default
    if let children = try? fm.contentsOfDirectory(atPath: path) {
      for child in children where (try? fm.attributesOfItem(atPath: path + "/" + child)[.type] as? FileAttributeType)
        == .typeDirectory
      {
        removeCgroup(path + "/" + child)
      }
    }
    for _ in 0..<50 {
      for pid in (readText(path + "/cgroup.procs") ?? "").split(separator: "\n").compactMap({ pid_t($0) }) {
        kill(pid, SIGKILL)
      }
      if path.contains("/freezer/") { try? "THAWED".write(toFile: path + "/freezer.state", atomically: false, encoding: .utf8) }
      if rmdir(path) == 0 || errno == ENOENT { return }
      usleep(20_000)
    }
  }
}

/// A container of a sandbox: its ID, bundle directory and spec.
final class TestContainer: @unchecked Sendable {
  unowned let sandbox: Sandbox
  let id: String
  let bundle: String
  /// The config written to `bundle/config.json` by `writeSpec()` (and by run/create).
  var spec: Spec
  /// The cgroup path the leak check looks for (the spec's default value).
  let cgroupsPath: String
  /// Host PIDs seen through `state`; the leak check makes sure they are gone at the end.
  private(set) var observedPids: Set<Int> = []

  var rootfs: String { bundle + "/rootfs" }

  init(sandbox: Sandbox, name: String, args: [String]) throws {
    self.sandbox = sandbox
    id = "\(sandbox.base)-\(name)"
    bundle = sandbox.path(name)
    cgroupsPath = "/berth-test/" + id
    spec = DefaultSpec.make(args: args, cgroupsPath: cgroupsPath)
    try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: false)
    chmod(bundle, 0o755)
    try Rootfs.build(at: bundle + "/rootfs")
  }

  /// The spec's process (never nil in the default spec).
  var process: OCIProcess {
    get { spec.process ?? OCIProcess() }
    set { spec.process = newValue }
  }

  /// The spec's linux section.
  var linux: Linux {
    get { spec.linux ?? Linux() }
    set { spec.linux = newValue }
  }

  /// The spec's cgroup resources.
  var resources: LinuxResources {
    get { spec.linux?.resources ?? LinuxResources() }
    set { linux.resources = newValue }
  }

  /// Adds a namespace, or removes it (`nil` path and `present: false`).
  func setNamespace(_ type: NamespaceType, present: Bool = true, path: String? = nil) {
    var namespaces = linux.namespaces ?? []
    namespaces.removeAll { $0.type == type }
    if present { namespaces.append(LinuxNamespace(type: type, path: path)) }
    linux.namespaces = namespaces
  }

  /// A path of the rootfs as seen from the host.
  func hostPath(_ inContainer: String) -> String { rootfs + inContainer }

  func writeSpec() throws {
    try DefaultSpec.encode(spec).write(to: URL(fileURLWithPath: bundle + "/config.json"))
  }

  /// `run --bundle <bundle> [options] <id>` in the foreground: returns when the process exits.
  func run(
    _ args: [String]? = nil, options: [String] = [], stdin: StandardInput = .null, extraFds: [Int32] = [],
    timeout: Double = 20, sourceLocation: SourceLocation = #_sourceLocation
  ) async throws -> CommandResult {
    if let args { spec.process?.args = args }
    try writeSpec()
    return await sandbox.runtime(
      ["run", "--bundle", bundle] + options + [id], stdin: stdin, extraFds: extraFds, timeout: timeout,
      sourceLocation: sourceLocation)
  }

  /// `run --detach`; requires success and returns the state.
  @discardableResult
  func runDetached(
    _ args: [String]? = nil, options: [String] = [], sourceLocation: SourceLocation = #_sourceLocation
  ) async throws -> ContainerState {
    let r = try await run(args, options: ["--detach"] + options, sourceLocation: sourceLocation)
    try #require(r.succeeded, "run --detach failed: \(r)", sourceLocation: sourceLocation)
    return try await state(sourceLocation: sourceLocation)
  }

  /// `create --bundle <bundle> [options] <id>`.
  func create(
    _ args: [String]? = nil, options: [String] = [], stdin: StandardInput = .null, extraFds: [Int32] = [],
    timeout: Double = 20, sourceLocation: SourceLocation = #_sourceLocation
  ) async throws -> CommandResult {
    if let args { spec.process?.args = args }
    try writeSpec()
    return await sandbox.runtime(
      ["create", "--bundle", bundle] + options + [id], stdin: stdin, extraFds: extraFds, timeout: timeout,
      sourceLocation: sourceLocation)
  }

  func start(sourceLocation: SourceLocation = #_sourceLocation) async -> CommandResult {
    await sandbox.runtime(["start", id], sourceLocation: sourceLocation)
  }

  /// `state <id>` decoded; requires success.
  func state(sourceLocation: SourceLocation = #_sourceLocation) async throws -> ContainerState {
    let r = await sandbox.runtime(["state", id], sourceLocation: sourceLocation)
    try #require(r.succeeded, "state failed: \(r)", sourceLocation: sourceLocation)
    let state = try JSONDecoder().decode(ContainerState.self, from: Data(r.stdout.utf8))
    if let pid = state.pid, pid > 0, state.status != .stopped { observedPids.insert(pid) }
    return state
  }

  /// The container's init PID on the host; requires a live container.
  func pid(sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int {
    let pid = try #require(try await state(sourceLocation: sourceLocation).pid, sourceLocation: sourceLocation)
    try #require(pid > 0, "state has no pid", sourceLocation: sourceLocation)
    return pid
  }

  /// Polls `state` until it reports `status`; returns whether it did within `timeout` seconds.
  func waitFor(_ status: ContainerStatus, timeout: Double = 5, sourceLocation: SourceLocation = #_sourceLocation)
    async throws -> Bool
  {
    try await eventually(timeout: timeout, interval: 0.05) {
      try await state(sourceLocation: sourceLocation).status == status
    }
  }

  func kill(_ signal: String? = nil, all: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) async
    -> CommandResult
  {
    await sandbox.runtime(
      ["kill"] + (all ? ["--all"] : []) + [id] + (signal.map { [$0] } ?? []), sourceLocation: sourceLocation)
  }

  func delete(force: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) async -> CommandResult {
    await sandbox.runtime(["delete"] + (force ? ["--force"] : []) + [id], sourceLocation: sourceLocation)
  }

  /// `exec [options] <id> <args...>`.
  func exec(
    _ args: [String], options: [String] = [], stdin: StandardInput = .null, timeout: Double = 20,
    sourceLocation: SourceLocation = #_sourceLocation
  ) async -> CommandResult {
    await sandbox.runtime(
      ["exec"] + options + [id] + args, stdin: stdin, timeout: timeout, sourceLocation: sourceLocation)
  }

  /// A file of this container's cgroup, read from the host (v1 controller hierarchy or cgroup2).
  func cgroupFile(_ controller: String, _ file: String) -> String? {
    CgroupLayout.host.directory(controller: controller, cgroupsPath: cgroupsPath).map { $0 + "/" + file }
  }

  /// The trimmed contents of a cgroup file of this container, read from the host.
  func cgroupValue(_ controller: String, _ file: String) -> String? {
    cgroupFile(controller, file).flatMap(readText)
  }
}

/// `#expect`s that a command succeeded, printing its output otherwise.
@discardableResult
func expectSuccess(_ result: CommandResult, _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation)
  -> Bool
{
  #expect(result.succeeded, "\(what.isEmpty ? "" : what + ": ")\(result)", sourceLocation: sourceLocation)
  return result.succeeded
}

/// `#require`s that a command succeeded.
func requireSuccess(_ result: CommandResult, _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation)
  throws
{
  try #require(result.succeeded, "\(what.isEmpty ? "" : what + ": ")\(result)", sourceLocation: sourceLocation)
}
