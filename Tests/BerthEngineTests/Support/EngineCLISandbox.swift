import BerthOS
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// One end-to-end test's engine: the `berth` built next to the tests with its own `--root` and
/// `--runroot`, a busybox image imported as "busybox". Containers it started are removed
/// (`rm -f`, which unmounts them) before the directory goes.
final class EngineCLISandbox: @unchecked Sendable {
  static let berth = InitBinary.productsDirectory + "/berth"

  /// Why these tests cannot run here, or nil.
  static var unavailableReason: String? {
    if geteuid() != 0 { return "needs root to run containers" }
    if access("/bin/busybox", X_OK) != 0 { return "needs busybox-static at /bin/busybox" }
    if access(berth, X_OK) != 0 { return "berth is not at \(berth): build with --build-tests" }
    return nil
  }

  let directory: String
  var root: String { directory + "/root" }
  var runRoot: String { directory + "/run" }

  private init(directory: String) {
    self.directory = directory
  }

  /// A new sandbox with the busybox image in its store.
  static func make() async throws -> EngineCLISandbox {
    let sandbox = EngineCLISandbox(directory: try InitRun.makeDirectory())
    chmod(sandbox.directory, 0o755)
    // The image's only layer is the tar of its root filesystem: what `import` takes.
    let image = try TestImage.busybox()
    let tarball = sandbox.directory + "/busybox.tar"
    try Data(image.layers[0].tar).write(to: URL(fileURLWithPath: tarball))
    try await sandbox.ok(["import", tarball, "busybox"])
    return sandbox
  }

  deinit {
    // Every container has a directory under <root>/containers, named by its ID.
    let ids = (try? FS.list(root + "/containers"))?.filter { $0.count == 64 } ?? []
    if !ids.isEmpty { _ = try? InitRun.complete(command(["rm", "-f"] + ids), seconds: 30) }
    // Whatever a failed `rm` left mounted goes first: removing the tree under a live overlay
    // would empty its lower layers and leave the mount behind.
    for mountPoint in Self.mounts(under: directory) { umount2(mountPoint, Int32(MNT_DETACH)) }
    try? FileManager.default.removeItem(atPath: directory)
  }

  /// Mount points below `directory`, deepest first.
  static func mounts(under directory: String) -> [String] {
    guard let table = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8) else { return [] }
    let points = table.split(separator: "\n").compactMap { line -> String? in
      let fields = line.split(separator: " ")
      guard fields.count > 1 else { return nil }
      let point = String(fields[1])  // spaces come as \040, which test paths do not have
      return point.hasPrefix(directory + "/") ? point : nil
    }
    return points.sorted { $0.count > $1.count }
  }

  /// The arguments to start `berth ARGS` with this sandbox's roots.
  func command(_ arguments: [String]) -> [String] {
    [Self.berth, "--root", root, "--runroot", runRoot] + arguments
  }

  /// Runs `berth ARGS` to completion (at most `seconds`; nil status when it took longer).
  func run(_ arguments: [String], seconds: Double = 20) async throws -> (status: BerthOS.ExitStatus?, stdout: String, stderr: String) {
    try await InitRun.finished(command(arguments), seconds: seconds)
  }

  /// Runs `berth ARGS` and returns its stdout; throws unless it exits 0.
  @discardableResult
  func ok(_ arguments: [String], seconds: Double = 20) async throws -> String {
    let result = try await run(arguments, seconds: seconds)
    guard result.status == .exited(0) else {
      throw BerthError(
        .invalidState, "berth \(arguments.joined(separator: " ")): \(String(describing: result.status))\n\(result.stderr)")
    }
    return result.stdout
  }

  /// `run -d ARGS`: the new container's ID.
  func runDetached(_ arguments: [String]) async throws -> String {
    try await ok(["run", "-d"] + arguments).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

extension Trait where Self == ConditionTrait {
  /// Needs root, busybox and the built berth.
  static var engineCLI: Self {
    .enabled(if: EngineCLISandbox.unavailableReason == nil, Comment(rawValue: EngineCLISandbox.unavailableReason ?? ""))
  }
}
