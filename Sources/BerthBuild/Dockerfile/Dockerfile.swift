import BerthOS

// The Dockerfile's syntax tree. The parser keeps every word as written (quotes, `$VAR`):
// Docker expands variables when a step runs, with the environment of that step, so the builder
// calls `Instruction.expanded(environment:escape:)` (or `WordExpander`) at each step.

/// A parsed Dockerfile: its parser directives, the ARGs before the first FROM, and its stages.
public struct Dockerfile: Sendable, Equatable {
  /// The name used in error messages ("Dockerfile:7: ...").
  public var fileName: String
  public var directives: ParserDirectives
  /// ARG instructions before the first FROM: usable in FROM lines, and inside a stage once
  /// re-declared there (`ARG NAME` with no default takes the global value).
  public var globalArgs: [Instruction]
  public var stages: [Stage]

  public init(fileName: String, directives: ParserDirectives, globalArgs: [Instruction], stages: [Stage]) {
    self.fileName = fileName
    self.directives = directives
    self.globalArgs = globalArgs
    self.stages = stages
  }

  /// The escape character (`\`, or `` ` `` with `# escape=``).
  public var escape: Character { directives.escape }

  /// Parses a Dockerfile. Errors are `BerthError(.invalidArgument)` whose message starts with
  /// "<fileName>:<line>: ".
  public static func parse(_ text: String, fileName: String = "Dockerfile") throws -> Dockerfile {
    var parser = DockerfileParser(text: text, fileName: fileName)
    return try parser.parse()
  }
}

/// The directives at the top of the file (`# syntax=...`, `# escape=...`, `# check=...`).
public struct ParserDirectives: Sendable, Equatable {
  /// The `syntax` directive (a frontend image in BuildKit; Berth records it and ignores it).
  public var syntax: String?
  /// The escape character: `\` (default) or `` ` ``.
  public var escape: Character
  /// The `check` directive (build checks in BuildKit; ignored).
  public var check: String?

  public init(syntax: String? = nil, escape: Character = "\\", check: String? = nil) {
    self.syntax = syntax
    self.escape = escape
    self.check = check
  }
}

/// One build stage: a FROM and the instructions up to the next FROM.
public struct Stage: Sendable, Equatable {
  /// Position in the file, from 0 (what `COPY --from=0` names).
  public var index: Int
  /// The `AS` name, lowercased (names are case-insensitive), or nil.
  public var name: String?
  public var from: FromInstruction
  /// The FROM instruction itself (line, original text).
  public var fromInstruction: Instruction
  /// The instructions after FROM, in order (never FROM).
  public var instructions: [Instruction]

  public init(index: Int, name: String?, from: FromInstruction, fromInstruction: Instruction, instructions: [Instruction]) {
    self.index = index
    self.name = name
    self.from = from
    self.fromInstruction = fromInstruction
    self.instructions = instructions
  }
}

/// One instruction with where it came from.
public struct Instruction: Sendable, Equatable {
  /// The line of the instruction's keyword, from 1.
  public var line: Int
  /// The last line it spans (continuations, heredocs).
  public var endLine: Int
  /// The instruction as written, continuation lines joined (Docker's `Original`), without
  /// heredoc bodies; for history's `created_by` and messages.
  public var original: String
  /// The keyword, uppercased ("RUN").
  public var keyword: String
  public var kind: InstructionKind

  public init(line: Int, endLine: Int, original: String, keyword: String, kind: InstructionKind) {
    self.line = line
    self.endLine = endLine
    self.original = original
    self.keyword = keyword
    self.kind = kind
  }
}

public indirect enum InstructionKind: Sendable, Equatable {
  case from(FromInstruction)
  case run(RunInstruction)
  case cmd(CommandForm)
  case entrypoint(CommandForm)
  /// `ENV k v` gives one pair whose value is the rest of the line.
  case env([KeyValuePair])
  case arg([ArgDeclaration])
  case label([KeyValuePair])
  /// Ports as written ("80", "8080/udp", "$PORT"); expansion may split a word into several.
  case expose([String])
  case copy(CopyInstruction)
  case add(CopyInstruction)
  case workdir(String)
  case user(String)
  case volume([String])
  case stopSignal(String)
  case healthcheck(HealthcheckInstruction)
  /// SHELL's JSON array.
  case shell([String])
  /// The trigger, stored in the image config and run by builds FROM this image.
  case onbuild(Instruction)
  case maintainer(String)
}

/// `FROM [--platform=P] IMAGE [AS NAME]`.
public struct FromInstruction: Sendable, Equatable {
  /// The image reference as written (may hold `$ARG`s; may name an earlier stage; "scratch").
  public var image: String
  /// The `AS` name, lowercased.
  public var stageName: String?
  /// `--platform` as written.
  public var platform: String?

  public init(image: String, stageName: String? = nil, platform: String? = nil) {
    self.image = image
    self.stageName = stageName
    self.platform = platform
  }
}

/// The two forms of RUN, CMD, ENTRYPOINT and HEALTHCHECK CMD.
public enum CommandForm: Sendable, Equatable {
  /// JSON form: the argv as given, no shell.
  case exec([String])
  /// Shell form: the text (after flags) run as `SHELL + [text]`.
  case shell(String)

  /// The argv to run: exec form as is, shell form appended to `shell` (default `/bin/sh -c`).
  public func arguments(shell: [String] = ["/bin/sh", "-c"]) -> [String] {
    switch self {
    case .exec(let argv): return argv
    case .shell(let text): return shell + [text]
    }
  }
}

/// `KEY=VALUE` of ENV and LABEL, and the options of `--mount`. The words are raw: quotes and
/// `$VAR` stay until expansion.
public struct KeyValuePair: Sendable, Equatable {
  public var key: String
  public var value: String

  public init(_ key: String, _ value: String) {
    self.key = key
    self.value = value
  }
}

/// `ARG NAME` or `ARG NAME=default` (default raw, expanded when the ARG runs).
public struct ArgDeclaration: Sendable, Equatable {
  public var name: String
  public var defaultValue: String?

  public init(name: String, defaultValue: String? = nil) {
    self.name = name
    self.defaultValue = defaultValue
  }
}

/// A here-document (`<<EOF` ... `EOF`).
public struct Heredoc: Sendable, Equatable {
  /// The delimiter word, unquoted ("EOF"); COPY names the file after it.
  public var name: String
  /// The body: each line with its "\n", the terminator line excluded; leading tabs already
  /// removed for `<<-`.
  public var content: String
  /// False when the delimiter was quoted (`<<"EOF"`, `<<'EOF'`): no variable expansion.
  public var expand: Bool
  /// `<<-`: leading tabs were stripped.
  public var stripTabs: Bool
  /// A file descriptor prefix (`3<<EOF`), when given.
  public var fileDescriptor: Int?

  public init(name: String, content: String, expand: Bool = true, stripTabs: Bool = false, fileDescriptor: Int? = nil) {
    self.name = name
    self.content = content
    self.expand = expand
    self.stripTabs = stripTabs
    self.fileDescriptor = fileDescriptor
  }
}

/// RUN's `--mount=type=...,k=v` (parsed; the builder decides which types it supports).
public struct RunMount: Sendable, Equatable {
  /// "bind" (the default when no type is given), "cache", "tmpfs", "secret", "ssh".
  public var type: String
  /// The other options in order, raw (`target=/x`, `readonly`, ...; a bare key has value "").
  public var options: [KeyValuePair]

  public init(type: String, options: [KeyValuePair]) {
    self.type = type
    self.options = options
  }

  /// The value of the last option named `key` (aliases are the builder's concern).
  public func option(_ key: String) -> String? {
    options.last(where: { $0.key == key })?.value
  }
}

/// `RUN [--mount=...] [--network=...] [--security=...] COMMAND`.
public struct RunInstruction: Sendable, Equatable {
  public var command: CommandForm
  public var mounts: [RunMount]
  /// `--network` (default, none, host) as written.
  public var network: String?
  /// `--security` (sandbox, insecure) as written.
  public var security: String?
  /// Here-documents in the shell-form command, in order.
  public var heredocs: [Heredoc]

  public init(command: CommandForm, mounts: [RunMount] = [], network: String? = nil, security: String? = nil, heredocs: [Heredoc] = []) {
    self.command = command
    self.mounts = mounts
    self.network = network
    self.security = security
    self.heredocs = heredocs
  }
}

/// COPY and ADD.
public struct CopyInstruction: Sendable, Equatable {
  /// The sources as written (paths, globs, URLs for ADD), heredoc sources excluded.
  public var sources: [String]
  /// Inline files (`COPY <<EOF /dest`): each is a source file named `name` with `content`.
  public var heredocs: [Heredoc]
  public var destination: String
  /// `--from=stage|index|image` (COPY only).
  public var from: String?
  public var chown: String?
  public var chmod: String?
  public var link: Bool
  /// `--parents` (COPY only).
  public var parents: Bool
  /// `--exclude=PATTERN`, several allowed.
  public var excludes: [String]
  /// ADD `--keep-git-dir`.
  public var keepGitDir: Bool
  /// ADD `--checksum=sha256:...`.
  public var checksum: String?
  /// Sources and destination came from a JSON array (`COPY ["a b", "/dst/"]`).
  public var isJSONForm: Bool

  public init(
    sources: [String], heredocs: [Heredoc] = [], destination: String, from: String? = nil, chown: String? = nil,
    chmod: String? = nil, link: Bool = false, parents: Bool = false, excludes: [String] = [],
    keepGitDir: Bool = false, checksum: String? = nil, isJSONForm: Bool = false
  ) {
    self.sources = sources
    self.heredocs = heredocs
    self.destination = destination
    self.from = from
    self.chown = chown
    self.chmod = chmod
    self.link = link
    self.parents = parents
    self.excludes = excludes
    self.keepGitDir = keepGitDir
    self.checksum = checksum
    self.isJSONForm = isJSONForm
  }
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [options] CMD ...`.
public enum HealthcheckInstruction: Sendable, Equatable {
  case none
  case command(CommandForm, HealthcheckOptions)

  /// The image config's `Healthcheck.Test`: ["NONE"], ["CMD", argv...] or ["CMD-SHELL", text].
  public var test: [String] {
    switch self {
    case .none: return ["NONE"]
    case .command(.exec(let argv), _): return ["CMD"] + argv
    case .command(.shell(let text), _): return ["CMD-SHELL", text]
    }
  }
}

/// HEALTHCHECK's options; durations in nanoseconds (the image config's unit), nil = not given.
public struct HealthcheckOptions: Sendable, Equatable {
  public var interval: Int64?
  public var timeout: Int64?
  public var startPeriod: Int64?
  public var startInterval: Int64?
  public var retries: Int?

  public init(interval: Int64? = nil, timeout: Int64? = nil, startPeriod: Int64? = nil, startInterval: Int64? = nil, retries: Int? = nil) {
    self.interval = interval
    self.timeout = timeout
    self.startPeriod = startPeriod
    self.startInterval = startInterval
    self.retries = retries
  }
}

extension Instruction {
  /// The here-documents of this instruction (RUN, COPY, ADD, or an ONBUILD trigger's).
  public var heredocs: [Heredoc] {
    switch kind {
    case .run(let run): return run.heredocs
    case .copy(let copy), .add(let copy): return copy.heredocs
    case .onbuild(let trigger): return trigger.heredocs
    default: return []
    }
  }

  /// The instruction as written with its heredoc bodies and terminators on the following lines:
  /// what Docker stores for an ONBUILD trigger (`trigger.sourceText`) and re-parses in the
  /// builds that use the image.
  public var sourceText: String {
    heredocs.reduce(original) { text, heredoc in text + "\n" + heredoc.content + heredoc.name }
  }
}
