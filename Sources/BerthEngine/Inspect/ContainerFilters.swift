import BerthImages
import BerthOS
import Foundation

/// `ps --filter KEY=VALUE` (Docker's `/containers/json?filters=`): values of one key are
/// alternatives (any may match), different keys must all match, and every `label` must match.
///
/// Keys: `id` and `name` (regular expressions, as Docker matches them), `label`, `label!`,
/// `status`, `exited`, `ancestor`, `before`, `since`, `volume`, `health`, `network`, `is-task`.
public struct ContainerFilters: Sendable {
  static let keys: Set<String> = [
    "id", "name", "label", "label!", "status", "exited", "ancestor", "before", "since", "volume", "health",
    "network", "is-task",
  ]
  static let statuses: Set<String> = ["created", "restarting", "running", "removing", "paused", "exited", "dead"]
  static let healthStatuses: Set<String> = ["starting", "healthy", "unhealthy", "none"]

  /// Values by key, in the order given.
  let values: [String: [String]]

  /// Parses "KEY=VALUE" texts; the errors are worded like Docker's daemon's.
  public init(_ texts: [String]) throws {
    var values: [String: [String]] = [:]
    for text in texts {
      guard let equals = text.firstIndex(of: "=") else {
        throw BerthError(.invalidArgument, "bad format of filter (expected name=value)")
      }
      let key = String(text[..<equals]).lowercased().trimmingCharacters(in: .whitespaces)
      values[key, default: []].append(String(text[text.index(after: equals)...]))
    }
    for key in values.keys.sorted() where !Self.keys.contains(key) {
      throw BerthError(.invalidArgument, "invalid filter '\(key)'")
    }
    for value in values["status"] ?? [] where !Self.statuses.contains(value) {
      throw BerthError(.invalidArgument, "invalid filter 'status=\(value)'")
    }
    for value in values["health"] ?? [] where !Self.healthStatuses.contains(value) {
      throw BerthError(.invalidArgument, "Unrecognised filter value for health: \(value)")
    }
    for value in values["exited"] ?? [] where Int(value) == nil {
      throw BerthError(.invalidArgument, "invalid filter 'exited=\(value)'")
    }
    for value in values["is-task"] ?? [] where value != "true" && value != "false" {
      throw BerthError(.invalidArgument, "invalid filter 'is-task=\(value)'")
    }
    self.values = values
  }

  public var isEmpty: Bool { values.isEmpty }

  /// A status filter lists stopped containers without `-a`, as Docker's does.
  public var impliesAll: Bool { values["status"] != nil }

  /// The filters with what they name looked up: images for `ancestor`, containers for
  /// `before` and `since` (a missing one is an error, as in Docker).
  func resolved(engine: ContainerEngine) throws -> ResolvedContainerFilters {
    var ancestors: Set<String>?
    if let names = values["ancestor"] {
      // An image that is not in the store matches nothing rather than failing the listing.
      ancestors = Set(names.compactMap { try? engine.images.resolve($0).id.description })
    }
    let before = try values["before"].map { try $0.map { try engine.containers.resolve($0).created }.min() }
    let since = try values["since"].map { try $0.map { try engine.containers.resolve($0).created }.max() }
    return ResolvedContainerFilters(
      filters: self, ancestors: ancestors, createdBefore: before ?? nil, createdAfter: since ?? nil)
  }
}

/// ``ContainerFilters`` ready to test containers.
struct ResolvedContainerFilters {
  let filters: ContainerFilters
  let ancestors: Set<String>?
  let createdBefore: String?
  let createdAfter: String?

  private func values(_ key: String) -> [String]? { filters.values[key] }

  func matches(_ record: ContainerRecord, state: ContainerState) -> Bool {
    if let ids = values("id"), !ids.contains(where: { Self.regexMatches($0, record.id) }) { return false }
    if let names = values("name"),
      !names.contains(where: { Self.regexMatches($0, "/" + record.name) || Self.regexMatches($0, record.name) })
    {
      return false
    }
    if let labels = values("label"), !labels.allSatisfy({ Self.labelMatches($0, record.labels) }) { return false }
    if let labels = values("label!"), labels.contains(where: { Self.labelMatches($0, record.labels) }) { return false }
    if let statuses = values("status"), !statuses.contains(state.status.rawValue) { return false }
    if let codes = values("exited") {
      let ended = state.status == .exited && DockerTime.recorded(state.startedAt) != nil
      if !ended || !codes.contains(where: { Int($0) == state.exitCode }) { return false }
    }
    if let ancestors, !ancestors.contains(record.imageID) { return false }
    if let createdBefore, record.created >= createdBefore { return false }
    if let createdAfter, record.created <= createdAfter { return false }
    if let volumes = values("volume") {
      let names = record.mounts.flatMap { mount in
        [mount.request.target] + (mount.request.type == .tmpfs ? [] : [mount.request.source ?? ""])
      }
      if !volumes.contains(where: { names.contains($0) }) { return false }
    }
    if let health = values("health"),
      !health.contains(state.healthStatus(hasHealthcheck: record.healthcheck != nil))
    {
      return false
    }
    if let networks = values("network"), !networks.contains(where: { ContainerSummary.networks(of: record).contains($0) }) {
      return false
    }
    // No container is a swarm task.
    if let task = values("is-task"), !task.contains("false") { return false }
    return true
  }

  /// Docker's `Args.Match`: the same text, or a regular expression found in it.
  static func regexMatches(_ pattern: String, _ text: String) -> Bool {
    if pattern == text { return true }
    guard let expression = try? NSRegularExpression(pattern: pattern) else { return false }
    return expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
  }

  /// "KEY" (present) or "KEY=VALUE" (equal).
  static func labelMatches(_ filter: String, _ labels: [String: String]) -> Bool {
    guard let equals = filter.firstIndex(of: "=") else { return labels[filter] != nil }
    return labels[String(filter[..<equals])] == String(filter[filter.index(after: equals)...])
  }
}
