import BerthOS

/// The pattern of `${VAR#pat}`, `${VAR%pat}` and `${VAR/pat/repl}`, as Docker reads it: `*` is
/// any text (slashes too), `?` any one character, everything else literal (no `[...]` classes);
/// the escape character quotes `*`, `?` and itself, and before `}` or `/` it is dropped.
struct ShellPattern {
  private enum Element: Equatable {
    case literal(Unicode.Scalar)
    case any
    case anySequence
  }

  private let elements: [Element]

  init(_ pattern: String, escape: Unicode.Scalar) throws {
    let scalars = Array(pattern.unicodeScalars)
    var elements: [Element] = []
    var index = 0
    while index < scalars.count {
      let scalar = scalars[index]
      index += 1
      switch scalar {
      case "*": elements.append(.anySequence)
      case "?": elements.append(.any)
      case escape:
        guard index < scalars.count else {
          elements.append(.literal(scalar))
          continue
        }
        let quoted = scalars[index]
        index += 1
        switch quoted {
        case "}", "/": elements.append(.literal(quoted))
        case "*", "?", escape: elements.append(.literal(quoted))
        default:
          throw BerthError(.invalidArgument, "invalid pattern (\(pattern)) in substitution: invalid escape '\(escape)\(quoted)'")
        }
      default: elements.append(.literal(scalar))
      }
    }
    self.elements = elements
  }

  /// Whether the whole of `text` matches.
  func matches(_ text: ArraySlice<Unicode.Scalar>) -> Bool {
    Self.match(elements[...], text)
  }

  private static func match(_ pattern: ArraySlice<Element>, _ text: ArraySlice<Unicode.Scalar>) -> Bool {
    guard let head = pattern.first else { return text.isEmpty }
    switch head {
    case .anySequence:
      let rest = pattern.dropFirst()
      if rest.isEmpty { return true }
      var start = text.startIndex
      while true {
        if match(rest, text[start...]) { return true }
        if start == text.endIndex { return false }
        start += 1
      }
    case .any:
      guard !text.isEmpty else { return false }
      return match(pattern.dropFirst(), text.dropFirst())
    case .literal(let scalar):
      guard text.first == scalar else { return false }
      return match(pattern.dropFirst(), text.dropFirst())
    }
  }

  /// `${VAR#pat}` (shortest) and `${VAR##pat}` (longest).
  func removePrefix(of value: String, longest: Bool) -> String {
    let scalars = Array(value.unicodeScalars)
    let lengths = longest ? Array((0...scalars.count).reversed()) : Array(0...scalars.count)
    for length in lengths where matches(scalars[..<length]) {
      return String(String.UnicodeScalarView(scalars[length...]))
    }
    return value
  }

  /// `${VAR%pat}` (shortest) and `${VAR%%pat}` (longest).
  func removeSuffix(of value: String, longest: Bool) -> String {
    let scalars = Array(value.unicodeScalars)
    let starts = longest ? Array(0...scalars.count) : Array((0...scalars.count).reversed())
    for start in starts where matches(scalars[start...]) {
      return String(String.UnicodeScalarView(scalars[..<start]))
    }
    return value
  }

  /// `${VAR/pat/repl}` (first match) and `${VAR//pat/repl}` (every match): the leftmost,
  /// then longest, non-empty match; an empty pattern with `/`, or any pattern matching an
  /// empty value, replaces the empty start (`${A/$EMPTY/x}` prepends x, as in Docker).
  func replace(in value: String, with replacement: String, all: Bool) -> String {
    let scalars = Array(value.unicodeScalars)
    // An empty match at the start counts when nothing longer can match there.
    if scalars.isEmpty || (!all && elements.isEmpty), matches(scalars[..<0]) {
      return replacement + value
    }
    var result = String.UnicodeScalarView()
    var index = 0
    var replaced = false
    while index < scalars.count {
      if all || !replaced, let end = (index + 1...scalars.count).reversed().first(where: { matches(scalars[index..<$0]) }) {
        result.append(contentsOf: replacement.unicodeScalars)
        index = end
        replaced = true
        continue
      }
      result.append(scalars[index])
      index += 1
    }
    return String(result)
  }
}
