import BerthOS

/// Docker's variable substitution and quote removal for one word (its shell lexer):
/// `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`,
/// `${VAR:?msg}`, `${VAR?msg}`, `${VAR#pat}`, `${VAR##pat}`, `${VAR%pat}`, `${VAR%%pat}`,
/// `${VAR/pat/repl}`, `${VAR//pat/repl}` (patterns: `*`, `?`); `$1`, `$@` and the other special
/// parameters expand to "" like any unset name; single quotes protect, double quotes group and still
/// expand, the escape character quotes the next one. Unset variables expand to "".
public struct WordExpander: Sendable {
  public var escape: Character

  public init(escape: Character = "\\") {
    self.escape = escape
  }

  /// The word with variables expanded and quotes removed (one word: no field splitting).
  /// Errors name the word: `failed to process "${A": syntax error: missing '}'`.
  public func expand(_ word: String, environment: [String: String]) throws -> String {
    var lexer = WordLexer(word, escape: escape, environment: environment)
    return try Self.naming(word) { try lexer.expandWord().text }
  }

  /// A COPY/ADD heredoc body (unquoted delimiter) with variables expanded, as Docker does it:
  /// quotes are plain text, but `\` still quotes the next character (and is removed), whatever
  /// the escape directive says.
  public func expandHeredoc(_ body: String, environment: [String: String]) throws -> String {
    var lexer = WordLexer(body, escape: "\\", environment: environment)
    lexer.quotesAreLiteral = true
    return try Self.naming(body) { try lexer.expandWord().text }
  }

  /// The word split into fields as Docker does for multi-value instructions: whitespace from
  /// an unquoted expansion or in the word separates fields; quoted text never splits.
  public func expandFields(_ word: String, environment: [String: String]) throws -> [String] {
    var lexer = WordLexer(word, escape: escape, environment: environment)
    return try Self.naming(word) { try lexer.expandWord().fields }
  }

  private static func naming<T>(_ word: String, _ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let error as BerthError {
      throw BerthError(error.code, "failed to process \"\(word)\": \(error.message)")
    }
  }

  /// The variable names a word refers to (for cache keys: which build args a step uses).
  public func referencedNames(in word: String) -> Set<String> {
    var lexer = WordLexer(word, escape: escape, environment: [:])
    lexer.recordNames = true
    _ = try? lexer.expandWord()
    return lexer.names
  }
}
