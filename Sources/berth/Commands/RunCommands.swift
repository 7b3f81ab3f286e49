import ArgumentParser
import BerthEngine
import BerthImages
import BerthOCI
import BerthOS
import BerthRegistry
import Foundation

/// `berth create IMAGE [COMMAND [ARG...]]`: prints the new container's ID.
struct Create: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "create", abstract: "Create a new container.", helpNames: [.long])
  @OptionGroup var global: GlobalOptions
  @OptionGroup var flags: ContainerFlags
  @Argument(parsing: .captureForPassthrough, help: "IMAGE [COMMAND] [ARG...]") var imageAndCommand: [String] = []

  func run() async throws {
    let (_, record) = try await ContainerCreation.create(flags: flags, imageAndCommand: imageAndCommand, global: global, command: "create")
    print(record.id)
  }
}

/// `berth run`: create and start; without `-d`, attached until the container exits, with its
/// exit code.
struct Run: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run", abstract: "Create and run a new container from an image.", helpNames: [.long])
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Run container in background and print container ID.") var detach = false
  @Option(name: .customLong("detach-keys"), help: "Override the key sequence for detaching a container.") var detachKeys: String?
  @OptionGroup var flags: ContainerFlags
  @Argument(parsing: .captureForPassthrough, help: "IMAGE [COMMAND] [ARG...]") var imageAndCommand: [String] = []

  func run() async throws {
    let keys = try DetachKeys.parse(detachKeys)
    if detach && !flags.attach.isEmpty {
      throw CommandFailure(message: "Conflicting options: -a and -d", code: 125)
    }
    let (engine, record) = try await ContainerCreation.create(
      flags: flags, imageAndCommand: imageAndCommand, global: global, command: "run", detach: detach)
    if detach {
      do {
        _ = try await engine.start(record)
      } catch let failure as StartFailure {
        if record.options.autoRemove { try? await engine.remove(record, force: true, removeVolumes: true) }
        throw CommandFailure(message: failure.message, code: failure.exitCode)
      }
      print(record.id)
      return
    }
    let code: Int32
    do {
      code = try await Foreground.startAttached(record, engine: engine, stdin: record.options.openStdin, detachKeys: keys)
    } catch let failure as CommandFailure {
      if record.options.autoRemove { try? await engine.remove(record, force: true, removeVolumes: true) }
      throw failure
    }
    if code != 0 { throw CommandFailure(message: "", code: code) }
  }
}

/// What `run` and `create` share: check the flags, find (or pull) the image, create.
enum ContainerCreation {
  static func create(
    flags: ContainerFlags, imageAndCommand arguments: [String], global: GlobalOptions, command: String, detach: Bool = false
  ) async throws -> (ContainerEngine, ContainerRecord) {
    // "--" ends the flags (`run --rm -- busybox true`), as in Docker.
    let imageAndCommand = arguments.first == "--" ? Array(arguments.dropFirst()) : arguments
    guard let image = imageAndCommand.first else {
      throw CommandFailure(message: "\"\(command)\" requires at least 1 argument.\nSee 'berth \(command) --help'.", code: 125)
    }
    // The passthrough argument takes a flag ArgumentParser does not know: Docker's wording.
    if image.hasPrefix("--") {
      let flag = image.split(separator: "=", maxSplits: 1).first.map(String.init) ?? image
      throw CommandFailure(message: "unknown flag: \(flag)\nSee 'berth \(command) --help'.", code: 125)
    }
    if image.hasPrefix("-"), let letter = image.dropFirst().first {
      throw CommandFailure(
        message: "unknown shorthand flag: '\(letter)' in \(image)\nSee 'berth \(command) --help'.", code: 125)
    }
    do {
      try flags.check()
      var values = flags.values
      values.detach = detach
      let options = try ContainerOptions.parse(values, image: image, command: Array(imageAndCommand.dropFirst()))
      let engine = try global.engine()
      try await ensureImage(image, store: engine.images, policy: flags.pull, platform: flags.platform)
      let record = try await engine.create(options)
      return (engine, record)
    } catch let error as BerthError {
      // Docker's `run` and `create` exit 125 for every engine error.
      throw CommandFailure(message: error.message, code: 125)
    }
  }

  /// `--pull missing|always|never`, as Docker: "Unable to find image … locally", then the pull's
  /// short story on stderr (stdout carries only the container's ID or output).
  static func ensureImage(_ name: String, store: ImageStore, policy: String, platform: String?) async throws {
    if policy != "always", (try? store.resolve(name)) != nil { return }
    guard let reference = try? ImageReference.parse(name) else {
      throw BerthError(.invalidArgument, "invalid reference format: \(quoted(name)) is not an image name (use NAME[:TAG] or NAME@DIGEST)")
    }
    if policy == "never" { throw BerthError(.notFound, "No such image: \(reference.tagged.familiarString)") }
    let shown = reference.digest == nil ? reference.tagged.familiarString : reference.familiarString
    if policy == "missing" { writeToStandardError("Unable to find image '\(shown)' locally\n") }
    let target = try platform.map { try Platform.parse($0) } ?? .host
    let client = RegistryClient()
    do {
      let image = try await Puller(store: store, client: client).pull(reference, platform: target) { _ in }
      try? await client.shutdown()
      if let digest = image.repoDigests.first(where: { $0.hasPrefix(reference.repository + "@") }) {
        writeToStandardError("Digest: \(digest.split(separator: "@").last.map(String.init) ?? "")\n")
      }
      writeToStandardError("Status: Downloaded newer image for \(shown)\n")
    } catch {
      try? await client.shutdown()
      throw error
    }
  }
}
