import BerthOS

extension Builder {
  /// The context's .dockerignore as a test on relative paths (true: left out of COPY and ADD);
  /// nil when the context has no patterns.
  static func contextExclusion(context: String) throws -> (@Sendable (String, Bool) -> Bool)? {
    let matcher = try IgnoreMatcher.load(contextDirectory: context)
    guard !matcher.patterns.isEmpty else { return nil }
    return { path, isDirectory in matcher.matches(path, isDirectory: isDirectory) }
  }
}
