import BerthImages
import BerthJSON
import BerthOCI
import BerthOS
import Foundation

/// What `berth builder prune` removed.
public struct BuildCachePruneReport: Sendable, Equatable {
  /// The cache keys (step entries, image records, cache mounts) removed.
  public var removed: [String] = []
  /// Bytes freed: the entries, the cache mounts, and (with `all`) the layers only they kept.
  public var reclaimed: Int64 = 0
}

extension BuildCache {
  /// Without `all`: the entries that can no longer hit (their layer, blob or image is gone).
  /// With `all`: every entry and every `RUN --mount=type=cache` directory, then the layers and
  /// blobs no image uses (intermediate stages' layers the cache alone kept).
  ///
  /// Without `all` no garbage is collected: that would take the layers of intermediate stages
  /// that valid entries still point to.
  func prune(all: Bool, mountsDirectory: String) async throws -> BuildCachePruneReport {
    var report = BuildCachePruneReport()
    for name in (try? FS.list(directory)) ?? [] where name.hasSuffix(".json") {
      let key = String(name.dropLast(".json".count))
      let stale: Bool
      if key.hasPrefix("image-") {
        stale = image(String(key.dropFirst("image-".count))) == nil
      } else {
        stale = lookup(key) == nil
      }
      guard all || stale else { continue }
      let path = directory + "/" + name
      report.reclaimed += Int64((try? FS.lstatIfPresent(path))?.st_size ?? 0)
      if unlink(path) == 0 { report.removed.append(key) }
    }
    guard all else { return report }
    for name in (try? FS.list(mountsDirectory)) ?? [] {
      let path = mountsDirectory + "/" + name
      report.reclaimed += store.diskUsage(path)
      try FS.removeTree(path)
      report.removed.append(name)
    }
    report.reclaimed += try await store.collectGarbage().reclaimed
    return report
  }
}

/// `berth builder prune` and the build-cache part of `berth system prune`.
public enum BuildCachePruner {
  public static func prune(images: ImageStore, all: Bool) async throws -> BuildCachePruneReport {
    try await BuildCache(store: images).prune(all: all, mountsDirectory: images.layout.root + "/build-mounts")
  }
}
