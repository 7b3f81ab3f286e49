import BerthOS
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The `berth-init` executable SwiftPM built next to the test bundle.
enum InitBinary {
  static let path: String = productsDirectory + "/berth-init"

  /// The directory holding the test bundle (".../debug/berthPackageTests.xctest", a file on
  /// Linux), which SwiftPM shares with the package's executables.
  static let productsDirectory: String = {
    var candidates: [String] = []
    if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
      candidates.append(exe)
    }
    candidates += CommandLine.arguments.prefix(1)
    for candidate in candidates {
      var url = URL(fileURLWithPath: candidate)
      while url.pathComponents.count > 1 {
        if url.pathExtension == "xctest" { return url.deletingLastPathComponent().path }
        url = url.deletingLastPathComponent()
      }
      let directory = URL(fileURLWithPath: candidate).deletingLastPathComponent().path
      if access(directory + "/berth-init", X_OK) == 0 { return directory }
    }
    return URL(fileURLWithPath: candidates.first ?? ".").deletingLastPathComponent().path
  }()

  /// Why the tests cannot run here, or nil.
  static var unavailableReason: String? {
    access(path, X_OK) == 0 ? nil : "berth-init is not at \(path): build with --build-tests"
  }
}

extension Trait where Self == ConditionTrait {
  /// Needs the berth-init binary (built with the tests).
  static var initBuilt: Self {
    .enabled(if: InitBinary.unavailableReason == nil, Comment(rawValue: InitBinary.unavailableReason ?? ""))
  }
}

/// A process started by a test with stdout and stderr going to files in its own temporary
/// directory (files, not pipes: an orphan that outlives the process cannot hold the test up).
final class InitRun: @unchecked Sendable {
  let directory: String
  let pid: pid_t
  private(set) var status: BerthOS.ExitStatus?

  var stdoutPath: String { directory + "/stdout" }
  var stderrPath: String { directory + "/stderr" }

  /// A fresh temporary directory (removed by `cleanUp`).
  static func makeDirectory() throws -> String {
    var template = Array("/tmp/berth-init-test-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw BerthError.system("mkdtemp") }
    return String(cString: made)
  }

  /// Starts `argv` (argv[0] is the path) with stdin from /dev/null, or from `stdin` when given.
  init(_ argv: [String], stdin: Int32? = nil, environment: [String]? = nil, directory: String? = nil) throws {
    let dir = try directory ?? InitRun.makeDirectory()
    self.directory = dir
    let out = open(dir + "/stdout", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    let err = open(dir + "/stderr", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
    defer {
      close(out)
      close(err)
      close(null)
    }
    guard out >= 0, err >= 0, null >= 0 else { throw BerthError.system("open the output files in \(dir)") }
    let env = environment ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    do {
      pid = try Subprocess.spawn(argv[0], args: argv, env: env, fds: [(stdin ?? null, 0), (out, 1), (err, 2)])
    } catch {
      if directory == nil { try? FileManager.default.removeItem(atPath: dir) }
      throw error
    }
  }

  /// What the process wrote so far.
  var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
  var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

  /// Waits up to `seconds` for the process to end; kills it (SIGKILL) and returns nil if it does not.
  func wait(seconds: Double = 3) -> BerthOS.ExitStatus? {
    if let status { return status }
    let ended = try? Subprocess.wait(pid, timeoutNanoseconds: UInt64(seconds * 1e9))
    if let ended {
      status = ended
      return ended
    }
    kill(pid, SIGKILL)
    status = try? Subprocess.wait(pid)
    return nil
  }

  /// Polls until stdout contains `marker`, the process ends, or `seconds` pass. Polls with
  /// `Task.sleep`, so that a test waiting on a slow process does not hold one of the few
  /// cooperative threads every other test runs on. The time limits here only bound a
  /// failure: they are long because tests run in parallel on busy 2-core machines.
  func waitForOutput(_ marker: String, seconds: Double = 10) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
      if stdout.contains(marker) { return true }
      if status == nil, let ended = try? Subprocess.wait(pid, timeoutNanoseconds: 0) { status = ended }
      if status != nil { return stdout.contains(marker) }
      try? await Task.sleep(for: .milliseconds(10))
    }
    // A test resumed late (every cooperative thread was busy) looks once more.
    return stdout.contains(marker)
  }

  /// As ``wait(seconds:)``, without blocking a cooperative thread.
  func finish(seconds: Double = 10) async -> BerthOS.ExitStatus? {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while status == nil, ContinuousClock.now < deadline {
      if let ended = try? Subprocess.wait(pid, timeoutNanoseconds: 0) {
        status = ended
        break
      }
      try? await Task.sleep(for: .milliseconds(10))
    }
    return wait(seconds: 0)  // the status, or nil after killing it
  }

  /// Whether the process still runs (reaping it if it has just ended).
  var isRunning: Bool {
    if status == nil, let ended = try? Subprocess.wait(pid, timeoutNanoseconds: 0) { status = ended }
    return status == nil
  }

  /// Kills the process if it still runs, and removes the directory.
  func cleanUp() {
    if status == nil { _ = wait(seconds: 0) }
    try? FileManager.default.removeItem(atPath: directory)
  }

  /// Runs `argv` to completion (at most `seconds`) without blocking a cooperative thread.
  static func finished(_ argv: [String], seconds: Double = 10) async throws -> (status: BerthOS.ExitStatus?, stdout: String, stderr: String) {
    let run = try InitRun(argv)
    defer { run.cleanUp() }
    let status = await run.finish(seconds: seconds)
    return (status, run.stdout, run.stderr)
  }

  /// Runs `argv` to completion (at most `seconds`) and returns the run.
  static func complete(_ argv: [String], seconds: Double = 3) throws -> (status: BerthOS.ExitStatus?, stdout: String, stderr: String) {
    let run = try InitRun(argv)
    defer { run.cleanUp() }
    let status = run.wait(seconds: seconds)
    return (status, run.stdout, run.stderr)
  }
}

/// Facts about /proc/<pid>/status.
enum ProcStatus {
  /// The "State:" letter and "PPid:" of `pid`, or nil when there is no such process.
  static func read(_ pid: pid_t) -> (state: Character, ppid: pid_t)? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    var state: Character?
    var ppid: pid_t?
    for line in text.split(separator: "\n") {
      if line.hasPrefix("State:") {
        state = line.dropFirst("State:".count).first { !$0.isWhitespace }
      } else if line.hasPrefix("PPid:") {
        ppid = pid_t(line.dropFirst("PPid:".count).trimmingCharacters(in: .whitespaces))
      }
    }
    guard let state, let ppid else { return nil }
    return (state, ppid)
  }

  /// Every process whose parent is `parent`, with its state.
  static func children(of parent: pid_t) -> [(pid: pid_t, state: Character)] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { name -> (pid_t, Character)? in
      guard let pid = pid_t(name), let info = read(pid), info.ppid == parent else { return nil }
      return (pid, info.state)
    }
  }
}
