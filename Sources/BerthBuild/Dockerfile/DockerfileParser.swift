import BerthOS

/// Turns Dockerfile text into a `Dockerfile`: directives, logical lines (continuations,
/// comments, heredoc bodies), then one `Instruction` per line, then stages.
struct DockerfileParser {
  private let fileName: String
  private var lines: [Substring]
  private var index = 0
  private var directives = ParserDirectives()

  init(text: String, fileName: String) {
    self.fileName = fileName
    var body = Substring(text)
    if body.hasPrefix("\u{FEFF}") { body = body.dropFirst() }
    // Lines end at "\n"; Swift reads "\r\n" as one Character, so both separate lines.
    self.lines = body.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
      .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
    if self.lines.last == "" { self.lines.removeLast() }
  }

  func failure(_ line: Int, _ message: String) -> BerthError {
    BerthError(.invalidArgument, "\(fileName):\(line): \(message)")
  }

  mutating func parse() throws -> Dockerfile {
    try parseDirectives()
    var instructions: [Instruction] = []
    while let instruction = try nextInstruction() {
      instructions.append(instruction)
    }
    return try assemble(instructions)
  }

  // MARK: Directives

  /// `# name=value` lines at the very top. The first line that is not a known directive (an
  /// empty line, a comment, an instruction, an unknown directive) ends them.
  private mutating func parseDirectives() throws {
    var seen: Set<String> = []
    while index < lines.count, let (name, value) = Self.directive(lines[index]) {
      guard ["syntax", "escape", "check"].contains(name) else { return }
      guard seen.insert(name).inserted else {
        throw failure(index + 1, "only one \(name) parser directive can be used")
      }
      switch name {
      case "escape":
        guard value == "\\" || value == "`" else {
          throw failure(index + 1, "invalid escape token '\(value)': use ` or \\")
        }
        directives.escape = Character(value)
      case "syntax": directives.syntax = value
      default: directives.check = value
      }
      index += 1
    }
  }

  /// `#` spaces name spaces `=` spaces value, the name starting with a letter.
  private static func directive(_ line: Substring) -> (String, String)? {
    var rest = line.drop(while: { $0 == " " || $0 == "\t" })
    guard rest.first == "#" else { return nil }
    rest = rest.dropFirst().drop(while: \.isWhitespace)
    let name = rest.prefix(while: { $0.isASCII && ($0.isLetter || $0.isNumber) })
    guard let first = name.first, first.isLetter else { return nil }
    rest = rest[name.endIndex...].drop(while: \.isWhitespace)
    guard rest.first == "=" else { return nil }
    let value = String(rest.dropFirst()).trimmingWhitespace()
    guard !value.isEmpty else { return nil }
    return (name.lowercased(), value)
  }

  // MARK: Logical lines

  private static func isComment(_ line: Substring) -> Bool {
    line.drop(while: \.isWhitespace).first == "#"
  }

  /// The line without a trailing escape character (and blanks after it), and whether it had
  /// one. Docker's rule: an escape character right after another one (`\\` at the end) is
  /// no continuation.
  private func removingContinuation(_ line: Substring) -> (Substring, Bool) {
    let trimmed = line.reversed().drop(while: { $0 == " " || $0 == "\t" })
    guard trimmed.first == directives.escape else { return (line, false) }
    if trimmed.dropFirst().first == directives.escape { return (line, false) }
    return (line.prefix(trimmed.count - 1), true)
  }

  /// The next instruction, or nil at the end of the file.
  private mutating func nextInstruction() throws -> Instruction? {
    while index < lines.count {
      let raw = lines[index]
      index += 1
      let startLine = index
      if Self.isComment(raw) { continue }
      var (text, continues) = removingContinuation(raw.drop(while: \.isWhitespace))
      var logical = String(text)
      if !continues && logical.trimmingWhitespace().isEmpty { continue }
      while continues && index < lines.count {
        let next = lines[index]
        index += 1
        // Comment lines and empty lines inside a continuation are dropped.
        if Self.isComment(next) || next.allSatisfy(\.isWhitespace) { continue }
        (text, continues) = removingContinuation(next)
        logical += text
      }
      logical = logical.trimmingWhitespace()
      if logical.isEmpty { continue }
      return try instruction(logical, line: startLine)
    }
    return nil
  }

  /// Reads the bodies of `markers`' heredocs from the lines after the instruction.
  private mutating func readHeredocs(_ markers: [HeredocMarker], line: Int) throws -> [Heredoc] {
    var heredocs: [Heredoc] = []
    for marker in markers {
      var content = ""
      var terminated = false
      while index < lines.count {
        var body = lines[index]
        index += 1
        if marker.stripTabs { body = body.drop(while: { $0 == "\t" }) }
        if body == marker.name {
          terminated = true
          break
        }
        content += body + "\n"
      }
      guard terminated else {
        throw failure(line, "unterminated heredoc \(marker.name): add a line with only \(marker.name) after its content")
      }
      heredocs.append(Heredoc(name: marker.name, content: content, expand: marker.expand, stripTabs: marker.stripTabs, fileDescriptor: marker.fileDescriptor))
    }
    return heredocs
  }

  // MARK: Instructions

  /// One logical line: keyword, flags, arguments; heredoc bodies are read from the next lines.
  private mutating func instruction(_ text: String, line: Int, nested: Bool = false) throws -> Instruction {
    let keywordText = text.prefix(while: { !$0.isWhitespace })
    let keyword = keywordText.uppercased()
    let afterKeyword = String(text[keywordText.endIndex...].drop(while: \.isWhitespace))
    var (flags, rest) = try FlagParser.split(afterKeyword, line: line, parser: self)
    rest = rest.trimmingWhitespace()
    let arguments = InstructionArguments(keyword: keyword, flags: flags, rest: rest, line: line, parser: self)
    let kind: InstructionKind
    switch keyword {
    case "FROM": kind = .from(try arguments.from())
    case "RUN":
      var run = try arguments.run()
      if case .shell(let command) = run.command {
        run.heredocs = try readHeredocs(HeredocMarker.find(in: command), line: line)
      }
      kind = .run(run)
    case "CMD": kind = .cmd(try arguments.command())
    case "ENTRYPOINT": kind = .entrypoint(try arguments.command())
    case "ENV": kind = .env(try arguments.keyValues())
    case "LABEL": kind = .label(try arguments.keyValues())
    case "ARG": kind = .arg(try arguments.args())
    case "EXPOSE": kind = .expose(try arguments.words(atLeastOne: true))
    case "COPY", "ADD":
      let words = try arguments.copyWords()
      let markers = words.isJSON ? [] : words.list.dropLast().compactMap(HeredocMarker.init)
      let heredocs = try readHeredocs(markers, line: line)
      let copy = try arguments.copy(words, heredocs: heredocs)
      kind = keyword == "COPY" ? .copy(copy) : .add(copy)
    case "WORKDIR": kind = .workdir(try arguments.single())
    case "USER": kind = .user(try arguments.single())
    case "STOPSIGNAL": kind = .stopSignal(try arguments.single())
    case "MAINTAINER": kind = .maintainer(try arguments.single())
    case "VOLUME": kind = .volume(try arguments.volumes())
    case "HEALTHCHECK": kind = .healthcheck(try arguments.healthcheck())
    case "SHELL": kind = .shell(try arguments.shell())
    case "ONBUILD":
      try arguments.noFlags()
      guard !rest.isEmpty else { throw failure(line, "ONBUILD requires at least one argument") }
      let trigger = try instruction(rest, line: line, nested: true)
      switch trigger.keyword {
      case "ONBUILD": throw failure(line, "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
      case "FROM", "MAINTAINER": throw failure(line, "\(trigger.keyword) isn't allowed as an ONBUILD trigger")
      default: kind = .onbuild(trigger)
      }
    default:
      throw failure(line, "unknown instruction: \(keywordText)" + Self.suggestion(for: keyword))
    }
    return Instruction(line: line, endLine: nested ? line : index, original: text, keyword: keyword, kind: kind)
  }

  // MARK: Stages

  private func assemble(_ instructions: [Instruction]) throws -> Dockerfile {
    guard !instructions.isEmpty else {
      throw BerthError(.invalidArgument, "\(fileName): the file has no instructions: a Dockerfile starts with FROM")
    }
    var globalArgs: [Instruction] = []
    var stages: [Stage] = []
    for instruction in instructions {
      if case .from(let from) = instruction.kind {
        if let name = from.stageName, stages.contains(where: { $0.name == name }) {
          throw failure(instruction.line, "duplicate stage name \"\(name)\": each AS name must be unique")
        }
        stages.append(Stage(index: stages.count, name: from.stageName, from: from, fromInstruction: instruction, instructions: []))
      } else if stages.isEmpty {
        guard case .arg = instruction.kind else {
          throw failure(instruction.line, "\(instruction.keyword) before the first FROM: only ARG may come before FROM")
        }
        globalArgs.append(instruction)
      } else {
        stages[stages.count - 1].instructions.append(instruction)
      }
    }
    guard !stages.isEmpty else {
      throw BerthError(.invalidArgument, "\(fileName): no FROM instruction: a Dockerfile needs at least one build stage")
    }
    return Dockerfile(fileName: fileName, directives: directives, globalArgs: globalArgs, stages: stages)
  }

  var escape: Character { directives.escape }

  static let keywords = [
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
  ]

  /// " (did you mean RUN?)" for a typo of a real keyword: one edit (two for long words), a
  /// swap of neighbours counting as one.
  static func suggestion(for keyword: String) -> String {
    let limit = keyword.count > 5 ? 2 : 1
    let scored = keywords.map { ($0, editDistance(Array(keyword), Array($0))) }
    guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= limit else { return "" }
    return " (did you mean \(best.0)?)"
  }

  /// Insertions, deletions, substitutions and adjacent swaps.
  private static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { table[i][0] = i }
    for j in 0...b.count { table[0][j] = j }
    for i in stride(from: 1, through: a.count, by: 1) {
      for j in stride(from: 1, through: b.count, by: 1) {
        let cost = a[i - 1] == b[j - 1] ? 0 : 1
        table[i][j] = Swift.min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
        if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
          table[i][j] = Swift.min(table[i][j], table[i - 2][j - 2] + 1)
        }
      }
    }
    return table[a.count][b.count]
  }
}

extension StringProtocol {
  /// Without leading and trailing whitespace.
  func trimmingWhitespace() -> String {
    let start = drop(while: \.isWhitespace)
    return String(start.reversed().drop(while: \.isWhitespace).reversed())
  }
}
