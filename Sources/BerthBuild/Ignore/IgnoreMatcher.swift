import BerthOS

/// `.dockerignore` patterns with Docker's rules: each line is cleaned like Go's filepath.Clean
/// and loses a leading `/`; `#` in column 1 starts a comment; `!` re-includes; the last
/// pattern that matches a path decides; a pattern matching a directory matches everything in
/// it; `*` and `?` stop at `/`, `**` spans any number of directories, `[...]` is a class and
/// `\` quotes the next character.
///
/// The Dockerfile and `.dockerignore` are read by the builder whatever the patterns say; when
/// listed, they are left out of `COPY .` like any other file (Docker's behaviour).
public struct IgnoreMatcher: Sendable {
  /// One cleaned pattern.
  public struct Pattern: Sendable, Equatable {
    /// As cleaned, without the `!`.
    public let text: String
    /// A `!` pattern: re-includes what it matches.
    public let isExclusion: Bool
    let glob: PathGlob
  }

  public let patterns: [Pattern]

  /// Whether some pattern re-includes (`!`), so an excluded directory may still hold included files.
  public var hasExclusions: Bool { patterns.contains(where: \.isExclusion) }

  /// Patterns as they appear in a .dockerignore (cleaned again here; empty ones skipped).
  public init(patterns: [String]) throws {
    var compiled: [Pattern] = []
    for raw in patterns {
      var text = raw.trimmingWhitespace()
      if text.isEmpty { continue }
      var exclusion = false
      if text.hasPrefix("!") {
        exclusion = true
        text = String(text.dropFirst()).trimmingWhitespace()
        guard !text.isEmpty else { throw BerthError(.invalidArgument, "illegal exclusion pattern: \"!\" (a ! needs a pattern after it)") }
      }
      text = IgnoreMatcher.clean(text)
      if text.count > 1 && text.hasPrefix("/") { text.removeFirst() }
      let glob = try PathGlob(text)
      compiled.append(Pattern(text: text, isExclusion: exclusion, glob: glob))
    }
    self.patterns = compiled
  }

  /// The patterns of a .dockerignore file's text.
  public init(dockerignore text: String) throws {
    try self.init(patterns: IgnoreMatcher.patternLines(text))
  }

  /// The `.dockerignore` of a context directory; no file means no patterns.
  public static func load(contextDirectory: String) throws -> IgnoreMatcher {
    let path = contextDirectory + "/.dockerignore"
    guard FS.exists(path) else { return try IgnoreMatcher(patterns: []) }
    let text = try FS.readText(path)
    do {
      return try IgnoreMatcher(dockerignore: text)
    } catch let error as BerthError {
      throw error.prefixed(path)
    }
  }

  /// The pattern lines of a .dockerignore: BOM removed, comments and blank lines dropped,
  /// whitespace trimmed (cleaning happens in `init(patterns:)`).
  public static func patternLines(_ text: String) -> [String] {
    var body = Substring(text)
    if body.hasPrefix("\u{FEFF}") { body = body.dropFirst() }
    return body.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).compactMap { line in
      if line.hasPrefix("#") { return nil }
      let trimmed = line.trimmingWhitespace()
      return trimmed.isEmpty ? nil : trimmed
    }
  }

  /// Whether `relativePath` (from the context root, `/`-separated) is excluded: the last pattern
  /// matching it or one of its parent directories decides. `isDirectory` does not change the
  /// answer (Docker cleans `dir/` to `dir`); it is here for callers' clarity.
  public func matches(_ relativePath: String, isDirectory: Bool = false) -> Bool {
    let path = IgnoreMatcher.clean(relativePath)
    let components = path.split(separator: "/").map(String.init)
    var parents: [String] = []
    var prefix = ""
    for component in components.dropLast() {
      prefix = prefix.isEmpty ? component : prefix + "/" + component
      parents.append(prefix)
    }
    var excluded = false
    for pattern in patterns {
      // An include pattern cannot change an excluded path, nor an exclusion an included one.
      if pattern.isExclusion != excluded { continue }
      var hit = pattern.glob.matches(path)
      if !hit { hit = parents.contains(where: pattern.glob.matches) }
      if hit { excluded = !pattern.isExclusion }
    }
    return excluded
  }

  /// Whether a `!` pattern could re-include something inside `directory` (then a walker must
  /// look inside an excluded directory instead of skipping it).
  public func mayReinclude(under directory: String) -> Bool {
    let components = IgnoreMatcher.clean(directory).split(separator: "/").map(String.init)
    return patterns.contains { $0.isExclusion && $0.glob.mayMatchInside(components) }
  }

  /// Go's filepath.Clean for `/` paths: no repeated, leading-`./` or trailing slashes, `.`
  /// removed, `..` folded; "" becomes ".".
  public static func clean(_ path: String) -> String {
    let rooted = path.hasPrefix("/")
    var parts: [Substring] = []
    for part in path.split(separator: "/", omittingEmptySubsequences: true) {
      if part == "." { continue }
      if part == ".." {
        if let last = parts.last, last != ".." {
          parts.removeLast()
        } else if !rooted {
          parts.append(part)
        }
        continue
      }
      parts.append(part)
    }
    let joined = parts.joined(separator: "/")
    if rooted { return "/" + joined }
    return joined.isEmpty ? "." : joined
  }
}
