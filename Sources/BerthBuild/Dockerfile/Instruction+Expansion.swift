import BerthOS

extension Instruction {
  /// The instruction with variables expanded where Docker expands them: ADD, COPY (sources,
  /// destination, flags, heredoc bodies with an unquoted delimiter), ENV and LABEL (keys and
  /// values), ARG defaults (each seeing the earlier ones; see `Dockerfile.argValues` for build
  /// args and globals), EXPOSE (a word may become several), FROM (image, platform), RUN's
  /// `--mount` options, STOPSIGNAL, USER, VOLUME, WORKDIR. RUN/CMD/ENTRYPOINT commands are left
  /// to the shell, SHELL/HEALTHCHECK/MAINTAINER as written, ONBUILD triggers until they run.
  /// Every word sees `environment` as it was before this instruction (`ENV a=1 b=$a` gives b the
  /// old a, as Docker does). Errors name the file and line.
  public func expanded(environment: [String: String], escape: Character = "\\", fileName: String = "Dockerfile") throws -> Instruction {
    let expander = WordExpander(escape: escape)
    func word(_ text: String) throws -> String { try expander.expand(text, environment: environment) }
    func optional(_ text: String?) throws -> String? { try text.map(word) }
    var copy = self
    do {
      switch kind {
      case .from(var from):
        from.image = try word(from.image)
        from.platform = try optional(from.platform)
        copy.kind = .from(from)
      case .run(var run):
        run.mounts = try run.mounts.map { mount in
          RunMount(type: mount.type, options: try mount.options.map { KeyValuePair($0.key, try word($0.value)) })
        }
        copy.kind = .run(run)
      case .env(let pairs):
        copy.kind = .env(try pairs.map { KeyValuePair(try word($0.key), try word($0.value)) })
      case .label(let pairs):
        copy.kind = .label(try pairs.map { KeyValuePair(try word($0.key), try word($0.value)) })
      case .arg(let declarations):
        // Each default sees the ones before it in the same instruction (BuildKit sets them in turn).
        var scope = environment
        var expanded: [ArgDeclaration] = []
        for declaration in declarations {
          let value = try declaration.defaultValue.map { try expander.expand($0, environment: scope) }
          if let value { scope[declaration.name] = value }
          expanded.append(ArgDeclaration(name: declaration.name, defaultValue: value))
        }
        copy.kind = .arg(expanded)
      case .expose(let ports):
        copy.kind = .expose(try ports.flatMap { try expander.expandFields($0, environment: environment) })
      case .copy(let instruction):
        copy.kind = .copy(try instruction.expanded(expander, environment: environment))
      case .add(let instruction):
        copy.kind = .add(try instruction.expanded(expander, environment: environment))
      case .workdir(let path):
        copy.kind = .workdir(try word(path))
      case .user(let user):
        copy.kind = .user(try word(user))
      case .stopSignal(let signal):
        copy.kind = .stopSignal(try word(signal))
      case .volume(let paths):
        let expanded = try paths.map(word)
        if expanded.contains(where: { $0.trimmingWhitespace().isEmpty }) {
          throw BerthError(.invalidArgument, "VOLUME specified can not be an empty string")
        }
        copy.kind = .volume(expanded)
      case .cmd, .entrypoint, .shell, .healthcheck, .onbuild, .maintainer:
        break
      }
    } catch let error as BerthError {
      throw BerthError(.invalidArgument, "\(fileName):\(line): \(keyword): \(error.message)")
    }
    return copy
  }
}

extension CopyInstruction {
  func expanded(_ expander: WordExpander, environment: [String: String]) throws -> CopyInstruction {
    func word(_ text: String) throws -> String { try expander.expand(text, environment: environment) }
    var copy = self
    copy.sources = try sources.map(word)
    copy.destination = try word(destination)
    copy.from = try from.map(word)
    copy.chown = try chown.map(word)
    copy.chmod = try chmod.map(word)
    copy.checksum = try checksum.map(word)
    copy.excludes = try excludes.map(word)
    copy.heredocs = try heredocs.map { heredoc in
      guard heredoc.expand else { return heredoc }
      var expanded = heredoc
      expanded.content = try expander.expandHeredoc(heredoc.content, environment: environment)
      return expanded
    }
    return copy
  }
}
