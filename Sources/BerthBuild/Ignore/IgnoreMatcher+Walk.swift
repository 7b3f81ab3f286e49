#if canImport(Glibc)
import Glibc
#endif
import BerthOS

/// A file in a build context.
public struct ContextEntry: Sendable, Equatable {
  public enum Kind: Sendable, Equatable {
    case file
    case directory
    case symlink
    /// Devices, FIFOs, sockets.
    case other
  }

  /// From the context root, `/`-separated, no leading `./`.
  public var relativePath: String
  public var kind: Kind

  public init(relativePath: String, kind: Kind) {
    self.relativePath = relativePath
    self.kind = kind
  }
}

extension IgnoreMatcher {
  /// The entries of `contextDirectory` the patterns leave in, depth first, each directory's
  /// names in byte order (a parent comes before its contents). Symlinks are listed, not followed.
  /// An excluded directory is skipped unless a `!` pattern may re-include something in it; it is
  /// listed when something inside it is included (its files need their parent directories).
  public func includedEntries(inContext contextDirectory: String) throws -> [ContextEntry] {
    var entries: [ContextEntry] = []
    try walk(root: contextDirectory, relative: "", into: &entries)
    return entries
  }

  /// The relative paths of `includedEntries(inContext:)`.
  public func includedPaths(inContext contextDirectory: String) throws -> [String] {
    try includedEntries(inContext: contextDirectory).map(\.relativePath)
  }

  /// Adds the included entries under `relative` (a directory); returns whether it added any.
  @discardableResult
  private func walk(root: String, relative: String, into entries: inout [ContextEntry]) throws -> Bool {
    let directory = relative.isEmpty ? root : root + "/" + relative
    let names = try FS.list(directory).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    var added = false
    for name in names {
      let path = relative.isEmpty ? name : relative + "/" + name
      guard let info = try FS.lstatIfPresent(root + "/" + path) else { continue }
      let kind: ContextEntry.Kind
      switch info.st_mode & S_IFMT {
      case S_IFDIR: kind = .directory
      case S_IFREG: kind = .file
      case S_IFLNK: kind = .symlink
      default: kind = .other
      }
      let excluded = matches(path, isDirectory: kind == .directory)
      if kind == .directory {
        if excluded && !mayReinclude(under: path) { continue }
        let position = entries.count
        let inside = try walk(root: root, relative: path, into: &entries)
        if !excluded || inside {
          entries.insert(ContextEntry(relativePath: path, kind: .directory), at: position)
          added = true
        }
      } else if !excluded {
        entries.append(ContextEntry(relativePath: path, kind: kind))
        added = true
      }
    }
    return added
  }
}
