import ArgumentParser
import BerthEngine
import BerthImages
import BerthOS
import Foundation

extension GlobalOptions {
  /// The engine over the store (`--root`, BERTH_ROOT) and its run root (`--runroot`,
  /// BERTH_RUNROOT).
  func engine() throws -> ContainerEngine {
    try ContainerEngine(root: root ?? StoreLayout.defaultRoot, runRoot: runroot)
  }
}

/// Runs `body` for each named container, as Docker's multi-container commands do: every
/// name is tried; each failure is printed (`Error: …`, or as `report` words it) unless
/// `ignoring` accepts it; the command fails (exit 1) if any did.
func forEachContainer(
  _ names: [String], engine: ContainerEngine, ignoring: (BerthError) -> Bool = { _ in false },
  report: (String) -> Void = printError,
  _ body: (ContainerRecord, String) async throws -> Void
) async throws {
  var failed = false
  for name in names {
    do {
      try await body(try engine.containers.resolve(name), name)
    } catch let error as BerthError {
      if ignoring(error) { continue }
      report(error.message)
      failed = true
    } catch {
      report("\(error)")
      failed = true
    }
  }
  if failed { throw CommandFailure(message: "") }
}

/// A failure as berth prints its own: `Error: …`.
func printError(_ message: String) {
  writeToStandardError("Error: \(message)\n")
}

struct ContainerNames: ParsableArguments {
  @Argument(help: "Containers (names or IDs).") var names: [String] = []

  func validate(_ command: String) throws {
    if names.isEmpty { throw ValidationError("\"\(command)\" requires at least 1 argument") }
  }

  /// Does `action` to each container (``forEachContainer(_:engine:ignoring:report:_:)``) and
  /// prints the name, as typed, of each it was done to.
  func each(
    _ global: GlobalOptions, ignoring: (BerthError) -> Bool = { _ in false },
    report: (String) -> Void = printError,
    _ action: (ContainerEngine, ContainerRecord) async throws -> Void
  ) async throws {
    let engine = try global.engine()
    try await forEachContainer(names, engine: engine, ignoring: ignoring, report: report) { record, name in
      try await action(engine, record)
      print(name)
    }
  }
}

/// `berth start`.
struct Start: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "start", abstract: "Start one or more stopped containers.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Attach STDOUT/STDERR and forward signals.") var attach = false
  @Flag(name: .shortAndLong, help: "Attach container's STDIN.") var interactive = false
  @Option(name: .customLong("detach-keys"), help: "Override the key sequence for detaching a container.") var detachKeys: String?
  @OptionGroup var containers: ContainerNames

  func validate() throws {
    try containers.validate("start")
    if (attach || interactive) && containers.names.count > 1 {
      throw ValidationError("you cannot start and attach multiple containers at once")
    }
  }

  func run() async throws {
    if attach || interactive {
      let engine = try global.engine()
      let record = try engine.containers.resolve(containers.names[0])
      let code = try await Foreground.startAttached(
        record, engine: engine, stdin: interactive && record.options.openStdin, detachKeys: try DetachKeys.parse(detachKeys))
      throw CommandFailure(message: "", code: code)
    }
    try await containers.each(global) { engine, record in _ = try await engine.start(record) }
  }
}

/// `berth stop`.
struct Stop: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop one or more running containers.")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Signal to send to the container.") var signal: String?
  @Option(name: [.short, .customLong("timeout")], help: "Seconds to wait before killing the container.") var time: Int?
  @OptionGroup var containers: ContainerNames

  func validate() throws { try containers.validate("stop") }

  func run() async throws {
    try await containers.each(global) { engine, record in try await engine.stop(record, timeout: time, signal: signal) }
  }
}

/// `berth restart`.
struct Restart: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "restart", abstract: "Restart one or more containers.")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Signal to send to the container.") var signal: String?
  @Option(name: [.short, .customLong("timeout")], help: "Seconds to wait before killing the container.") var time: Int?
  @OptionGroup var containers: ContainerNames

  func validate() throws { try containers.validate("restart") }

  func run() async throws {
    try await containers.each(global) { engine, record in
      try await engine.stop(record, timeout: time, signal: signal)
      _ = try await engine.start(record)
    }
  }
}

/// `berth kill`.
struct Kill: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "kill", abstract: "Kill one or more running containers.")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Signal to send to the container.") var signal = "KILL"
  @OptionGroup var containers: ContainerNames

  func validate() throws {
    try containers.validate("kill")
    do { _ = try Signals.parse(signal) } catch let error as BerthError { throw ValidationError(error.message) }
  }

  func run() async throws {
    try await containers.each(global) { engine, record in try await engine.kill(record, signal: signal) }
  }
}

/// `berth rm`.
struct Remove: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more containers.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Force the removal of a running container (uses SIGKILL).") var force = false
  @Flag(name: .shortAndLong, help: "Remove anonymous volumes associated with the container.") var volumes = false
  @Flag(name: .shortAndLong, help: "Remove the specified link (not supported).") var link = false
  @OptionGroup var containers: ContainerNames

  func validate() throws {
    try containers.validate("rm")
    if link { throw ValidationError("--link: Berth has no container links") }
  }

  func run() async throws {
    // `rm -f` of what is gone already is not an error (Docker agrees).
    try await containers.each(global, ignoring: { force && $0.code == .notFound }) { engine, record in
      try await engine.remove(record, force: force, removeVolumes: volumes)
    }
  }
}

/// `berth pause` / `berth unpause`.
struct Pause: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "pause", abstract: "Pause all processes within one or more containers.")
  @OptionGroup var global: GlobalOptions
  @OptionGroup var containers: ContainerNames

  func validate() throws { try containers.validate("pause") }

  func run() async throws {
    try await containers.each(global) { engine, record in try await engine.pause(record) }
  }
}

struct Unpause: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "unpause", abstract: "Unpause all processes within one or more containers.")
  @OptionGroup var global: GlobalOptions
  @OptionGroup var containers: ContainerNames

  func validate() throws { try containers.validate("unpause") }

  func run() async throws {
    try await containers.each(global) { engine, record in try await engine.unpause(record) }
  }
}

/// `berth wait`.
struct Wait: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "wait", abstract: "Block until one or more containers stop, then print their exit codes.")
  @OptionGroup var global: GlobalOptions
  @OptionGroup var containers: ContainerNames

  func validate() throws { try containers.validate("wait") }

  func run() async throws {
    let engine = try global.engine()
    try await forEachContainer(containers.names, engine: engine) { record, _ in
      print(try await engine.wait(record))
    }
  }
}

/// `berth rename`.
struct Rename: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "rename", abstract: "Rename a container.")
  @OptionGroup var global: GlobalOptions
  @Argument(help: "The container.") var container: String
  @Argument(help: "Its new name.") var newName: String

  func run() async throws {
    let engine = try global.engine()
    let record = try engine.containers.resolve(container)
    let name = newName.hasPrefix("/") ? String(newName.dropFirst()) : newName
    try ContainerOptions.checkContainerName(name)
    if name == record.name {
      throw CommandFailure(message: "Renaming a container with the same name as its current name")
    }
    try engine.containers.rename(record.id, to: name)
  }
}
