#if canImport(Glibc)
import Glibc
#endif
import BerthOCI
import BerthOS

/// berth-runtime's command line: runc's global flags, commands and exit codes.
public enum RuntimeCLI {
  public static let version = "0.1.0"

  /// Global options, given before the command.
  struct Globals {
    var root: String
    var log = RuntimeLog()
    var systemdCgroup = false
  }

  static let globalFlags: [FlagSpec] = [
    .value("root"), .value("log"), .value("log-format"), .bool("debug"), .bool("systemd-cgroup"),
    .value("rootless"), .value("criu"), .bool("version", "v"), .bool("help", "h"), .value("log-level"),
  ]

  /// Runs the command line and returns the exit status.
  public static func main(_ arguments: [String]) -> Int32 {
    var globals = Globals(root: defaultRoot())
    do {
      // Global flags come before the command: parse up to the first positional argument.
      let parsed = try FlagParser.parse(Array(arguments.dropFirst()), specs: globalFlags)
      if let root = parsed.value("root") { globals.root = Path.absolute(root) }
      globals.log.path = parsed.value("log").map { Path.absolute($0) }
      if let format = parsed.value("log-format") {
        guard let value = RuntimeLog.Format(rawValue: format) else {
          throw UsageError("invalid --log-format \(quoted(format)): use text or json")
        }
        globals.log.format = value
      }
      globals.log.debug = try parsed.bool("debug") || parsed.value("log-level") == "debug"
      globals.systemdCgroup = try parsed.bool("systemd-cgroup")
      if try parsed.bool("version") {
        print(versionText)
        return 0
      }
      guard let command = parsed.positional.first, try !parsed.bool("help") else {
        print(usage)
        return try parsed.bool("help") ? 0 : 1
      }
      if globals.systemdCgroup {
        throw BerthError(.unsupported, "--systemd-cgroup is not supported: berth-runtime manages cgroups through cgroupfs (give linux.cgroupsPath as a path)")
      }
      StartTrace.mark("globals parsed")
      return try run(command: command, arguments: Array(parsed.positional.dropFirst()), globals: globals)
    } catch let error as UsageError {
      globals.log.write(.error, error.description)
      return 1
    } catch {
      globals.log.write(.error, "\(error)")
      if globals.log.path != nil { writeToStandardError("berth-runtime: \(error)\n") }
      return 1
    }
  }

  static func run(command: String, arguments: [String], globals: Globals) throws -> Int32 {
    let context = CommandContext(store: ContainerStore(root: globals.root), log: globals.log)
    switch command {
    case "create": return try CreateCommand.run(arguments, context)
    case "run": return try RunCommand.run(arguments, context)
    case "start": return try StartCommand.run(arguments, context)
    case "state": return try StateCommand.run(arguments, context)
    case "kill": return try KillCommand.run(arguments, context)
    case "delete": return try DeleteCommand.run(arguments, context)
    case "list": return try ListCommand.run(arguments, context)
    case "exec": return try ExecCommand.run(arguments, context)
    case "ps": return try PsCommand.run(arguments, context)
    case "pause": return try PauseCommand.run(arguments, context, freeze: true)
    case "resume": return try PauseCommand.run(arguments, context, freeze: false)
    case "update": return try UpdateCommand.run(arguments, context)
    case "events": return try EventsCommand.run(arguments, context)
    case "spec": return try SpecCommand.run(arguments, context)
    case "features": return try FeaturesCommand.run(arguments, context)
    case "checkpoint", "restore":
      throw BerthError(.unsupported, "\(command) is not supported by berth-runtime (it needs CRIU)")
    case "help":
      print(usage)
      return 0
    default:
      throw UsageError("unknown command \(quoted(command)); run berth-runtime --help for the commands")
    }
  }

  /// /run/berth-runtime for root; $XDG_RUNTIME_DIR/berth-runtime otherwise.
  static func defaultRoot() -> String {
    if getuid() != 0, let xdg = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), !xdg.isEmpty {
      return Path.join(xdg, "berth-runtime")
    }
    return "/run/berth-runtime"
  }

  static var versionText: String {
    "berth-runtime version \(version)\nspec: \(OCIVersion.current)"
  }

  static let usage = """
    berth-runtime: an OCI runtime (runtime-spec \(OCIVersion.current)) with runc's command line.

    Usage: berth-runtime [global options] command [command options] [arguments...]

    Commands:
      create     create a container from a bundle (waits for start)
      start      start the process of a created container
      run        create and start a container
      state      print a container's state as JSON
      kill       send a signal to a container's init (or --all processes)
      delete     delete a container and everything it holds
      exec       run a new process in a running container
      list       list containers
      ps         show the processes of a container
      pause      freeze every process of a container
      resume     thaw a paused container
      update     change a container's resource limits
      events     print container statistics and events
      spec       write a default config.json
      features   print what this runtime supports, as JSON

    Global options:
      --root DIR          state directory (default /run/berth-runtime)
      --log FILE          write the log to FILE instead of stderr
      --log-format FMT    text or json
      --debug             log debug messages
      --systemd-cgroup    not supported: berth-runtime uses cgroupfs
      --version, -v       print the version
    """
}

/// What every command gets: the state store and the log.
struct CommandContext {
  let store: ContainerStore
  let log: RuntimeLog
}

extension ParsedFlags {
  /// Exactly `count` positional arguments, or a usage error naming them.
  func requirePositional(_ names: String..., command: String) throws -> [String] {
    guard positional.count >= names.count else {
      throw UsageError("\(command): missing \(names[positional.count]) (usage: berth-runtime \(command) \(names.joined(separator: " ")))")
    }
    return positional
  }
}
