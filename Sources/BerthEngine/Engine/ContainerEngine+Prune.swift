import BerthOS
import Foundation

/// Docker's `--filter` for `container prune` (and `system prune`): `until=TIME` (created
/// before), `label=KEY[=VALUE]`, `label!=KEY[=VALUE]`.
public struct ContainerPruneFilters: Sendable {
  var until: DockerTime?
  var labels: [String] = []
  var notLabels: [String] = []

  public init(_ words: [String], now: DockerTime = .now()) throws {
    for word in words {
      guard let equals = word.firstIndex(of: "=") else {
        throw BerthError(.invalidArgument, "bad format of filter (expected name=value)")
      }
      let key = String(word[..<equals]).lowercased()
      let value = String(word[word.index(after: equals)...])
      switch key {
      case "until": until = try DockerTime.parse(value, option: "until", now: now)
      case "label": labels.append(value)
      case "label!": notLabels.append(value)
      default: throw BerthError(.invalidArgument, "invalid filter '\(key)'")
      }
    }
  }

  func matches(_ record: ContainerRecord) -> Bool {
    if let until, let created = try? DockerTime.parse(record.created, option: "created"), !(created < until) { return false }
    for label in labels where !VolumeFilters.hasLabel(label, record.labels) { return false }
    for label in notLabels where VolumeFilters.hasLabel(label, record.labels) { return false }
    return true
  }
}

extension ContainerEngine {
  /// `berth container prune`: removes every container that is not running (created, exited,
  /// dead) and passes the filters, with its anonymous volumes kept (as Docker keeps them).
  /// Returns the removed IDs and the bytes their writable layers held.
  public func pruneContainers(filters: ContainerPruneFilters) async throws -> (removed: [String], reclaimed: Int64) {
    var removed: [String] = []
    var reclaimed: Int64 = 0
    for record in try containers.all().reversed() where filters.matches(record) {
      guard !state(of: record.id).isRunning else { continue }
      let size = writableLayerSize(record.id)
      do {
        try await remove(record, force: false, removeVolumes: false)
      } catch let error as BerthError where error.code == .invalidState || error.code == .notFound {
        continue  // started or removed meanwhile
      }
      removed.append(record.id)
      reclaimed += size
    }
    return (removed, reclaimed)
  }

  /// The bytes in a container's upper directory (Docker's SizeRw); 0 when it cannot be read.
  public func writableLayerSize(_ id: String) -> Int64 {
    (try? DirectorySize.of(layout.upper(id))) ?? 0
  }
}
