import BerthImages
import BerthOCI
import BerthOS
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The `berth` executable SwiftPM built next to the test bundle.
enum BerthBinary {
  static let path: String = {
    var candidates: [String] = []
    if let exe = try? FS.readLink("/proc/self/exe") { candidates.append(exe) }
    candidates += CommandLine.arguments.prefix(1)
    for candidate in candidates {
      // ".../debug/berthPackageTests.xctest" (a file on Linux), or a path inside one.
      var url = URL(fileURLWithPath: candidate)
      while url.pathComponents.count > 1 {
        if url.pathExtension == "xctest" {
          return url.deletingLastPathComponent().path + "/berth"
        }
        url = url.deletingLastPathComponent()
      }
      let sibling = URL(fileURLWithPath: candidate).deletingLastPathComponent().path + "/berth"
      if access(sibling, X_OK) == 0 { return sibling }
    }
    return "berth"
  }()

  /// Why the end-to-end tests cannot run here, or nil.
  static var unavailableReason: String? {
    if access(path, X_OK) != 0 { return "the berth executable is not at \(path): build with --build-tests" }
    return nil
  }
}

extension Trait where Self == ConditionTrait {
  /// Needs the berth binary (always built with the tests).
  static var berthBuilt: Self {
    .enabled(if: BerthBinary.unavailableReason == nil, Comment(rawValue: BerthBinary.unavailableReason ?? ""))
  }

  /// Needs the registry fixture: docker-registry installed, root.
  static var registryAvailable: Self {
    let reason = BerthBinary.unavailableReason ?? RegistryFixture.unavailableReason
    return .enabled(if: reason == nil, Comment(rawValue: reason ?? ""))
  }

  /// Needs root (mounts, overlay whiteouts, trusted.* xattrs).
  static var needsRoot: Self {
    let reason = BerthBinary.unavailableReason ?? (geteuid() == 0 ? nil : "needs root (mounts, whiteout devices, trusted.* xattrs)")
    return .enabled(if: reason == nil, Comment(rawValue: reason ?? ""))
  }

  /// Needs a program in PATH.
  static func needsProgram(_ name: String) -> Self {
    let reason = BerthBinary.unavailableReason ?? RegistryFixture.unavailableReason
      ?? (Processes.which(name) == nil ? "\(name) is not installed" : nil)
    return .enabled(if: reason == nil, Comment(rawValue: reason ?? ""))
  }
}

/// One test's world: its own store root (`BERTH_ROOT`) and run root, its own Docker config directory
/// (credentials), no system registries configuration. Removed afterwards.
struct Sandbox: Sendable {
  let directory: String

  var root: String { directory + "/root" }
  var dockerConfig: String { directory + "/docker-config" }
  var credentialsFile: String { dockerConfig + "/config.json" }
  var scratch: String { directory + "/scratch" }
  var layout: StoreLayout { StoreLayout(root: root) }

  /// Runs `body` with a fresh sandbox; removes it (and unmounts anything below it) after.
  static func with<T>(_ label: String = "e2e", _ body: (Sandbox) async throws -> T) async throws -> T {
    let directory = try RegistrySupport.makeTemporaryDirectory(prefix: "berth-img-\(label)")
    let sandbox = Sandbox(directory: directory)
    defer { Processes.removeTree(directory) }
    try FS.makeDirectories(sandbox.dockerConfig, mode: 0o700)
    try FS.makeDirectories(sandbox.scratch)
    return try await body(sandbox)
  }

  var environment: [String: String] {
    [
      "PATH": Processes.path,
      "HOME": directory,
      "BERTH_ROOT": root,
      // Its own run root too: else the engine makes /run/berth-<hash of root> and leaves it.
      "BERTH_RUNROOT": directory + "/run",
      "DOCKER_CONFIG": dockerConfig,
      "BERTH_REGISTRIES_CONFIG": directory + "/no-registries.json",
      "TMPDIR": scratch,
      "LC_ALL": "C.UTF-8",
    ]
  }

  /// Runs `berth ARGS` (whatever its exit status).
  func run(_ arguments: [String], input: [UInt8] = [], environment extra: [String: String] = [:]) async throws -> CommandResult {
    try await Processes.run(
      BerthBinary.path, arguments, environment: environment.merging(extra) { _, new in new }, input: input)
  }

  func run(_ arguments: String..., input: [UInt8] = []) async throws -> CommandResult {
    try await run(arguments, input: input)
  }

  /// Runs `berth ARGS` and throws (showing its output) unless it exits 0.
  @discardableResult
  func ok(_ arguments: [String], input: [UInt8] = []) async throws -> CommandResult {
    let result = try await run(arguments, input: input)
    if result.code != 0 { throw CommandFailed(result: result) }
    return result
  }

  @discardableResult
  func ok(_ arguments: String..., input: [UInt8] = []) async throws -> CommandResult {
    try await ok(arguments, input: input)
  }

  /// `berth image inspect NAME` as a JSON object.
  func inspect(_ name: String) async throws -> [String: Any] {
    let result = try await ok("image", "inspect", name)
    let parsed = try JSONSerialization.jsonObject(with: Data(result.output))
    guard let array = parsed as? [[String: Any]], array.count == 1 else {
      throw BerthError(.invalidArgument, "inspect \(name) did not give one object: \(result.stdout)")
    }
    return array[0]
  }

  /// The full IDs `berth images -q --no-trunc` lists.
  func imageIDs() async throws -> [String] {
    try await ok("images", "-q", "--no-trunc").lines
  }

  /// The store, opened directly.
  func store() throws -> ImageStore { try ImageStore(root: root) }

  // MARK: what is on disk

  /// Names in content/blobs/sha256.
  var blobFiles: Set<String> { Set((try? FS.list(layout.blobs)) ?? []) }
  /// Names in content/ingest.
  var ingestFiles: [String] { (try? FS.list(layout.ingest)) ?? [] }
  /// Unpacked layers (chain IDs) under layers/, without lock files and staging dirs.
  var layerDirectories: Set<String> {
    Set(((try? FS.list(layout.layers)) ?? []).filter { !$0.hasSuffix(".lock") && !$0.hasPrefix(".tmp-") })
  }
  /// Staging directories of layers being unpacked.
  var stagingDirectories: [String] { ((try? FS.list(layout.layers)) ?? []).filter { $0.hasPrefix(".tmp-") } }

  /// Checks that a failed command left nothing behind: no image, no ingest file, no staging
  /// directory, no blob, no layer.
  func expectNothingStored(_ context: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    #expect(ingestFiles.isEmpty, "\(context): content/ingest holds \(ingestFiles)", sourceLocation: sourceLocation)
    #expect(stagingDirectories.isEmpty, "\(context): layers/ holds \(stagingDirectories)", sourceLocation: sourceLocation)
    let blobs = blobFiles
    #expect(blobs.isEmpty, "\(context): content/blobs holds \(blobs.sorted())", sourceLocation: sourceLocation)
    #expect(layerDirectories.isEmpty, "\(context): layers/ holds \(layerDirectories.sorted())", sourceLocation: sourceLocation)
    let listed = try await ok("images", "-q", "--no-trunc")
    #expect(listed.lines.isEmpty, "\(context): images lists \(listed.lines)", sourceLocation: sourceLocation)
    if FS.exists(layout.database) {
      #expect(try store().images().isEmpty, "\(context): the database records an image", sourceLocation: sourceLocation)
    }
  }
}

extension TestImage {
  /// The diffIDs, as inspect's RootFS.Layers shows them.
  var diffIDs: [String] { layers.map(\.diffID) }
  /// The chain IDs' hex, as layers/ names them.
  var chainIDHexes: [String] {
    LayerStore.chainIDs(layers.map { (try? BerthOCI.Digest(parsing: $0.diffID)) ?? BerthOCI.Digest(algorithm: "sha256", encoded: "") })
      .map(\.encoded)
  }
  /// Hex of the config digest: the image ID without "sha256:".
  var idHex: String { String(configDigest.dropFirst("sha256:".count)) }
}

extension String {
  /// "sha256:abc…" → "abc…".
  var hex: String { hasPrefix("sha256:") ? String(dropFirst(7)) : self }
}

/// Docker's SIZE column: go-units HumanSizeWithPrecision(size, 3) ("%.3g" with decimal units).
func dockerHumanSize(_ bytes: Int64) -> String {
  let units = ["B", "kB", "MB", "GB", "TB", "PB"]
  var value = Double(bytes)
  var unit = 0
  while value >= 1000 && unit < units.count - 1 {
    value /= 1000
    unit += 1
  }
  return String(format: "%.3g", value) + units[unit]
}

/// A loopback port nothing listens on (bound, then closed).
func closedLoopbackPort() throws -> Int {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { throw BerthError.system("socket") }
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  address.sin_port = 0
  let bound = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
  }
  guard bound == 0 else { throw BerthError.system("bind") }
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  _ = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
  }
  return Int(UInt16(bigEndian: address.sin_port))
}
