import ArgumentParser
import BerthArchive
import BerthBuild
import BerthEngine
import BerthImages
import BerthOS
import Foundation

/// `berth build [OPTIONS] CONTEXT`: an image from a Dockerfile. CONTEXT is a directory, or `-`
/// for a Dockerfile or a tar context (plain, gzip or zstd) on stdin.
struct Build: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "build", abstract: "Build an image from a Dockerfile.",
    discussion: """
      RUN steps share the host's network namespace unless --network none is given.
      The build cache lives in the store (ROOT/build-cache); --no-cache ignores it.
      """)
  @OptionGroup var global: GlobalOptions
  @Option(name: [.short, .customLong("tag")], help: "Name and optionally a tag (name:tag); may be repeated.") var tags: [String] = []
  @Option(name: [.short, .customLong("file")], help: "The Dockerfile (default CONTEXT/Dockerfile; - for stdin).") var file: String?
  @Option(name: .customLong("build-arg"), help: "Set a build-time variable (K=V, or K to take it from the environment).")
  var buildArgs: [String] = []
  @Option(help: "The stage to build.") var target: String?
  @Flag(name: .customLong("no-cache"), help: "Do not use the build cache.") var noCache = false
  @Flag(help: "Always pull the FROM images.") var pull = false
  @Option(name: .customLong("label"), help: "Set a label on the image (K=V).") var labels: [String] = []
  @Flag(name: [.short, .customLong("quiet")], help: "Print only the image ID.") var quiet = false
  @Option(help: "Write the image ID to this file.") var iidfile: String?
  @Option(help: "The target platform (only this host's).") var platform: String?
  @Option(help: "The network of RUN steps: host (default) or none.") var network = "host"
  @Argument(help: "A directory, or - for stdin.") var context: String

  func run() async throws {
    let engine = try global.engine()
    var temporary: (directory: String, lock: FileLock)?
    defer {
      if let temporary {
        try? FS.removeTree(temporary.directory)
        BuildScratch.release(temporary.directory, lock: temporary.lock)
      }
    }
    let (contextDirectory, dockerfile, name) = try readContext(engine: engine, temporary: &temporary)

    var request = BuildRequest(contextDirectory: contextDirectory, dockerfile: dockerfile, dockerfileName: name)
    request.tags = tags
    request.target = target
    request.noCache = noCache
    request.pull = pull
    request.quiet = quiet
    request.platform = platform
    request.network = try BuildNetwork.parse(network)
    for argument in buildArgs {
      let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
      if parts.count == 2 {
        request.buildArgs[parts[0]] = parts[1]
      } else if let value = ProcessInfo.processInfo.environment[parts[0]] {
        request.buildArgs[parts[0]] = value
      }
    }
    for label in labels {
      let parts = label.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
      guard !parts[0].isEmpty else { throw ValidationError("invalid label \(quoted(label)): give KEY=VALUE") }
      request.labels[parts[0]] = parts.count == 2 ? parts[1] : ""
    }
    if let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !epoch.isEmpty {
      guard let value = Int64(epoch), value >= 0 else {
        throw BerthError(.invalidArgument, "SOURCE_DATE_EPOCH=\(epoch): give seconds since 1970")
      }
      request.sourceDateEpoch = value
    }

    let store = engine.images
    let builder = try Builder(engine: engine, request: request) { image, always in
      try await ContainerCreation.ensureImage(image, store: store, policy: always ? "always" : "missing", platform: nil)
    }
    let result = try await builder.build()
    if let iidfile { try FS.write(iidfile, result.imageID.description) }
    if quiet { print(result.imageID.description) }
  }

  /// The context directory, the Dockerfile's text and its name for messages. A tar on stdin
  /// is unpacked into a directory under the store (`temporary`, removed by the caller).
  private func readContext(engine: ContainerEngine, temporary: inout (directory: String, lock: FileLock)?) throws -> (String, String, String) {
    if context == "-" {
      if file == "-" { throw ValidationError("-f - and a context on stdin (-) cannot both read stdin") }
      let input = try readAllBytes(0)
      let directory = engine.layout.root + "/build/context-" + ContainerStore.newID().prefix(16)
      try FS.makeDirectories(engine.layout.root + "/build", mode: 0o700)
      temporary = (directory, try BuildScratch.claim(directory))
      try FS.makeDirectories(directory, mode: 0o700)
      if Self.looksLikeTar(input) {
        let archive = directory + ".tar"
        try FS.write(archive, input, mode: 0o600)
        defer { unlink(archive) }
        _ = try LayerUnpacker.unpack(
          file: archive, into: directory, compression: nil, options: UnpackOptions(preserveOwners: true, overlayWhiteouts: false))
        let name = file ?? "Dockerfile"
        guard let text = try? FS.readText(Path.join(directory, name)) else {
          throw BerthError(.notFound, "the context on stdin has no \(name): add it to the tar, or name it with -f")
        }
        return (directory, text, name)
      }
      // A Dockerfile alone: an empty context.
      return (directory, String(decoding: input, as: UTF8.self), "Dockerfile")
    }
    guard FS.isDirectory(context) else {
      throw BerthError(.notFound, "unable to prepare context: path \(quoted(context)) not found (give a directory, or - for stdin)")
    }
    let directory = Path.absolute(context)
    if file == "-" { return (directory, String(decoding: try readAllBytes(0), as: UTF8.self), "Dockerfile") }
    var path = file ?? Path.join(directory, "Dockerfile")
    if let file, !FS.exists(file), !file.hasPrefix("/") { path = Path.join(directory, file) }
    guard let text = try? FS.readText(path) else {
      throw BerthError(.notFound, "cannot read the Dockerfile \(path): no such file (name it with -f)")
    }
    return (directory, text, Path.basename(path))
  }

  /// A tar stream: gzip or zstd magic, or "ustar" in the first header.
  static func looksLikeTar(_ bytes: [UInt8]) -> Bool {
    if bytes.starts(with: [0x1f, 0x8b]) || bytes.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) { return true }
    return bytes.count >= 262 && Array(bytes[257..<262]) == Array("ustar".utf8)
  }
}
