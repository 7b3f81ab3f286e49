import BerthOS
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// One test's store for the volume, copy, update and system command tests: the `berth` built
/// next to the tests, with `--root` and `--runroot` in a fresh directory and busybox imported
/// as "busybox". `finish()` removes every container and volume and reports what is still
/// mounted below the directory; the directory goes with it.
final class BerthWorld: @unchecked Sendable {
  static let berth = InitBinary.productsDirectory + "/berth"

  /// Why these tests cannot run here, or nil.
  static var unavailableReason: String? {
    if geteuid() != 0 { return "needs root to run containers" }
    if access("/bin/busybox", X_OK) != 0 { return "needs busybox-static at /bin/busybox" }
    if access(berth, X_OK) != 0 { return "berth is not at \(berth): build with --build-tests" }
    return nil
  }

  /// Kept short: the run root holds unix sockets (at most 108 bytes a path).
  let directory: String
  var root: String { directory + "/root" }
  var runRoot: String { directory + "/run" }
  /// Scratch space on the host side of copies.
  var host: String { directory + "/host" }
  private var finished = false

  init() throws {
    var template = Array("/tmp/bw-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw BerthError.system("mkdtemp") }
    directory = String(cString: made)
    chmod(directory, 0o755)
    try FS.makeDirectories(host)
    let image = try TestImage.busybox()
    let tarball = directory + "/busybox.tar"
    try Data(image.layers[0].tar).write(to: URL(fileURLWithPath: tarball))
    try ok(["import", tarball, "busybox"])
  }

  deinit { _ = finish() }

  struct Outcome {
    var status: BerthOS.ExitStatus?
    var stdout: [UInt8]
    var stderr: String
    var text: String { String(decoding: stdout, as: UTF8.self) }
    var code: Int32? { if case .exited(let code) = status { return code } else { return nil } }
  }

  /// Runs `berth ARGS` with `input` on its stdin, to completion (killed after `seconds`).
  @discardableResult
  func run(_ arguments: [String], input: [UInt8] = [], seconds: Double = 30) throws -> Outcome {
    let scratch = try FS.makeTemporaryDirectory(in: directory)
    defer { try? FS.removeTree(scratch) }
    try FS.write(scratch + "/in", input)
    let stdin = try OwnedFD.open(scratch + "/in", O_RDONLY)
    let stdout = try OwnedFD.open(scratch + "/out", O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
    let stderr = try OwnedFD.open(scratch + "/err", O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
    let argv = [Self.berth, "--root", root, "--runroot", runRoot] + arguments
    let pid = try Subprocess.spawn(
      Self.berth, args: argv, env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8"],
      fds: [(stdin.raw, 0), (stdout.raw, 1), (stderr.raw, 2)], cwd: host)
    var status = try Subprocess.wait(pid, timeoutNanoseconds: UInt64(seconds * 1e9))
    if status == nil {
      kill(pid, SIGKILL)
      status = try? Subprocess.wait(pid)
      return Outcome(status: nil, stdout: try FS.read(scratch + "/out"), stderr: "timed out after \(seconds) s")
    }
    return Outcome(status: status, stdout: try FS.read(scratch + "/out"), stderr: try FS.readText(scratch + "/err"))
  }

  /// Runs `berth ARGS` and returns its stdout; throws (with its stderr) unless it exits 0.
  @discardableResult
  func ok(_ arguments: [String], input: [UInt8] = [], seconds: Double = 30) throws -> String {
    let outcome = try run(arguments, input: input, seconds: seconds)
    guard outcome.code == 0 else {
      throw BerthError(
        .commandFailed, "berth \(arguments.joined(separator: " ")): \(outcome.status.map { "\($0)" } ?? "timed out")\n\(outcome.stderr)")
    }
    return outcome.text
  }

  /// `run -d ARGS`: the new container's full ID.
  @discardableResult
  func runDetached(_ arguments: [String]) throws -> String {
    try ok(["run", "-d"] + arguments).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// The IDs of the containers the store has (each has a directory under containers/).
  func containerIDs() -> [String] {
    ((try? FS.list(root + "/containers")) ?? []).filter { $0.count == 64 }.sorted()
  }

  /// Mount points at or below the world's directory.
  func mounts() -> [String] {
    let text = (try? FS.readText("/proc/self/mountinfo")) ?? ""
    return text.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: " ")
      guard fields.count > 4 else { return nil }
      let point = String(fields[4])
      return point == directory || point.hasPrefix(directory + "/") ? point : nil
    }
  }

  /// Removes every container and volume, and the directory; returns what was still mounted
  /// below it (nothing should be) and whether a default run root was made for this store.
  @discardableResult
  func finish() -> [String] {
    if finished { return [] }
    finished = true
    let ids = containerIDs()
    if !ids.isEmpty { _ = try? run(["rm", "-f", "-v"] + ids) }
    if let volumes = try? run(["volume", "ls", "-q"]).text.split(separator: "\n").map(String.init), !volumes.isEmpty {
      _ = try? run(["volume", "rm", "-f"] + volumes)
    }
    var leftovers = mounts()
    if FS.exists("/run/berth-" + Self.fnv1a(root)) { leftovers.append("/run/berth-" + Self.fnv1a(root)) }
    for point in mounts().reversed() { _ = point.withCString { umount2($0, Int32(MNT_DETACH)) } }
    try? FS.removeTree(directory)
    return leftovers
  }

  /// The engine's default run root for a store (it must not be used: --runroot is given).
  static func fnv1a(_ text: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
      hash ^= UInt64(byte)
      hash = hash &* 0x100_0000_01b3
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
  }
}

extension FS {
  /// A new empty directory inside `parent`.
  static func makeTemporaryDirectory(in parent: String) throws -> String {
    var template = Array((parent + "/t-XXXXXX").utf8CString)
    guard let made = mkdtemp(&template) else { throw BerthError.system("mkdtemp in \(parent)") }
    return String(cString: made)
  }
}

extension Trait where Self == ConditionTrait {
  /// Needs root, busybox and the built berth.
  static var berthWorld: Self {
    .enabled(if: BerthWorld.unavailableReason == nil, Comment(rawValue: BerthWorld.unavailableReason ?? ""))
  }
}

/// The lines of a text, without empty ones.
func nonEmptyLines(_ text: String) -> [String] {
  text.split(separator: "\n").map(String.init)
}
