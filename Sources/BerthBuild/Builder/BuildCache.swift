import BerthArchive
import BerthImages
import BerthJSON
import BerthOCI
import BerthOS
import Crypto
import Foundation

/// What a step produced, kept so that the same step on the same parent is not run again.
struct CacheEntry: Codable, Sendable, Equatable {
  /// The step's layer (nil for a step that changes only the config).
  var layer: CachedLayer?
  /// The image's container config after the step.
  var config: ContainerConfig
  /// The step's history entry (its `created` time is when the step first ran).
  var history: History
}

/// A ``CommittedLayer`` as the cache stores it.
struct CachedLayer: Codable, Sendable, Equatable {
  var diffID: BerthOCI.Digest
  var chainID: BerthOCI.Digest
  var blob: BerthOCI.Digest
  var blobSize: Int64
  var size: Int64

  init(_ layer: CommittedLayer) {
    diffID = layer.diffID
    chainID = layer.chainID
    blob = layer.blob
    blobSize = layer.blobSize
    size = layer.size
  }

  var committed: CommittedLayer {
    CommittedLayer(diffID: diffID, chainID: chainID, blob: blob, blobSize: blobSize, size: size)
  }
}

/// The build cache: one JSON file per step, named by the step's key, in `<root>/build-cache`.
///
/// A key is the SHA-256 of the parent state's ID, the instruction after expansion, the build
/// arguments the step sees, and for COPY and ADD the content (paths, types, modes, owners,
/// data) of what is copied. A key's entry is the state the step leads to, so it is also the
/// next step's parent ID: a chain of keys names a chain of states. An entry whose layer (or
/// layer blob) is gone, because `image prune` collected it, is a miss.
struct BuildCache: Sendable {
  let directory: String
  let store: ImageStore

  init(store: ImageStore) {
    self.store = store
    directory = store.layout.root + "/build-cache"
  }

  static func key(_ parts: [String]) -> String {
    var hasher = SHA256()
    for part in parts {
      hasher.update(data: Array(part.utf8))
      hasher.update(data: [0])
    }
    return hexString(hasher.finalize())
  }

  /// The entry of `key` when everything it needs is still in the store.
  func lookup(_ key: String) -> CacheEntry? {
    guard let bytes = try? FS.read(path(key)), let entry = try? JSON.decode(CacheEntry.self, from: bytes) else { return nil }
    if let layer = entry.layer {
      guard (try? store.layers.contains(layer.chainID)) == true, store.content.contains(layer.blob) else { return nil }
    }
    return entry
  }

  func save(_ key: String, _ entry: CacheEntry) throws {
    try FS.makeDirectories(directory, mode: 0o700)
    try FS.writeAtomically(path(key), try JSON.encode(entry), mode: 0o600)
  }

  /// The image made last time from the state `key` (with the same labels): reused when it is
  /// still in the store.
  func image(_ key: String) -> BerthOCI.Digest? {
    guard let text = try? FS.readText(path("image-" + key), trimmingNewline: true), let id = try? BerthOCI.Digest(parsing: text),
      (try? store.image(id: id)) != nil
    else { return nil }
    return id
  }

  func saveImage(_ key: String, _ id: BerthOCI.Digest) throws {
    try FS.makeDirectories(directory, mode: 0o700)
    try FS.writeAtomically(path("image-" + key), Array((id.description + "\n").utf8), mode: 0o600)
  }

  private func path(_ key: String) -> String { directory + "/" + key + ".json" }
}
