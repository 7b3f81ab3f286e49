import BerthOS

/// A .dockerignore pattern matched against a whole `/`-separated path: `*` is any run of
/// characters but `/`, `?` one character but `/`, `**/` (or `**` before more pattern) any
/// number of leading directories including none, a final `**` anything, `[...]` a class
/// (`^` negates, ranges, `\` quotes), `\` quotes the next character.
struct PathGlob: Sendable, Equatable {
  enum Token: Sendable, Equatable {
    case literal(Unicode.Scalar)
    case star
    case question
    case directories
    case anything
    case set(ranges: [ClosedRange<Unicode.Scalar>], negated: Bool)
  }

  let tokens: [Token]
  let source: String
  /// `**` then only literal text: Docker matches any path ending with that text (`**foo`
  /// matches "a/xfoo"), and `**/foo` also matches "foo".
  let literalSuffix: String?

  init(_ pattern: String) throws {
    source = pattern
    let tail = pattern.dropFirst(2)
    if pattern.hasPrefix("**"), !tail.isEmpty, !tail.contains(where: { "*?[]\\".contains($0) }) {
      literalSuffix = String(tail)
    } else {
      literalSuffix = nil
    }
    let scalars = Array(pattern.unicodeScalars)
    var tokens: [Token] = []
    var index = 0
    while index < scalars.count {
      let scalar = scalars[index]
      index += 1
      switch scalar {
      case "*":
        guard index < scalars.count, scalars[index] == "*" else {
          tokens.append(.star)
          continue
        }
        index += 1
        if index < scalars.count, scalars[index] == "/" { index += 1 }
        tokens.append(index == scalars.count ? .anything : .directories)
      case "?":
        tokens.append(.question)
      case "\\":
        // A trailing `\` stands for itself.
        if index < scalars.count {
          tokens.append(.literal(scalars[index]))
          index += 1
        } else {
          tokens.append(.literal("\\"))
        }
      case "[":
        let (set, end) = try PathGlob.bracket(scalars, from: index, pattern: pattern)
        tokens.append(set)
        index = end
      default:
        tokens.append(.literal(scalar))
      }
    }
    self.tokens = tokens
  }

  private static func bracket(_ scalars: [Unicode.Scalar], from start: Int, pattern: String) throws -> (Token, Int) {
    var index = start
    var negated = false
    if index < scalars.count, scalars[index] == "^" {
      negated = true
      index += 1
    }
    var ranges: [ClosedRange<Unicode.Scalar>] = []
    func member() throws -> Unicode.Scalar {
      guard index < scalars.count else { throw badPattern(pattern) }
      var scalar = scalars[index]
      index += 1
      if scalar == "\\" {
        guard index < scalars.count else { throw badPattern(pattern) }
        scalar = scalars[index]
        index += 1
      }
      return scalar
    }
    while true {
      guard index < scalars.count else { throw badPattern(pattern) }
      if scalars[index] == "]" {
        if ranges.isEmpty { throw badPattern(pattern) }
        return (.set(ranges: ranges, negated: negated), index + 1)
      }
      let low = try member()
      var high = low
      if index < scalars.count, scalars[index] == "-" {
        index += 1
        high = try member()
      }
      guard low <= high else { throw badPattern(pattern) }
      ranges.append(low...high)
    }
  }

  private static func badPattern(_ pattern: String) -> BerthError {
    BerthError(.invalidArgument, "syntax error in pattern \"\(pattern)\": check its [...] classes and \\ escapes")
  }

  func matches(_ path: String) -> Bool {
    if let suffix = literalSuffix {
      return path.hasSuffix(suffix) || (suffix.hasPrefix("/") && path == suffix.dropFirst())
    }
    return PathGlob.match(tokens[...], Array(path.unicodeScalars)[...])
  }

  private static func match(_ tokens: ArraySlice<Token>, _ text: ArraySlice<Unicode.Scalar>) -> Bool {
    guard let token = tokens.first else { return text.isEmpty }
    let rest = tokens.dropFirst()
    switch token {
    case .literal(let scalar):
      return text.first == scalar && match(rest, text.dropFirst())
    case .question:
      guard let first = text.first, first != "/" else { return false }
      return match(rest, text.dropFirst())
    case .set(let ranges, let negated):
      guard let first = text.first, ranges.contains(where: { $0.contains(first) }) != negated else { return false }
      return match(rest, text.dropFirst())
    case .star:
      var position = text.startIndex
      while true {
        if match(rest, text[position...]) { return true }
        guard position < text.endIndex, text[position] != "/" else { return false }
        position += 1
      }
    case .anything:
      return true
    case .directories:
      // Nothing, or anything that ends with a `/`.
      if match(rest, text) { return true }
      var position = text.startIndex
      while position < text.endIndex {
        if text[position] == "/", match(rest, text[(position + 1)...]) { return true }
        position += 1
      }
      return false
    }
  }

  /// Whether the pattern could match `directory` itself or something inside it.
  func mayMatchInside(_ directory: [String]) -> Bool {
    let components = source.split(separator: "/", omittingEmptySubsequences: false)
    for (position, name) in directory.enumerated() {
      // The whole pattern matched an ancestor: it re-includes everything below.
      guard position < components.count else { return true }
      let component = components[position]
      if component.contains("**") { return true }
      guard let glob = try? PathGlob(String(component)), glob.matches(name) else { return false }
    }
    return true
  }
}
