import BerthEngine
import BerthImages
import BerthOCI
import BerthOS
import Foundation

/// `berth build`: runs a Dockerfile's stages on the engine's store and writes the image.
///
/// Each step starts from the state the previous one left (``BuildState``) and is looked up in
/// the cache first (``BuildCache``): a hit applies the recorded layer and config without
/// mounting or running anything, so a rebuild with no change starts no container and makes
/// no layer. RUN runs in a container of its own (``StepRunner``), COPY and ADD write into a
/// mounted step (``StepMount``); the overlay's upper directory becomes the step's layer
/// through `ImageCommitter`. Only the stages the target needs are built.
public final class Builder {
  /// Pulls an image into the store (`always`: even when it is there), as `berth run` does.
  public typealias Pull = @Sendable (_ name: String, _ always: Bool) async throws -> Void

  let engine: ContainerEngine
  let request: BuildRequest
  let output: BuildOutput
  let cache: BuildCache
  let committer: ImageCommitter
  let pullImage: Pull
  /// `<root>/build`: the steps' overlays and bundles while they run.
  let buildRoot: String
  var dockerfile: Dockerfile
  /// .dockerignore's rules (nil: none).
  let contextExcluded: (@Sendable (String, Bool) -> Bool)?
  var globalArgs: [String: String] = [:]
  var stageResults: [Int: BuildState] = [:]
  var usedBuildArgs: Set<String> = []
  var stepNumber = 0
  var stepTotal = 0
  var stepsRun = 0
  var stepsCached = 0
  /// Digests of context files hashed in this build, with the stat data they were taken at.
  var fileDigests: [String: (stamp: String, digest: String)] = [:]

  /// Build arguments Docker passes to RUN without an ARG instruction (and keeps out of the
  /// image's history).
  static let predefinedArgs: Set<String> = [
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy",
    "ALL_PROXY", "all_proxy",
  ]

  /// BuildKit's automatic platform arguments (TARGETARCH, BUILDPLATFORM...): usable in FROM
  /// lines, and in a stage once declared (`ARG TARGETARCH`). Builds are for this host only.
  static let platformArgs: [String: String] = {
    let host = Platform.host
    let platform = host.os + "/" + host.architecture + (host.variant.map { "/" + $0 } ?? "")
    var args: [String: String] = [:]
    for prefix in ["TARGET", "BUILD"] {
      args[prefix + "PLATFORM"] = platform
      args[prefix + "OS"] = host.os
      args[prefix + "ARCH"] = host.architecture
      args[prefix + "VARIANT"] = host.variant ?? ""
    }
    return args
  }()

  public init(engine: ContainerEngine, request: BuildRequest, pull: @escaping Pull) throws {
    self.engine = engine
    self.request = request
    output = BuildOutput(quiet: request.quiet)
    cache = BuildCache(store: engine.images)
    committer = ImageCommitter(store: engine.images)
    pullImage = pull
    buildRoot = engine.layout.root + "/build"
    dockerfile = try Dockerfile.parse(request.dockerfile, fileName: request.dockerfileName)
    contextExcluded = try Self.contextExclusion(context: request.contextDirectory)
  }

  public func build() async throws -> BuildResult {
    if let platform = request.platform { try Self.checkPlatform(platform, what: "--platform") }
    BuildInterrupt.shared.install()
    try FS.makeDirectories(buildRoot, mode: 0o700)
    BuildScratch.sweep(buildRoot, runtimeRoot: engine.layout.runtimeRoot(RuntimeChoice.defaultName))
    let target = try dockerfile.targetStageIndex(request.target)
    globalArgs = Self.platformArgs.merging(try dockerfile.globalArgValues(buildArgs: request.buildArgs)) { _, declared in declared }
    for instruction in dockerfile.globalArgs {
      if case .arg(let declarations) = instruction.kind { usedBuildArgs.formUnion(declarations.map(\.name)) }
    }
    let needed = try neededStages(target)
    stepTotal = needed.reduce(0) { $0 + 1 + dockerfile.stages[$1].instructions.count }
    for index in needed.sorted() {
      stageResults[index] = try await buildStage(index)
    }
    guard let final = stageResults[target] else {
      throw BerthError(.internalError, "stage \(target) was not built")
    }
    let unused = Set(request.buildArgs.keys).subtracting(usedBuildArgs).subtracting(Self.predefinedArgs)
      .subtracting(Self.platformArgs.keys)
    if !unused.isEmpty {
      writeToStandardError("[Warning] one or more build args were not consumed: \(unused.sorted().joined(separator: ", "))\n")
    }
    let image = try await writeImage(final)
    output.line("Successfully built \(image.id.shortID)")
    var tags: [String] = []
    for tag in request.tags {
      let reference = try ImageReference.parse(tag)
      tags.append(reference.tagged.description)
      output.line("Successfully tagged \(reference.tagged.familiarString)")
    }
    return BuildResult(imageID: image.id, tags: tags, stepsRun: stepsRun, stepsCached: stepsCached)
  }

  // MARK: stages

  /// The target and every stage it uses (FROM an earlier stage, COPY --from), by index.
  func neededStages(_ target: Int) throws -> Set<Int> {
    var needed: Set<Int> = []
    var pending = [target]
    let expander = WordExpander(escape: dockerfile.escape)
    while let index = pending.popLast() {
      guard needed.insert(index).inserted else { continue }
      let stage = dockerfile.stages[index]
      var references = [stage.from.image]
      for instruction in stage.instructions {
        switch instruction.kind {
        case .copy(let copy), .add(let copy):
          if let from = copy.from { references.append(from) }
        case .run(let run):
          references += run.mounts.compactMap { $0.option("from") }
        default: break
        }
      }
      for reference in references {
        let name = (try? expander.expand(reference, environment: globalArgs)) ?? reference
        if let used = dockerfile.stageIndex(forReference: name, before: index) { pending.append(used) }
      }
    }
    return needed
  }

  func buildStage(_ index: Int) async throws -> BuildState {
    let stage = dockerfile.stages[index]
    let from = stage.fromInstruction
    step(from)
    var state: BuildState
    var fromImage = false
    do {
      let expander = WordExpander(escape: dockerfile.escape)
      let name = try expander.expand(stage.from.image, environment: globalArgs)
      if let platform = stage.from.platform {
        try Self.checkPlatform(try expander.expand(platform, environment: globalArgs), what: "FROM --platform")
      }
      if name.isEmpty { throw BerthError(.invalidArgument, "FROM names no image (an empty build arg?)") }
      if let earlier = dockerfile.stageIndex(forReference: name, before: index), let built = stageResults[earlier] {
        state = built
      } else if name.lowercased() == "scratch" {
        state = .scratch(platform: .host)
      } else {
        state = try await imageState(name)
        fromImage = true
      }
    } catch let error as BerthError {
      throw lineError(from, error)
    }
    var scope = StageScope()
    // The base image's ONBUILD triggers run first, as if they followed the FROM line.
    if fromImage, let base = state.base {
      for trigger in (try engine.images.config(of: base).config.config?.OnBuild) ?? [] {
        output.line(" ---> Running the base image's ONBUILD trigger: \(trigger)")
        do {
          let parsed = try Dockerfile.parse("FROM scratch\n" + trigger, fileName: "ONBUILD")
          guard let instruction = parsed.stages.first?.instructions.first else { continue }
          try await execute(instruction, state: &state, scope: &scope, stage: index)
        } catch let error as BerthError {
          throw lineError(from, error.prefixed("ONBUILD \(trigger)"))
        }
      }
    }
    for instruction in stage.instructions {
      step(instruction)
      do {
        try await execute(instruction, state: &state, scope: &scope, stage: index)
      } catch let error as BerthError {
        throw lineError(instruction, error)
      }
    }
    return state
  }

  /// An image from the store, pulled when missing (or always with `--pull`).
  func imageState(_ name: String) async throws -> BuildState {
    let store = engine.images
    if request.pull || (try? store.resolve(name)) == nil {
      try await pullImage(name, request.pull)
    }
    return try .image(try store.resolve(name), store: store)
  }

  /// What a stage has declared and set so far.
  struct StageScope {
    /// ARGs declared in the stage, with their values (nil: declared, no value).
    var args: [String: String?] = [:]
    /// Whether the stage set CMD (an ENTRYPOINT then keeps it; else it clears the base's).
    var cmdSet = false

    /// The build args in scope with a value.
    var values: [String: String] {
      args.compactMapValues { $0 }
    }
  }

  // MARK: output and errors

  func step(_ instruction: Instruction) {
    stepNumber += 1
    output.line("STEP \(stepNumber)/\(stepTotal): \(instruction.original)")
  }

  func lineError(_ instruction: Instruction, _ error: BerthError) -> BerthError {
    let prefix = "\(dockerfile.fileName):\(instruction.line):"
    if error.message.hasPrefix(prefix) { return error }
    return BerthError(error.code, "\(prefix) \(instruction.original): \(error.message)", errno: error.errno)
  }

  static func checkPlatform(_ text: String, what: String) throws {
    let host = Platform.host
    let wanted: Platform
    do { wanted = try Platform.parse(text) } catch {
      throw BerthError(.invalidArgument, "\(what) \(text): \(error)")
    }
    guard wanted.os == host.os, wanted.architecture == host.architecture else {
      throw BerthError(
        .unsupported,
        "\(what) \(text): berth builds only for this host's platform (\(host.os)/\(host.architecture)); it cannot run another architecture's programs")
    }
  }

  // MARK: the image

  func writeImage(_ state: BuildState) async throws -> ImageRecord {
    var config = state.config
    if !request.labels.isEmpty {
      var container = config.config ?? ContainerConfig()
      container.Labels = (container.Labels ?? [:]).merging(request.labels) { _, new in new }
      config.config = container
    }
    if let epoch = request.sourceDateEpoch { config.created = Clock.rfc3339(seconds: Int(epoch), nanoseconds: 0) }
    let labels = request.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    let key = BuildCache.key(["image", state.id] + labels)
    if !request.noCache, let id = cache.image(key), let record = try engine.images.image(id: id) {
      for tag in request.tags { try engine.images.tag(id.description, as: tag) }
      return try engine.images.image(id: id) ?? record
    }
    let record = try await committer.writeImage(base: state.base, newLayers: state.layers, config: config, tags: request.tags)
    try? cache.saveImage(key, record.id)
    return record
  }
}
