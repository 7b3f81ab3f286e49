import BerthOCI
import BerthOS
import Foundation

/// Where a Berth store keeps things on disk (DESIGN.md, "Data on disk"):
///
///     <root>/berth.db                       metadata (SQLite, WAL)
///     <root>/content/blobs/sha256/<hex>     manifests, configs, layer blobs as pulled
///     <root>/content/ingest/<random>        blobs being written (renamed into blobs/ when verified)
///     <root>/layers/<chain-id hex>/diff     each layer unpacked once, an overlay lowerdir
///     <root>/layers/.tmp-<random>/          layers being unpacked (renamed when verified)
///     <root>/layers/<chain-id hex>.lock     held while a layer is unpacked (any process)
///     <root>/store.lock                     shared by writers, exclusive for garbage collection
public struct StoreLayout: Sendable {
  public let root: String

  public init(root: String) { self.root = Path.absolute(root) }

  /// /var/lib/berth for root, $XDG_DATA_HOME/berth (or ~/.local/share/berth) otherwise;
  /// BERTH_ROOT overrides both.
  public static var defaultRoot: String {
    let environment = ProcessInfo.processInfo.environment
    if let root = environment["BERTH_ROOT"], !root.isEmpty { return root }
    if getuid() == 0 { return "/var/lib/berth" }
    if let data = environment["XDG_DATA_HOME"], !data.isEmpty { return data + "/berth" }
    return NSHomeDirectory() + "/.local/share/berth"
  }

  public var database: String { root + "/berth.db" }
  public var blobs: String { root + "/content/blobs/sha256" }
  public var ingest: String { root + "/content/ingest" }
  public var layers: String { root + "/layers" }
  public var storeLock: String { root + "/store.lock" }

  public func blob(_ digest: Digest) -> String { blobs + "/" + digest.encoded }
  public func layer(_ chainID: Digest) -> String { layers + "/" + chainID.encoded }
  /// The unpacked content of a layer: what overlay stacks.
  public func layerDiff(_ chainID: Digest) -> String { layer(chainID) + "/diff" }
  public func layerLock(_ chainID: Digest) -> String { layers + "/" + chainID.encoded + ".lock" }

  /// Makes the directories (mode 0700 for the root: it holds other users' image content).
  public func prepare() throws {
    try FS.makeDirectories(root, mode: 0o700)
    for dir in [blobs, ingest, layers] { try FS.makeDirectories(dir, mode: 0o700) }
  }
}
