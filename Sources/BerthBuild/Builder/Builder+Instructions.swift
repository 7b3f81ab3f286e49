import BerthEngine
import BerthImages
import BerthJSON
import BerthOCI
import BerthOS
import Foundation

extension Builder {
  /// Runs one instruction of a stage on `state`.
  func execute(_ instruction: Instruction, state: inout BuildState, scope: inout StageScope, stage: Int) async throws {
    let expander = WordExpander(escape: dockerfile.escape)
    let environment = state.expansionEnvironment(args: scope.values)
    func expand(_ word: String) throws -> String { try expander.expand(word, environment: environment) }
    func fields(_ word: String) throws -> [String] { try expander.expandFields(word, environment: environment) }

    switch instruction.kind {
    case .from:
      throw BerthError(.internalError, "FROM inside a stage")
    case .arg(let declarations):
      // Declarations change no config and make no history entry (as BuildKit); RUN steps
      // see the values, and their cache keys include them.
      for declaration in declarations {
        usedBuildArgs.insert(declaration.name)
        var value: String? = request.buildArgs[declaration.name]
        // A default sees the declarations before it in the same instruction (`ARG A=1 B=$A`).
        if value == nil, let raw = declaration.defaultValue {
          value = try expander.expand(raw, environment: state.expansionEnvironment(args: scope.values))
        }
        if value == nil, let global = globalArgs[declaration.name] { value = global }
        scope.args[declaration.name] = .some(value)
      }
    case .env(let pairs):
      var config = state.containerConfig
      var env = config.Env ?? []
      var shown: [String] = []
      for pair in pairs {
        let key = try expand(pair.key), value = try expand(pair.value)
        env.removeAll { StepRunner.key($0) == Substring(key) }
        env.append(key + "=" + value)
        shown.append(key + "=" + value)
      }
      config.Env = env
      try metadataStep(&state, "ENV " + shown.joined(separator: " "), config)
    case .label(let pairs):
      var config = state.containerConfig
      var labels = config.Labels ?? [:]
      var shown: [String] = []
      for pair in pairs {
        let key = try expand(pair.key), value = try expand(pair.value)
        labels[key] = value
        shown.append(key + "=" + value)
      }
      config.Labels = labels
      try metadataStep(&state, "LABEL " + shown.joined(separator: " "), config)
    case .expose(let words):
      var config = state.containerConfig
      var ports = config.ExposedPorts ?? [:]
      var shown: [String] = []
      for word in words {
        for port in try fields(word) {
          let normalized = port.contains("/") ? port.lowercased() : port + "/tcp"
          ports[normalized] = EmptyObject()
          shown.append(normalized)
        }
      }
      config.ExposedPorts = ports
      try metadataStep(&state, "EXPOSE " + shown.joined(separator: " "), config)
    case .workdir(let raw):
      var config = state.containerConfig
      let path = try expand(raw)
      let current = (config.WorkingDir ?? "").isEmpty ? "/" : config.WorkingDir ?? "/"
      let absolute = Path.clean(path.hasPrefix("/") ? path : Path.join(current, path))
      config.WorkingDir = absolute
      try await workdirStep(&state, absolute, config)
    case .user(let raw):
      var config = state.containerConfig
      config.User = try expand(raw)
      try metadataStep(&state, "USER " + (config.User ?? ""), config)
    case .volume(let words):
      var config = state.containerConfig
      var volumes = config.Volumes ?? [:]
      var shown: [String] = []
      for word in words {
        // Each path is one word, spaces included (`VOLUME ["/my data"]`).
        for path in [try expand(word)] where !path.isEmpty {
          volumes[path] = EmptyObject()
          shown.append(path)
        }
      }
      config.Volumes = volumes
      try metadataStep(&state, "VOLUME [" + shown.map(Self.jsonString).joined(separator: " ") + "]", config)
    case .stopSignal(let raw):
      var config = state.containerConfig
      let signal = try expand(raw)
      _ = try Signals.parse(signal)
      config.StopSignal = signal
      try metadataStep(&state, "STOPSIGNAL " + signal, config)
    case .healthcheck(let healthcheck):
      var config = state.containerConfig
      switch healthcheck {
      case .none:
        config.Healthcheck = HealthcheckConfig(Test: ["NONE"])
      case .command(_, let options):
        config.Healthcheck = HealthcheckConfig(
          Test: healthcheck.test, Interval: options.interval, Timeout: options.timeout, StartPeriod: options.startPeriod,
          StartInterval: options.startInterval, Retries: options.retries)
      }
      try metadataStep(&state, "HEALTHCHECK " + Self.jsonArray(healthcheck.test), config)
    case .shell(let argv):
      var config = state.containerConfig
      config.Shell = argv
      try metadataStep(&state, "SHELL " + Self.jsonArray(argv), config)
    case .cmd(let form):
      var config = state.containerConfig
      config.Cmd = form.arguments(shell: config.Shell ?? ["/bin/sh", "-c"])
      scope.cmdSet = true
      try metadataStep(&state, "CMD " + Self.jsonArray(config.Cmd ?? []), config)
    case .entrypoint(let form):
      var config = state.containerConfig
      config.Entrypoint = form.arguments(shell: config.Shell ?? ["/bin/sh", "-c"])
      // Docker: an ENTRYPOINT clears a CMD that came from the base image.
      if !scope.cmdSet { config.Cmd = nil }
      try metadataStep(&state, "ENTRYPOINT " + Self.jsonArray(config.Entrypoint ?? []), config)
    case .onbuild(let trigger):
      var config = state.containerConfig
      var text = trigger.original
      if text.uppercased().hasPrefix("ONBUILD ") { text = String(text.dropFirst("ONBUILD ".count)) }
      config.OnBuild = (config.OnBuild ?? []) + [text]
      try metadataStep(&state, "ONBUILD " + text, config)
    case .maintainer(let name):
      state.config.author = try expand(name)
      try metadataStep(&state, "MAINTAINER " + (state.config.author ?? ""), state.containerConfig)
    case .run(let run):
      try await runStep(&state, run, scope: scope, stage: stage, instruction: instruction)
    case .copy(let copy):
      try await copyStep(&state, copy, isAdd: false, environment: environment, stage: stage, instruction: instruction)
    case .add(let copy):
      try await copyStep(&state, copy, isAdd: true, environment: environment, stage: stage, instruction: instruction)
    }
  }

  /// A step that changes only the config: an empty-layer history entry. Cached too, so that
  /// a rebuild keeps the entry's time and the image its ID.
  func metadataStep(_ state: inout BuildState, _ createdBy: String, _ config: ContainerConfig) throws {
    let key = BuildCache.key([state.id, createdBy, Self.configKey(config)])
    if !request.noCache, let entry = cache.lookup(key), entry.layer == nil {
      state.apply(entry, key: key)
      noteMetadata(cached: true)
      return
    }
    let entry = CacheEntry(layer: nil, config: config, history: History(created: now(), created_by: createdBy, empty_layer: true))
    try? cache.save(key, entry)
    state.apply(entry, key: key)
    noteMetadata(cached: false)
  }

  func noteMetadata(cached: Bool) {
    if cached {
      stepsCached += 1
      output.line(" ---> Using cache")
    } else {
      stepsRun += 1
    }
  }

  /// WORKDIR: the directory is made when the image lacks it (a layer with just that), else
  /// only the config changes.
  func workdirStep(_ state: inout BuildState, _ path: String, _ config: ContainerConfig) async throws {
    let createdBy = "WORKDIR " + path
    let key = BuildCache.key([state.id, createdBy, Self.configKey(config)])
    if !request.noCache, let entry = cache.lookup(key) {
      state.apply(entry, key: key)
      noteMetadata(cached: true)
      return
    }
    let started = Clock.monotonicNanoseconds()
    let lowers = state.lowerDirectories(engine.images.layout)
    let mount = try StepMount(buildRoot: buildRoot, lowers: lowers)
    defer { mount.remove() }
    let writer = try RootedWriter(root: mount.rootfs)
    var layer: CommittedLayer?
    if !writer.isDirectory(path) {
      let owner = try? UserResolver.resolve(config.User ?? "", rootfs: mount.rootfs)
      try writer.makeDirectories(path, owner: owner.map { ($0.user.uid, $0.user.gid) })
      try mount.unmount()
      // The new directories take the base image's time: the same for every build on that base.
      let baseTime = state.base?.created.flatMap { try? DockerTime.parse($0, localOffset: 0).seconds } ?? 0
      try TimeNormalizer.normalize(
        upper: mount.upper, lowers: lowers, newTime: Int(baseTime))
      layer = try await committer.commitLayer(
        fromDirectory: mount.upper, parentChainID: state.topChainID, clampMTime: request.sourceDateEpoch)
    }
    let entry = CacheEntry(
      layer: layer.map(CachedLayer.init), config: config,
      history: History(created: now(), created_by: createdBy, empty_layer: layer == nil ? true : nil))
    try? cache.save(key, entry)
    state.apply(entry, key: key)
    stepsRun += 1
    output.line(" ---> Done in \(BuildOutput.seconds(since: started))")
  }

  /// RUN: the command in a container on the state; its changes become a layer.
  func runStep(_ state: inout BuildState, _ run: RunInstruction, scope: StageScope, stage: Int, instruction: Instruction) async throws {
    let expander = WordExpander(escape: dockerfile.escape)
    let environment = state.expansionEnvironment(args: scope.values)
    let workdir = (state.containerConfig.WorkingDir ?? "").isEmpty ? "/" : state.containerConfig.WorkingDir ?? "/"
    let mountRequests = try mountRequests(run.mounts, expand: { try expander.expand($0, environment: environment) }, workdir: workdir)
    let network = try run.network.map { try BuildNetwork.parse($0) } ?? request.network
    let config = state.containerConfig
    let arguments: [String]
    var script: (path: String, content: String)?
    switch run.script(shell: config.Shell ?? ["/bin/sh", "-c"]) {
    case .arguments(let argv): arguments = argv
    case .scriptFile(let path, let content):
      arguments = [path]
      script = (path, content)
    }
    var argEnv = scope.values.filter { !Self.predefinedArgs.contains($0.key) }.map { "\($0.key)=\($0.value)" }.sorted()
    var createdBy = "RUN "
    if !argEnv.isEmpty { createdBy += "|\(argEnv.count) " + argEnv.joined(separator: " ") + " " }
    createdBy += arguments.joined(separator: " ")
    if let script { createdBy += "\n" + script.content }
    // Proxies given as build args reach the command without being declared or recorded.
    for name in Self.predefinedArgs.sorted() {
      if let value = request.buildArgs[name] { argEnv.append("\(name)=\(value)") }
    }
    let key = BuildCache.key([state.id, createdBy, "network=\(network.rawValue)"] + (try await mountKey(mountRequests, stage: stage)))
    if !request.noCache, let entry = cache.lookup(key) {
      state.apply(entry, key: key)
      noteMetadata(cached: true)
      return
    }
    let started = Clock.monotonicNanoseconds()
    let mount = try StepMount(buildRoot: buildRoot, lowers: state.lowerDirectories(engine.images.layout))
    defer { mount.remove() }
    var mountSources: [StepMount] = []
    defer { for source in mountSources { source.remove() } }
    let extraMounts = try await runtimeMounts(mountRequests, stage: stage, keep: &mountSources)
    let runner = StepRunner(engine: engine, network: network)
    let imageConfig = state.config
    let (status, captured) = try output.withStepOutput(directory: mount.directory) { fds in
      try runner.run(arguments, in: mount, config: imageConfig, extraEnv: argEnv, script: script, extraMounts: extraMounts, output: fds)
    }
    guard status == .exited(0) else {
      let what: String
      switch status {
      case .exited(let code): what = "exit code \(code)"
      case .signaled(let signal): what = "killed by signal \(Signals.name(of: signal))"
      }
      let shown = captured.isEmpty ? "" : "\n" + captured.trimmingCharacters(in: .newlines)
      throw BerthError(.commandFailed, "\(dockerfile.fileName):\(instruction.line): \(instruction.original): \(what)\(shown)")
    }
    let layer = try await committer.commitLayer(
      fromDirectory: mount.upper, parentChainID: state.topChainID, clampMTime: request.sourceDateEpoch)
    let entry = CacheEntry(layer: CachedLayer(layer), config: config, history: History(created: now(), created_by: createdBy))
    try? cache.save(key, entry)
    state.apply(entry, key: key)
    stepsRun += 1
    output.line(" ---> Done in \(BuildOutput.seconds(since: started))")
  }

  /// The step time for history: SOURCE_DATE_EPOCH when set, else now.
  func now() -> String {
    if let epoch = request.sourceDateEpoch { return Clock.rfc3339(seconds: Int(epoch), nanoseconds: 0) }
    return Clock.rfc3339Now()
  }

  /// The config's JSON, part of a metadata step's key (the step's result depends on it).
  static func configKey(_ config: ContainerConfig) -> String {
    (try? JSON.encodeString(config, options: .sortedKeys)) ?? ""
  }

  static func jsonString(_ text: String) -> String {
    (try? JSON.encodeString(text)) ?? quoted(text)
  }

  static func jsonArray(_ values: [String]) -> String {
    "[" + values.map(jsonString).joined(separator: ",") + "]"
  }
}
