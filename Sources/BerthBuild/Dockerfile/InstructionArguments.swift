import BerthOS

/// The arguments of one instruction (after its keyword and flags) and their per-instruction
/// syntax rules.
struct InstructionArguments {
  let keyword: String
  let flags: [InstructionFlag]
  /// The text after the flags, trimmed.
  let rest: String
  let line: Int
  let parser: DockerfileParser

  private func failure(_ message: String) -> BerthError { parser.failure(line, message) }

  private func checked(_ allowed: [String: FlagKind]) throws -> CheckedFlags {
    try CheckedFlags(flags, allowed: allowed, keyword: keyword, line: line, parser: parser)
  }

  func noFlags() throws { _ = try checked([:]) }

  private func json(_ text: String) throws -> [String]? {
    do {
      return try DockerfileWords.jsonArray(text)
    } catch let error as BerthError {
      throw failure(error.message)
    }
  }

  // MARK: FROM

  func from() throws -> FromInstruction {
    let flags = try checked(["platform": .string])
    let words = DockerfileWords.fields(rest)
    guard words.count == 1 || (words.count == 3 && words[1].lowercased() == "as") else {
      throw failure("FROM requires either one or three arguments")
    }
    var stageName: String?
    if words.count == 3 {
      let name = words[2].lowercased()
      guard Self.isValidStageName(name) else {
        throw failure("invalid name for build stage: \"\(words[2])\", name can't start with a number or contain symbols")
      }
      stageName = name
    }
    return FromInstruction(image: words[0], stageName: stageName, platform: flags.string("platform"))
  }

  /// `[a-z][a-z0-9-_.]*` (lowercased first).
  static func isValidStageName(_ name: String) -> Bool {
    guard let first = name.first, first.isASCII, first.isLowercase else { return false }
    return name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
  }

  // MARK: RUN, CMD, ENTRYPOINT, SHELL

  /// JSON form when the arguments are a JSON array of strings, the shell form otherwise.
  private func commandForm() throws -> CommandForm {
    if let argv = try json(rest) { return .exec(argv) }
    guard !rest.isEmpty else { throw failure("\(keyword) requires at least one argument") }
    return .shell(rest)
  }

  func run() throws -> RunInstruction {
    let flags = try checked(["mount": .repeated, "network": .string, "security": .string])
    let mounts = try flags.all("mount").map(parseMount)
    return RunInstruction(command: try commandForm(), mounts: mounts, network: flags.string("network"), security: flags.string("security"))
  }

  /// `type=cache,target=/x,readonly`: comma-separated, double quotes may hold commas.
  private func parseMount(_ value: String) throws -> RunMount {
    var fields: [String] = []
    var field = ""
    var quoted = false
    for character in value {
      if character == "\"" {
        quoted.toggle()
      } else if character == "," && !quoted {
        fields.append(field)
        field = ""
      } else {
        field.append(character)
      }
    }
    fields.append(field)
    var type = "bind"
    var options: [KeyValuePair] = []
    for field in fields where !field.isEmpty {
      let parts = field.split(separator: "=", maxSplits: 1)
      let key = String(parts[0]).lowercased()
      let optionValue = parts.count == 2 ? String(parts[1]) : ""
      if key == "type" {
        type = optionValue.lowercased()
      } else {
        options.append(KeyValuePair(key, optionValue))
      }
    }
    guard !type.isEmpty else { throw failure("--mount needs type=bind|cache|tmpfs|secret|ssh, got: \(value)") }
    return RunMount(type: type, options: options)
  }

  func command() throws -> CommandForm {
    try noFlags()
    return try commandForm()
  }

  func shell() throws -> [String] {
    try noFlags()
    guard let argv = try json(rest) else {
      throw failure("SHELL requires the arguments to be in JSON form, e.g. SHELL [\"/bin/sh\", \"-c\"]")
    }
    guard !argv.isEmpty else { throw failure("SHELL requires at least one argument") }
    return argv
  }

  // MARK: ENV, LABEL, ARG

  /// `k=v k2="v 2"` or the old `k value with spaces` (one pair, the rest of the line).
  func keyValues() throws -> [KeyValuePair] {
    try noFlags()
    let words = DockerfileWords.splitKeepingQuotes(rest, escape: parser.escape)
    guard let first = words.first else { throw failure("\(keyword) requires at least one argument") }
    if !first.contains("=") {
      let key = rest.prefix(while: { !$0.isWhitespace })
      let value = rest[key.endIndex...].drop(while: \.isWhitespace)
      guard !value.isEmpty else {
        throw failure("\(keyword) must have two arguments: \(keyword) \(key)=VALUE or \(keyword) \(key) VALUE")
      }
      return [KeyValuePair(String(key), String(value))]
    }
    return try words.map { word in
      guard let equals = word.firstIndex(of: "=") else {
        throw failure("syntax error - can't find = in \"\(word)\". Must be of the form: name=value")
      }
      let key = String(word[..<equals])
      guard !key.isEmpty else { throw failure("\(keyword) names can not be blank") }
      return KeyValuePair(key, String(word[word.index(after: equals)...]))
    }
  }

  func args() throws -> [ArgDeclaration] {
    try noFlags()
    let words = DockerfileWords.splitKeepingQuotes(rest, escape: parser.escape)
    guard !words.isEmpty else { throw failure("ARG requires at least one argument") }
    return try words.map { word in
      guard let equals = word.firstIndex(of: "=") else { return ArgDeclaration(name: word) }
      let name = String(word[..<equals])
      guard !name.isEmpty else { throw failure("ARG names can not be blank") }
      return ArgDeclaration(name: name, defaultValue: String(word[word.index(after: equals)...]))
    }
  }

  // MARK: Single values and lists

  /// The rest of the line as one value (WORKDIR, USER, STOPSIGNAL, MAINTAINER).
  func single() throws -> String {
    try noFlags()
    guard !rest.isEmpty else { throw failure("\(keyword) requires exactly one argument") }
    return rest
  }

  func words(atLeastOne: Bool) throws -> [String] {
    try noFlags()
    let words = DockerfileWords.fields(rest)
    if atLeastOne && words.isEmpty { throw failure("\(keyword) requires at least one argument") }
    return words
  }

  func volumes() throws -> [String] {
    try noFlags()
    let list = try json(rest) ?? DockerfileWords.fields(rest)
    guard !list.isEmpty else { throw failure("VOLUME requires at least one argument") }
    if list.contains(where: { $0.trimmingWhitespace().isEmpty }) {
      throw failure("VOLUME specified can not be an empty string")
    }
    return list
  }

  // MARK: COPY, ADD

  struct CopyWords {
    var list: [String]
    var isJSON: Bool
    var flags: CheckedFlags
  }

  func copyWords() throws -> CopyWords {
    let allowed: [String: FlagKind] = keyword == "COPY"
      ? ["from": .string, "chown": .string, "chmod": .string, "link": .bool, "parents": .bool, "exclude": .repeated]
      : ["chown": .string, "chmod": .string, "link": .bool, "keep-git-dir": .bool, "checksum": .string, "exclude": .repeated]
    let flags = try checked(allowed)
    if let list = try json(rest) { return CopyWords(list: list, isJSON: true, flags: flags) }
    return CopyWords(list: DockerfileWords.fields(rest), isJSON: false, flags: flags)
  }

  func copy(_ words: CopyWords, heredocs: [Heredoc]) throws -> CopyInstruction {
    guard words.list.count >= 2, let destination = words.list.last else {
      let found = words.list.isEmpty ? "none was" : "only one was"
      throw failure("\(keyword) requires at least two arguments, but \(found) provided. Destination could not be determined.")
    }
    if !words.isJSON, HeredocMarker(destination) != nil {
      throw failure("\(keyword) cannot accept a heredoc as a destination")
    }
    let sources = words.list.dropLast().filter { words.isJSON || HeredocMarker($0) == nil }
    let flags = words.flags
    return CopyInstruction(
      sources: Array(sources), heredocs: heredocs, destination: destination, from: flags.string("from"),
      chown: flags.string("chown"), chmod: flags.string("chmod"), link: flags.bool("link"), parents: flags.bool("parents"),
      excludes: flags.all("exclude"), keepGitDir: flags.bool("keep-git-dir"), checksum: flags.string("checksum"),
      isJSONForm: words.isJSON)
  }

  // MARK: HEALTHCHECK

  func healthcheck() throws -> HealthcheckInstruction {
    let flags = try checked(["interval": .string, "timeout": .string, "start-period": .string, "start-interval": .string, "retries": .string])
    let type = rest.prefix(while: { !$0.isWhitespace })
    let command = String(rest[type.endIndex...]).trimmingWhitespace()
    switch type.uppercased() {
    case "NONE":
      guard command.isEmpty, flags.string("interval") == nil, flags.string("timeout") == nil,
        flags.string("start-period") == nil, flags.string("start-interval") == nil, flags.string("retries") == nil
      else { throw failure("HEALTHCHECK NONE takes no arguments") }
      return .none
    case "CMD":
      var options = HealthcheckOptions()
      options.interval = try duration(flags, "interval")
      options.timeout = try duration(flags, "timeout")
      options.startPeriod = try duration(flags, "start-period")
      options.startInterval = try duration(flags, "start-interval")
      if let text = flags.string("retries") {
        guard let retries = Int(text), retries >= 0 else {
          throw failure("--retries must be a whole number, 0 or more: \(text)")
        }
        options.retries = retries
      }
      let form: CommandForm
      if let argv = try json(command) {
        form = .exec(argv)
      } else {
        guard !command.isEmpty else { throw failure("HEALTHCHECK CMD requires a command") }
        form = .shell(command)
      }
      return .command(form, options)
    case "":
      throw failure("HEALTHCHECK requires an argument: CMD command or NONE")
    default:
      throw failure("unknown type \"\(type)\" in HEALTHCHECK (try CMD)")
    }
  }

  /// A Go duration ("30s", "1m30s", "500ms"); 0, or at least 1ms.
  private func duration(_ flags: CheckedFlags, _ name: String) throws -> Int64? {
    guard let text = flags.string(name) else { return nil }
    guard let nanoseconds = GoDuration.parse(text) else {
      throw failure("--\(name): invalid duration \"\(text)\" (write e.g. 30s, 1m30s, 500ms)")
    }
    if nanoseconds < 0 { throw failure("--\(name) cannot be negative: \(text)") }
    if nanoseconds != 0 && nanoseconds < 1_000_000 { throw failure("--\(name) cannot be less than 1ms: \(text)") }
    return nanoseconds
  }
}

/// Go's time.ParseDuration format: [-]decimal unit pairs, units ns us µs ms s m h; "0" alone.
enum GoDuration {
  static func parse(_ text: String) -> Int64? {
    var rest = Substring(text)
    var sign: Double = 1
    if rest.first == "-" || rest.first == "+" {
      if rest.first == "-" { sign = -1 }
      rest = rest.dropFirst()
    }
    if rest == "0" { return 0 }
    guard !rest.isEmpty else { return nil }
    let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
    var total: Double = 0
    while !rest.isEmpty {
      let number = rest.prefix(while: { $0.isASCII && ($0.isNumber || $0 == ".") })
      guard !number.isEmpty, number != ".", let value = Double(number) else { return nil }
      rest = rest[number.endIndex...]
      let unitText = rest.prefix(while: { !($0.isASCII && ($0.isNumber || $0 == ".")) })
      guard let unit = units.first(where: { $0.0 == unitText }) else { return nil }
      rest = rest[unitText.endIndex...]
      total += value * unit.1
    }
    guard total < Double(Int64.max) else { return nil }
    return Int64((sign * total).rounded())
  }
}
