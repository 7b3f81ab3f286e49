import BerthImages
import BerthOS
import Foundation

/// Where the engine keeps containers and volumes, beside the image store (DESIGN.md, "Data on
/// disk"):
///
///     <root>/containers/<id>/               one container: what survives a reboot
///         config.json                       the OCI bundle's spec (root.path = "rootfs")
///         rootfs/                           the overlay mount (merged view)
///         upper/ work/                      the overlay's writable layer
///         hostname hosts resolv.conf        bind-mounted into the container
///         <id>-json.log[.N]                 the json-file log, as Docker names it
///         monitor.conf                      berth-monitor's configuration
///         state/                            files the monitor writes (docs/monitor.md)
///     <root>/volumes/<name>/_data           a local volume's content
///     <runroot>/<id>/attach                 the monitor's attach socket (gone after a reboot)
///     <runroot>/locks/<id>                  held by any process changing that container
///     <runroot>/runtime/<runtime name>/     the OCI runtime's --root
///
/// The run root is /run/berth for the default store. Another store (tests, benchmarks) gets
/// /run/berth-<hash of its root>: under /run it is still cleared by a reboot, and it stays
/// short enough for unix socket paths (108 bytes).
public struct EngineLayout: Sendable {
  public let store: StoreLayout
  public let runRoot: String

  public init(root: String, runRoot: String? = nil) {
    store = StoreLayout(root: root)
    self.runRoot = Path.absolute(runRoot ?? Self.defaultRunRoot(for: store.root))
  }

  public var root: String { store.root }

  /// $BERTH_RUNROOT, else as described above.
  public static func defaultRunRoot(for root: String) -> String {
    if let runRoot = ProcessInfo.processInfo.environment["BERTH_RUNROOT"], !runRoot.isEmpty { return runRoot }
    if root == "/var/lib/berth" { return "/run/berth" }
    return hashedRunRoot(for: root)
  }

  /// /run/berth-<hash of root>, the run root of a store other than the default one when
  /// none is given.
  public static func hashedRunRoot(for root: String) -> String {
    // FNV-1a: stable across runs and processes (Swift's Hasher is seeded per process).
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in root.utf8 {
      hash ^= UInt64(byte)
      hash = hash &* 0x100_0000_01b3
    }
    let hex = String(hash, radix: 16)
    return "/run/berth-" + String(repeating: "0", count: 16 - hex.count) + hex
  }

  // MARK: containers

  public var containers: String { root + "/containers" }
  public func container(_ id: String) -> String { containers + "/" + id }
  public func bundleConfig(_ id: String) -> String { container(id) + "/config.json" }
  public func rootfs(_ id: String) -> String { container(id) + "/rootfs" }
  public func upper(_ id: String) -> String { container(id) + "/upper" }
  public func work(_ id: String) -> String { container(id) + "/work" }
  public func log(_ id: String) -> String { container(id) + "/\(id)-json.log" }
  public func monitorConfig(_ id: String) -> String { container(id) + "/monitor.conf" }
  public func monitorState(_ id: String) -> String { container(id) + "/state" }
  public func containerLock(_ id: String) -> String { runRoot + "/locks/" + id }

  /// The per-container directory under the run root (the attach socket).
  public func containerRun(_ id: String) -> String { runRoot + "/" + id }
  public func attachSocket(_ id: String) -> String { containerRun(id) + "/attach" }
  /// The `--root` given to an OCI runtime: one directory per runtime name.
  public func runtimeRoot(_ runtimeName: String) -> String { runRoot + "/runtime/" + runtimeName }

  // MARK: volumes

  public var volumes: String { root + "/volumes" }
  public func volume(_ name: String) -> String { volumes + "/" + name }
  public func volumeData(_ name: String) -> String { volume(name) + "/_data" }

  /// Makes the store's and the engine's directories.
  public func prepare() throws {
    try store.prepare()
    try FS.makeDirectories(containers, mode: 0o710)
    try FS.makeDirectories(volumes, mode: 0o701)
    try FS.makeDirectories(runRoot + "/locks", mode: 0o700)
  }
}
