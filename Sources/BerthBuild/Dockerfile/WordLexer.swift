import BerthOS

/// The fields a word expands to. Unquoted whitespace (written or from an unquoted `$VAR`)
/// separates fields; quoted or escaped text never does, and an empty field is dropped.
struct ExpandedWord {
  var text = ""
  var fields: [String] = []
  private var current = ""

  /// An unquoted character: whitespace ends the current field.
  mutating func add(_ scalar: Unicode.Scalar) {
    text.unicodeScalars.append(scalar)
    if scalar.properties.isWhitespace {
      endField()
    } else {
      current.unicodeScalars.append(scalar)
    }
  }

  /// Quoted or escaped text: part of the current field as is.
  mutating func addRaw(_ string: String) {
    text += string
    current += string
  }

  /// The result of an unquoted expansion: its whitespace splits fields (but is kept in `text`).
  mutating func addExpansion(_ string: String) {
    for scalar in string.unicodeScalars { add(scalar) }
  }

  mutating func endField() {
    if !current.isEmpty { fields.append(current) }
    current = ""
  }
}

/// One pass over a word: quotes, escapes and `$` expansions (Docker's shell lexer rules).
struct WordLexer {
  private let scalars: [Unicode.Scalar]
  private var position = 0
  private let escape: Unicode.Scalar
  private let environment: [String: String]
  /// Collect the names looked up (for `WordExpander.referencedNames`).
  var recordNames = false
  /// Heredoc bodies: quotes are plain characters (Docker's SkipProcessQuotes); the escape
  /// character still quotes the next one.
  var quotesAreLiteral = false
  private(set) var names: Set<String> = []

  init(_ word: String, escape: Character, environment: [String: String]) {
    self.scalars = Array(word.unicodeScalars)
    self.escape = escape.unicodeScalars.first ?? "\\"
    self.environment = environment
  }

  private var peek: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

  private mutating func next() -> Unicode.Scalar? {
    guard position < scalars.count else { return nil }
    defer { position += 1 }
    return scalars[position]
  }

  /// The whole word.
  mutating func expandWord() throws -> ExpandedWord {
    var (word, _) = try expand(until: [], keepEscapes: false)
    word.endField()
    return word
  }

  /// Expands up to one of `stops` (consumed; returned) or the end (nil). `keepEscapes` keeps the
  /// escape character before the escaped one (patterns of `#`, `%`, `/` need to see it).
  private mutating func expand(until stops: Set<Unicode.Scalar>, keepEscapes: Bool) throws -> (ExpandedWord, Unicode.Scalar?) {
    var word = ExpandedWord()
    while let scalar = peek {
      if stops.contains(scalar) {
        position += 1
        return (word, scalar)
      }
      switch scalar {
      case "'" where !quotesAreLiteral:
        word.addRaw(try singleQuoted())
      case "\"" where !quotesAreLiteral:
        word.addRaw(try doubleQuoted(keepEscapes: keepEscapes))
      case "$":
        word.addExpansion(try dollar())
      default:
        position += 1
        if scalar == escape {
          // The escape character quotes the next one; alone at the end it is dropped.
          guard let escaped = next() else { return (word, nil) }
          word.addRaw(keepEscapes ? String(scalar) + String(escaped) : String(escaped))
        } else {
          word.add(scalar)
        }
      }
    }
    return (word, nil)
  }

  /// '...': everything literal up to the next single quote.
  private mutating func singleQuoted() throws -> String {
    position += 1
    var text = ""
    while let scalar = next() {
      if scalar == "'" { return text }
      text.unicodeScalars.append(scalar)
    }
    throw BerthError(.invalidArgument, "unexpected end of statement while looking for matching single-quote")
  }

  /// "...": `$` expands; the escape character quotes only `"`, `$` and itself.
  private mutating func doubleQuoted(keepEscapes: Bool) throws -> String {
    position += 1
    var text = ""
    while let scalar = peek {
      if scalar == "\"" {
        position += 1
        return text
      }
      if scalar == "$" {
        text += try dollar()
        continue
      }
      position += 1
      if scalar == escape, let following = peek {
        if following == "\"" || following == "$" || following == escape {
          position += 1
          if keepEscapes { text.unicodeScalars.append(scalar) }
          text.unicodeScalars.append(following)
          continue
        }
      }
      text.unicodeScalars.append(scalar)
    }
    throw BerthError(.invalidArgument, "unexpected end of statement while looking for matching double-quote")
  }

  private mutating func lookup(_ name: String) -> String? {
    if recordNames { names.insert(name) }
    return environment[name]
  }

  /// `$NAME`, `${NAME}` and `${NAME<modifier>word}`, at a `$`.
  private mutating func dollar() throws -> String {
    position += 1
    guard peek == "{" else {
      let name = readName()
      if name.isEmpty { return "$" }
      return lookup(name) ?? ""
    }
    position += 1
    guard let first = peek else { throw BerthError(.invalidArgument, "syntax error: missing '}'") }
    if first == "{" || first == "}" || first == ":" {
      throw BerthError(.invalidArgument, "syntax error: bad substitution")
    }
    let name = readName()
    guard let modifier = next() else { throw BerthError(.invalidArgument, "syntax error: missing '}'") }
    switch modifier {
    case "}":
      return lookup(name) ?? ""
    case ":", "-", "+", "?":
      var operation = modifier
      let colon = modifier == ":"
      if colon {
        guard let after = next(), after == "-" || after == "+" || after == "?" else {
          throw BerthError(.invalidArgument, "unsupported modifier in substitution ${\(name):...}: use :- :+ or :?")
        }
        operation = after
      }
      let word = try modifierWord(keepEscapes: false)
      let value = lookup(name)
      // With ':' an empty value counts as unset.
      let isSet = value != nil && !(colon && value == "")
      switch operation {
      case "-":
        return isSet ? (value ?? "") : word
      case "+":
        return isSet ? word : ""
      default:
        if isSet { return value ?? "" }
        let message = word.isEmpty ? (value == nil ? "is not allowed to be unset" : "is not allowed to be empty") : word
        throw BerthError(.invalidArgument, "\(name): \(message)")
      }
    case "#", "%":
      var greedy = false
      if peek == modifier {
        greedy = true
        position += 1
      }
      let pattern = try modifierWord(keepEscapes: true)
      let value = lookup(name) ?? ""
      let matcher = try ShellPattern(pattern, escape: escape)
      return modifier == "#" ? matcher.removePrefix(of: value, longest: greedy) : matcher.removeSuffix(of: value, longest: greedy)
    case "/":
      var all = false
      if peek == "/" {
        all = true
        position += 1
      }
      // Docker needs the second slash: `${VAR/pat/}` deletes, `${VAR/pat}` is an error.
      let (patternWord, stop) = try expand(until: ["/"], keepEscapes: true)
      guard stop != nil else { throw BerthError(.invalidArgument, "syntax error: missing '/' in ${}") }
      // Docker keeps escapes in the replacement as written (`${A//\\//\\/}` gives `\\/`).
      let replacement = try modifierWord(keepEscapes: true)
      let value = lookup(name) ?? ""
      return try ShellPattern(patternWord.text, escape: escape).replace(in: value, with: replacement, all: all)
    default:
      throw BerthError(.invalidArgument, "unsupported modifier (\(modifier)) in substitution ${\(name)...}")
    }
  }

  /// The word after a modifier, up to the closing brace.
  private mutating func modifierWord(keepEscapes: Bool) throws -> String {
    let (word, stop) = try expand(until: ["}"], keepEscapes: keepEscapes)
    guard stop != nil else { throw BerthError(.invalidArgument, "syntax error: missing '}'") }
    return word.text
  }

  /// A variable name: letters, digits, `_`; or a run of digits; or one special character.
  private mutating func readName() -> String {
    var name = ""
    guard let first = peek else { return name }
    if first.properties.numericType != nil && ("0"..."9").contains(first) {
      while let digit = peek, ("0"..."9").contains(digit) {
        name.unicodeScalars.append(digit)
        position += 1
      }
      return name
    }
    if "@*#?-$!".unicodeScalars.contains(first) {
      position += 1
      return String(first)
    }
    while let scalar = peek, scalar == "_" || scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
      name.unicodeScalars.append(scalar)
      position += 1
    }
    return name
  }
}
