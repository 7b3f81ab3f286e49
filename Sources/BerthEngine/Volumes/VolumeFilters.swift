import BerthOS
import Foundation

/// Docker's `--filter key=value` for volumes. Values of one key are alternatives (any may
/// match); different keys must all match; every `label` filter must match.
public struct VolumeFilters: Sendable {
  /// The keys `volume ls` takes.
  public static let listKeys: Set<String> = ["dangling", "name", "driver", "label"]
  /// The keys `volume prune` takes (`all` is what `--all` sends to Docker's API).
  public static let pruneKeys: Set<String> = ["label", "label!", "all"]

  private var values: [String: [String]] = [:]

  /// Parses "key=value" words; a key not in `allowed` is an error, as with Docker.
  public init(_ words: [String], allowed: Set<String> = listKeys) throws {
    for word in words {
      guard let equals = word.firstIndex(of: "=") else {
        throw BerthError(.invalidArgument, "bad format of filter (expected name=value)")
      }
      // "label!=a=b" splits at its first "=": the key is "label!".
      let key = String(word[..<equals]).trimmingCharacters(in: .whitespaces).lowercased()
      let value = String(word[word.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
      if !allowed.contains(key) { throw BerthError(.invalidArgument, "invalid filter '\(key)'") }
      if key == "dangling" || key == "all" {
        guard Self.bool(value) != nil else {
          throw BerthError(.invalidArgument, "invalid filter '\(key)=\(value)'")
        }
      }
      values[key, default: []].append(value)
    }
  }

  public var isEmpty: Bool { values.isEmpty }

  /// The `all` filter's value (prune), when given.
  public var all: Bool? { values["all"]?.compactMap(Self.bool).contains(true) }

  /// Whether a volume passes. `inUse` says whether any container uses it.
  public func matches(_ volume: VolumeRecord, inUse: Bool) -> Bool {
    if let dangling = values["dangling"], !dangling.compactMap(Self.bool).contains(!inUse) { return false }
    if let names = values["name"], !names.contains(where: { Self.match($0, volume.name) }) { return false }
    if let drivers = values["driver"], !drivers.contains(where: { Self.match($0, volume.driver) }) { return false }
    for label in values["label"] ?? [] where !Self.hasLabel(label, volume.labels) { return false }
    for label in values["label!"] ?? [] where Self.hasLabel(label, volume.labels) { return false }
    return true
  }

  /// "key" (any value) or "key=value".
  static func hasLabel(_ filter: String, _ labels: [String: String]) -> Bool {
    if let equals = filter.firstIndex(of: "=") {
      return labels[String(filter[..<equals])] == String(filter[filter.index(after: equals)...])
    }
    return labels[filter] != nil
  }

  /// Docker's Args.Match: the exact text, or a regular expression found in `text`.
  static func match(_ pattern: String, _ text: String) -> Bool {
    if pattern == text { return true }
    guard let expression = try? NSRegularExpression(pattern: pattern) else { return false }
    return expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
  }

  static func bool(_ text: String) -> Bool? {
    switch text.lowercased() {
    case "1", "true": return true
    case "0", "false": return false
    default: return nil
    }
  }
}
