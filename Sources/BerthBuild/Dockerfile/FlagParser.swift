import BerthOS

/// A `--name=value` or `--name` flag after an instruction keyword.
struct InstructionFlag: Equatable {
  var name: String
  /// Nil for `--name` without `=`.
  var value: String?
}

/// Splits the leading `--flags` off an instruction's arguments: words starting with `--`, quotes
/// removed, `\` quoting the next character; a lone `--` ends the flags.
enum FlagParser {
  static func split(_ text: String, line: Int, parser: DockerfileParser) throws -> ([InstructionFlag], String) {
    var flags: [InstructionFlag] = []
    var rest = Substring(text)
    while true {
      rest = rest.drop(while: \.isWhitespace)
      guard rest.hasPrefix("--") else { return (flags, String(rest)) }
      var word = ""
      var quote: Character?
      var position = rest.startIndex
      while position < rest.endIndex {
        let character = rest[position]
        position = rest.index(after: position)
        if let open = quote {
          if character == open {
            quote = nil
          } else if character == "\\" && open == "\"" && position < rest.endIndex {
            word.append(rest[position])
            position = rest.index(after: position)
          } else {
            word.append(character)
          }
        } else if character.isWhitespace {
          break
        } else if character == "\"" || character == "'" {
          quote = character
        } else if character == "\\" {
          if position < rest.endIndex {
            word.append(rest[position])
            position = rest.index(after: position)
          }
        } else {
          word.append(character)
        }
      }
      rest = rest[position...]
      if quote != nil { throw parser.failure(line, "unterminated quote in flag \(word)") }
      if word == "--" { return (flags, String(rest.drop(while: \.isWhitespace))) }
      let body = word.dropFirst(2)
      if let equals = body.firstIndex(of: "=") {
        flags.append(InstructionFlag(name: String(body[..<equals]), value: String(body[body.index(after: equals)...])))
      } else {
        flags.append(InstructionFlag(name: String(body), value: nil))
      }
    }
  }
}

/// What a flag takes.
enum FlagKind {
  /// `--name=value`, at most once.
  case string
  /// `--name`, `--name=true|false`.
  case bool
  /// `--name=value`, any number of times.
  case repeated
}

/// The flags of one instruction, checked against what it accepts.
struct CheckedFlags {
  private var values: [String: [String]] = [:]

  init(_ flags: [InstructionFlag], allowed: [String: FlagKind], keyword: String, line: Int, parser: DockerfileParser) throws {
    for flag in flags {
      guard let kind = allowed[flag.name] else {
        let names = allowed.keys.sorted().map { "--" + $0 }
        let hint = names.isEmpty ? "\(keyword) takes no flags" : "\(keyword) accepts " + names.joined(separator: ", ")
        throw parser.failure(line, "unknown flag: --\(flag.name) (\(hint))")
      }
      switch kind {
      case .bool:
        switch flag.value?.lowercased() {
        case nil, "true": values[flag.name] = ["true"]
        case "false": values[flag.name] = ["false"]
        default: throw parser.failure(line, "expecting boolean value for flag --\(flag.name), not: \(flag.value ?? "")")
        }
      case .string, .repeated:
        guard let value = flag.value else {
          throw parser.failure(line, "missing a value on flag: --\(flag.name) (write --\(flag.name)=VALUE)")
        }
        if kind == .string, values[flag.name] != nil {
          throw parser.failure(line, "duplicate flag specified: --\(flag.name)")
        }
        values[flag.name, default: []].append(value)
      }
    }
  }

  func string(_ name: String) -> String? { values[name]?.last }
  func bool(_ name: String) -> Bool { values[name]?.last == "true" }
  func all(_ name: String) -> [String] { values[name] ?? [] }
}
