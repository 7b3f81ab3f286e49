import ArgumentParser
import BerthEngine
import BerthOS
import Foundation

/// `berth logs [-f] [-n|--tail N|all] [--since T] [--until T] [-t] [--details] CONTAINER`:
/// the container's json-file log, as `docker logs` prints it (stdout entries to stdout,
/// stderr entries to stderr).
struct Logs: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "logs", abstract: "Fetch the logs of a container.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Follow log output.") var follow = false
  @Option(name: [.customShort("n"), .customLong("tail")], help: "Number of lines to show from the end of the logs.")
  var tail = "all"
  @Option(help: "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes).")
  var since: String?
  @Option(help: "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes).")
  var until: String?
  @Flag(name: .shortAndLong, help: "Show timestamps.") var timestamps = false
  @Flag(help: "Show extra details provided to logs.") var details = false
  @Argument(help: "The container (name or ID).") var container: String?

  func validate() throws {
    if container == nil { throw ValidationError("\"logs\" requires exactly 1 argument") }
  }

  func run() async throws {
    // Like `docker logs`, a reader that goes away (`berth logs c | head`) ends the command
    // quietly instead of turning into a write error.
    signal(SIGPIPE, SIG_DFL)

    let engine = try global.engine()
    let record = try engine.containers.resolve(container ?? "")
    guard record.options.logConfig.type == "json-file" else {
      writeToStandardError("Error response from daemon: configured logging driver does not support reading\n")
      throw CommandFailure(message: "")
    }
    let options = LogReader.Options(
      tail: LogReader.Options.tail(tail),
      since: try since.map { try DockerTime.parse($0, option: "since") },
      until: try until.map { try DockerTime.parse($0, option: "until") },
      follow: follow)
    let output = LogOutput(format: .init(timestamps: timestamps, details: details, raw: record.options.tty))
    // Following ends once the container stops: the monitor has written its last output
    // by then, and the reader drains it before returning.
    let id = record.id
    try await LogReader(path: engine.layout.log(id), options: options).read(into: output) {
      engine.state(of: id).isRunning
    }
  }
}
