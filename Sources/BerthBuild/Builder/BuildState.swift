import BerthImages
import BerthOCI
import BerthOS

/// The image a stage has built so far: a base image (or none for scratch), the layers the
/// build added on it, and the config (with its history).
struct BuildState: Sendable {
  /// The FROM image; nil for scratch (or a stage on scratch).
  var base: ImageRecord?
  /// The base image's layers, bottom first.
  var baseChainIDs: [Digest]
  /// Layers the build made on top of the base, bottom first.
  var layers: [CommittedLayer]
  var config: ImageConfig
  /// Names this state for the cache: the base image's ID, then each step's cache key.
  var id: String

  /// An empty image (FROM scratch).
  static func scratch(platform: Platform) -> BuildState {
    BuildState(
      base: nil, baseChainIDs: [], layers: [],
      config: ImageConfig(architecture: platform.architecture, os: platform.os, variant: platform.variant, rootfs: RootFS(diff_ids: [])),
      id: "scratch")
  }

  /// The state of an image in the store.
  static func image(_ record: ImageRecord, store: ImageStore) throws -> BuildState {
    var config = try store.config(of: record).config
    // A base's ONBUILD triggers are for images built FROM it, not for the images after those.
    config.config?.OnBuild = nil
    return BuildState(base: record, baseChainIDs: try store.chainIDs(of: record), layers: [], config: config, id: record.id.description)
  }

  /// The chain ID of the top layer (nil for an image with no layer).
  var topChainID: Digest? { layers.last?.chainID ?? baseChainIDs.last }

  /// The overlay lowerdirs of this state, top first.
  func lowerDirectories(_ layout: StoreLayout) -> [String] {
    (baseChainIDs + layers.map(\.chainID)).reversed().map { layout.layerDiff($0) }
  }

  var containerConfig: ContainerConfig {
    get { config.config ?? ContainerConfig() }
    set { config.config = newValue }
  }

  /// The environment for expanding words: the image's ENV over the build args in scope.
  func expansionEnvironment(args: [String: String]) -> [String: String] {
    var result = args
    for entry in containerConfig.Env ?? [] {
      let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      result[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
    }
    return result
  }

  /// Applies a step's result (run now or found in the cache).
  mutating func apply(_ entry: CacheEntry, key: String) {
    if let layer = entry.layer {
      layers.append(layer.committed)
      config.rootfs.diff_ids.append(layer.diffID.description)
    }
    config.config = entry.config
    config.history = (config.history ?? []) + [entry.history]
    config.created = entry.history.created
    id = key
  }
}
