import BerthOS
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// One query test's engine: the `berth` built beside the tests, with its own `--root` and
/// `--runroot` and a busybox image imported as "busybox". `with` removes every container the
/// test made (`rm -f`), then anything left mounted, then the directory.
struct QuerySandbox: Sendable {
  static let berth: String = {
    var url = URL(fileURLWithPath: (try? FS.readLink("/proc/self/exe")) ?? CommandLine.arguments[0])
    while url.pathComponents.count > 1 {
      if url.pathExtension == "xctest" { return url.deletingLastPathComponent().path + "/berth" }
      url = url.deletingLastPathComponent()
    }
    return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path + "/berth"
  }()

  /// Why containers cannot run here, or nil.
  static var unavailableReason: String? {
    if geteuid() != 0 { return "needs root to run containers" }
    if access("/bin/busybox", X_OK) != 0 { return "needs busybox-static at /bin/busybox" }
    if access(berth, X_OK) != 0 { return "berth is not at \(berth): build with --build-tests" }
    return nil
  }

  let directory: String
  var root: String { directory + "/root" }
  var runRoot: String { directory + "/run" }

  static func with(_ body: (QuerySandbox) async throws -> Void) async throws {
    let template = "/tmp/berth-q-XXXXXX"
    var bytes = Array(template.utf8CString)
    guard let made = mkdtemp(&bytes) else { throw BerthError.system("mkdtemp") }
    let sandbox = QuerySandbox(directory: String(cString: made))
    chmod(sandbox.directory, 0o755)
    defer { sandbox.cleanUp() }
    let tarball = sandbox.directory + "/busybox.tar"
    try FS.write(tarball, try TestImage.busybox().layers[0].tar)
    try await sandbox.ok("import", tarball, "busybox")
    try await body(sandbox)
  }

  private func cleanUp() {
    let ids = ((try? FS.list(root + "/containers")) ?? []).filter { $0.count == 64 }
    if !ids.isEmpty {
      _ = try? Subprocess.run(
        Self.berth, args: [Self.berth, "--root", root, "--runroot", runRoot, "rm", "-f"] + ids,
        env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], timeoutNanoseconds: 60_000_000_000)
    }
    // Whatever a failed `rm` left mounted goes before the tree (a live overlay would lose its layers).
    let table = (try? FS.readText("/proc/self/mounts")) ?? ""
    let points = table.split(separator: "\n").compactMap { line -> String? in
      let fields = line.split(separator: " ")
      return fields.count > 1 && fields[1].hasPrefix(directory + "/") ? String(fields[1]) : nil
    }
    for point in points.sorted(by: { $0.count > $1.count }) { umount2(point, Int32(MNT_DETACH)) }
    try? FS.removeTree(directory)
    try? FS.removeTree(runRoot)
  }

  /// What a finished `berth` run left.
  struct Result: Sendable, CustomStringConvertible {
    var code: Int32
    var stdout: String
    var stderr: String
    var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    var description: String { "exit \(code)\n--- stdout:\n\(stdout)\n--- stderr:\n\(stderr)" }
  }

  /// Runs `berth ARGS` on a thread of its own (never blocking the concurrency pool).
  func run(_ arguments: [String]) async throws -> Result {
    let argv = [Self.berth, "--root", root, "--runroot", runRoot] + arguments
    return try await withCheckedThrowingContinuation { continuation in
      let thread = Thread {
        do {
          let result = try Subprocess.run(
            argv[0], args: argv, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8"],
            timeoutNanoseconds: 120_000_000_000)
          continuation.resume(returning: Result(
            code: result.status.shellCode, stdout: String(decoding: result.output, as: UTF8.self),
            stderr: String(decoding: result.error, as: UTF8.self)))
        } catch {
          continuation.resume(throwing: error)
        }
      }
      thread.start()
    }
  }

  func run(_ arguments: String...) async throws -> Result { try await run(arguments) }

  /// Runs `berth ARGS` and returns its stdout; throws (with its output) unless it exits 0.
  @discardableResult
  func ok(_ arguments: [String]) async throws -> String {
    let result = try await run(arguments)
    guard result.code == 0 else {
      throw BerthError(.invalidState, "berth \(arguments.joined(separator: " ")): \(result)")
    }
    return result.stdout
  }

  @discardableResult
  func ok(_ arguments: String...) async throws -> String { try await ok(arguments) }

  /// `run -d ARGS`: the new container's ID.
  func detached(_ arguments: String...) async throws -> String {
    try await ok(["run", "-d"] + arguments).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// `inspect NAME` as one JSON object.
  func inspect(_ name: String) async throws -> [String: Any] {
    let text = try await ok("inspect", name)
    guard let array = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]], array.count == 1 else {
      throw BerthError(.invalidState, "inspect \(name) did not print one object: \(text)")
    }
    return array[0]
  }

  /// Waits until `berth inspect -f TEMPLATE NAME` prints `expected` (at most `seconds`).
  func waitFor(_ name: String, _ template: String, toBe expected: String, seconds: Double = 10) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    var last = ""
    while Date() < deadline {
      last = try await ok("inspect", "-f", template, name).trimmingCharacters(in: .whitespacesAndNewlines)
      if last == expected { return }
      try await Task.sleep(nanoseconds: 100_000_000)
    }
    throw BerthError(.invalidState, "\(name): \(template) is \(quoted(last)), not \(quoted(expected)), after \(seconds) s")
  }
}

extension Trait where Self == ConditionTrait {
  /// Needs root, busybox and the built berth.
  static var queryContainers: Self {
    .enabled(if: QuerySandbox.unavailableReason == nil, Comment(rawValue: QuerySandbox.unavailableReason ?? ""))
  }
}

/// A table as berth prints it (columns aligned, at least three spaces apart): one dictionary
/// per row, by header. Cells are cut at the header's column starts.
func queryTable(_ text: String) -> [[String: String]] {
  let lines = text.split(separator: "\n").map { Array($0) }
  guard let header = lines.first else { return [] }
  var starts: [Int] = []
  for index in header.indices where header[index] != " " && (index == 0 || (index >= 2 && header[index - 1] == " " && header[index - 2] == " ")) {
    starts.append(index)
  }
  func cell(_ line: [Character], _ column: Int) -> String {
    let start = min(starts[column], line.count)
    let end = column + 1 < starts.count ? min(starts[column + 1], line.count) : line.count
    return String(line[start..<end]).trimmingCharacters(in: .whitespaces)
  }
  let names = starts.indices.map { cell(header, $0) }
  return lines.dropFirst().map { line in
    Dictionary(names.indices.map { (names[$0], cell(line, $0)) }, uniquingKeysWith: { first, _ in first })
  }
}
