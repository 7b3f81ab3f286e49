/// One line of `berth diff`: what happened to a path of the container's file system.
public struct FileChange: Sendable, Equatable, CustomStringConvertible {
  public enum Kind: String, Sendable {
    case changed = "C"
    case added = "A"
    case deleted = "D"
  }

  public var kind: Kind
  /// Absolute, as the container sees it ("/etc/passwd").
  public var path: String

  public init(_ kind: Kind, _ path: String) {
    self.kind = kind
    self.path = path
  }

  /// "C /etc", as `docker diff` prints it.
  public var description: String { "\(kind.rawValue) \(path)" }
}
