import BerthJSON
import BerthOS

/// The word splitting of the parser itself (before any expansion).
enum DockerfileWords {
  /// Splits on whitespace outside quotes, keeping quotes and escapes in the words (the
  /// expansion removes them later): what ENV, LABEL and ARG use for `k=v k2="v 2"`.
  static func splitKeepingQuotes(_ text: String, escape: Character) -> [String] {
    var words: [String] = []
    var word = ""
    var started = false
    var quote: Character?
    var iterator = Array(text)[...]
    while let character = iterator.popFirst() {
      if let open = quote {
        if character == open {
          quote = nil
        } else if character == escape && open != "'" {
          // An escaped character inside double quotes stays with its escape; a trailing escape
          // is dropped.
          guard let escaped = iterator.popFirst() else {
            quote = nil
            continue
          }
          word.append(character)
          word.append(escaped)
          continue
        }
        word.append(character)
        continue
      }
      if character.isWhitespace {
        if started { words.append(word) }
        word = ""
        started = false
        continue
      }
      started = true
      if character == escape {
        // A trailing escape is dropped; otherwise it stays with the character it quotes.
        guard let escaped = iterator.popFirst() else { continue }
        word.append(character)
        word.append(escaped)
        continue
      }
      if character == "\"" || character == "'" { quote = character }
      word.append(character)
    }
    if started { words.append(word) }
    return words
  }

  /// Whitespace-separated words, nothing else (FROM, EXPOSE, COPY's shell form).
  static func fields(_ text: String) -> [String] {
    text.split(whereSeparator: \.isWhitespace).map(String.init)
  }

  /// A JSON array of strings, or nil when `text` is not JSON (then Docker uses the shell form
  /// or plain words). Like Docker's decoder, only the first JSON value counts (text after the
  /// closing `]` is ignored), and an array holding anything but strings is an error.
  static func jsonArray(_ text: String) throws -> [String]? {
    let trimmed = text.drop(while: \.isWhitespace)
    guard trimmed.first == "[", let end = firstValueEnd(trimmed.utf8),
      let value = try? JSON.parse(String(decoding: trimmed.utf8[..<end], as: UTF8.self)), let array = value.arrayValue
    else { return nil }
    return try array.map { element in
      guard let string = element.stringValue else {
        throw BerthError(.invalidArgument, "when using JSON array syntax, arrays must be comprised of strings only")
      }
      return string
    }
  }

  /// Where the JSON array starting `bytes` ends (after its `]`), nil when it does not close.
  private static func firstValueEnd(_ bytes: Substring.UTF8View) -> Substring.UTF8View.Index? {
    var depth = 0
    var inString = false
    var escaped = false
    var index = bytes.startIndex
    while index < bytes.endIndex {
      let byte = bytes[index]
      index = bytes.index(after: index)
      if inString {
        if escaped {
          escaped = false
        } else if byte == UInt8(ascii: "\\") {
          escaped = true
        } else if byte == UInt8(ascii: "\"") {
          inString = false
        }
        continue
      }
      switch byte {
      case UInt8(ascii: "\""): inString = true
      case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1
      case UInt8(ascii: "]"), UInt8(ascii: "}"):
        depth -= 1
        if depth == 0 { return index }
      default: break
      }
    }
    return nil
  }
}

/// A `<<EOF` word in a RUN, COPY or ADD line.
struct HeredocMarker: Equatable {
  var name: String
  var expand: Bool
  var stripTabs: Bool
  var fileDescriptor: Int?

  /// Parses `[n]<<[-]WORD` where WORD may be quoted; nil when `word` is not a marker.
  init?(_ word: String) {
    let digits = word.prefix(while: \.isASCII).prefix(while: \.isNumber)
    var rest = word[digits.endIndex...]
    guard rest.hasPrefix("<<") else { return nil }
    rest = rest.dropFirst(2)
    stripTabs = rest.first == "-"
    if stripTabs { rest = rest.dropFirst() }
    guard !rest.isEmpty, !rest.contains("<") else { return nil }
    let raw = String(rest)
    // Quotes in the delimiter turn expansion off; the name is the word without them.
    guard let unquoted = try? WordExpander().expand(raw, environment: [:]), !unquoted.isEmpty else { return nil }
    name = unquoted
    expand = !raw.contains("\"") && !raw.contains("'")
    fileDescriptor = digits.isEmpty ? nil : Int(digits)
  }

  /// The markers in a shell command, in order.
  static func find(in command: String) -> [HeredocMarker] {
    guard command.contains("<<") else { return [] }
    return DockerfileWords.splitKeepingQuotes(command, escape: "\\").compactMap(HeredocMarker.init)
  }
}
