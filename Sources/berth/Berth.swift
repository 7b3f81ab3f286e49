import ArgumentParser
import BerthImages
import BerthOS
import Foundation

/// `berth`: the daemonless engine's Docker-compatible command line.
@main
struct Berth: AsyncParsableCommand {
  static let version = "0.1.0"

  static let configuration = CommandConfiguration(
    commandName: "berth",
    abstract: "A daemonless, Docker-compatible container engine.",
    version: "berth version \(version)",
    subcommands: [
      Pull.self, Push.self, Login.self, Logout.self, Images.self, ImageCommand.self, Tag.self, Rmi.self,
      Save.self, Load.self, Import.self, History.self, Inspect.self,
      Build.self, BuilderCommand.self,
      Run.self, Create.self, Start.self, Stop.self, Restart.self, Kill.self, Remove.self, Pause.self, Unpause.self,
      Wait.self, Rename.self, Exec.self, Attach.self, Logs.self,
      Ps.self, Top.self, Port.self, Stats.self,
      Commit.self, Diff.self,
      CopyCommand.self, UpdateCommand.self, ContainerCommand.self, VolumeCommand.self, NetworkCommand.self, SystemCommand.self, Info.self,
      VersionCommand.self, DNSServerCommand.self,
    ])

  /// Runs the command line with Docker's exit codes: 125 for a usage mistake, 1 for a
  /// failed command, the command's own otherwise.
  static func main() async {
    // A closed pipe (`berth save | head`, a failed archive write) is an error, not a signal.
    signal(SIGPIPE, SIG_IGN)
    do {
      var command = try parseAsRoot(hoistGlobalOptions(Array(CommandLine.arguments.dropFirst())))
      if var asyncCommand = command as? AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch let error as BerthError {
      writeToStandardError("Error: \(error.message)\n")
      Foundation.exit(1)
    } catch let error as CommandFailure {
      if !error.message.isEmpty { writeToStandardError("Error: \(error.message)\n") }
      Foundation.exit(error.code)
    } catch {
      let code = exitCode(for: error)
      if code == .success {
        // --help, --version
        print(fullMessage(for: error))
        Foundation.exit(0)
      }
      var message = fullMessage(for: error)
      if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
      if error is ValidationError || code == .validationFailure {
        writeToStandardError("Error: \(message)\nSee 'berth --help'.\n")
        Foundation.exit(125)
      }
      writeToStandardError("Error: \(message)\n")
      Foundation.exit(code.rawValue == 64 ? 125 : 1)
    }
  }
}

extension Berth {
  /// Global options may come before the command, as with docker (`berth --root /x pull …`):
  /// they are taken off the front and applied through the environment every command reads.
  static func hoistGlobalOptions(_ arguments: [String]) -> [String] {
    var rest = arguments[...]
    hoisting: while let first = rest.first {
      for (flag, variable) in [("--root", "BERTH_ROOT"), ("--runroot", "BERTH_RUNROOT")] {
        if first == flag, rest.count >= 2 {
          setenv(variable, rest[rest.startIndex + 1], 1)
          rest = rest.dropFirst(2)
          continue hoisting
        }
        if first.hasPrefix(flag + "=") {
          setenv(variable, String(first.dropFirst(flag.count + 1)), 1)
          rest = rest.dropFirst()
          continue hoisting
        }
      }
      break
    }
    return Array(rest)
  }
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
  @Option(name: .long, help: "Where images and containers live (default /var/lib/berth, or $BERTH_ROOT).")
  var root: String?

  @Option(name: .long, help: "Where running containers' state lives (default /run/berth, or $BERTH_RUNROOT).")
  var runroot: String?

  func store() throws -> ImageStore {
    try ImageStore(root: root ?? StoreLayout.defaultRoot)
  }
}

/// A command's failure with an exit code of its own.
struct CommandFailure: Error {
  var message: String
  var code: Int32 = 1
}
