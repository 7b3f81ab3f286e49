import ArgumentParser
import BerthEngine
import BerthOS
import Foundation

/// `berth container …`: the container commands under one name, as `docker container` has
/// them (`berth container rm` is `berth rm`, `container ls` is `ps`).
struct ContainerCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "container", abstract: "Manage containers.",
    subcommands: [
      Attach.self, Commit.self, CopyCommand.self, Create.self, Diff.self, Exec.self, ContainerInspect.self, Kill.self, Logs.self, ContainerList.self, Pause.self,
      Port.self, ContainerPrune.self, Remove.self, Rename.self, Restart.self, Run.self, Start.self, Stats.self, Stop.self,
      Top.self, Unpause.self, UpdateCommand.self, Wait.self,
    ])
}

/// `berth container ls` (also `list` and `ps`).
struct ContainerList: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "ls", abstract: "List containers.", aliases: ["list", "ps"])
  @OptionGroup var ps: Ps
  func run() async throws { try await ps.run() }
}

/// `berth container inspect`: containers only.
struct ContainerInspect: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more containers.")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Format output using a Go template.") var format: String?
  @Flag(name: .shortAndLong, help: "Display total file sizes.") var size = false
  @Argument(help: "Containers to inspect.") var names: [String] = []

  func validate() throws {
    if names.isEmpty { throw ValidationError("\"container inspect\" requires at least 1 argument") }
  }

  func run() async throws {
    try InspectRunner(engine: try global.engine(), kinds: [.container], size: size).run(names, format: format)
  }
}

/// `berth container prune [-f] [--filter until=…|label=…]`: removes every container that is
/// not running.
struct ContainerPrune: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove all stopped containers.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.") var force = false
  @Option(help: "Provide filter values (e.g. \"until=<timestamp>\").") var filter: [String] = []

  func run() async throws {
    let filters: ContainerPruneFilters
    do {
      filters = try ContainerPruneFilters(filter)
    } catch let error as BerthError {
      throw CLIOutput.daemonError(error.message)
    }
    if !force {
      guard CLIOutput.confirm("WARNING! This will remove all stopped containers.\n") else { return }
    }
    let result = try await global.engine().pruneContainers(filters: filters)
    CLIOutput.printSection("Deleted Containers:", result.removed)
    print("Total reclaimed space: \(CLIOutput.humanSize(result.reclaimed))")
  }
}
