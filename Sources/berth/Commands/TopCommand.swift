import ArgumentParser
import BerthEngine
import BerthOS

/// `berth top CONTAINER [ps OPTIONS]`: the host's `ps` (default `-ef`), narrowed to the
/// container's processes.
struct Top: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "top", abstract: "Display the running processes of a container.")
  @OptionGroup var global: GlobalOptions
  @Argument(help: "The container (name or ID).") var container: String
  @Argument(parsing: .captureForPassthrough, help: "Options for ps (default -ef).") var psOptions: [String] = []

  func run() async throws {
    let engine = try global.engine()
    let list: ContainerProcessList
    do {
      list = try engine.top(try engine.containers.resolve(container), psArguments: psOptions)
    } catch let error as BerthError {
      throw CLIOutput.daemonError(error.message)
    }
    // docker's top table: tab-separated cells through a tabwriter with a 20-wide minimum.
    let table = TextTable(rows: [list.titles] + list.processes)
    print(table.render(minimumWidth: 20), terminator: "")
  }
}
