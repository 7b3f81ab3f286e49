import BerthOS
import Foundation

/// `top`'s answer, shaped like Docker's `/containers/{id}/top`: the `ps` header's titles and
/// one row of cells per process of the container.
public struct ContainerProcessList: Sendable, Equatable {
  public var titles: [String]
  public var processes: [[String]]

  public init(titles: [String], processes: [[String]]) {
    self.titles = titles
    self.processes = processes
  }

  /// Keeps the rows of `ps` output whose PID is one of `pids`. Each row has as many cells as
  /// there are titles; the last (the command) keeps its spaces.
  public static func parse(psOutput: String, pids: Set<Int32>) throws -> ContainerProcessList {
    let lines = psOutput.split(separator: "\n")
    guard let header = lines.first else { throw BerthError(.invalidArgument, "ps printed nothing") }
    let titles = header.split(separator: " ").map(String.init)
    guard let pidColumn = titles.firstIndex(of: "PID") else {
      throw BerthError(.invalidArgument, "Couldn't find PID field in ps output")
    }
    var processes: [[String]] = []
    for line in lines.dropFirst() {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
      guard fields.count > pidColumn, let pid = Int32(fields[pidColumn]) else { continue }
      guard pids.contains(pid) else { continue }
      var row = Array(fields.prefix(titles.count - 1))
      row.append(fields.dropFirst(titles.count - 1).joined(separator: " "))
      processes.append(row)
    }
    return ContainerProcessList(titles: titles, processes: processes)
  }
}

extension ContainerEngine {
  /// Runs the host's `ps` with `arguments` (Docker's default `-ef`) and keeps the container's
  /// processes, found in its cgroup. The container must be running.
  public func top(_ record: ContainerRecord, psArguments: [String] = []) throws -> ContainerProcessList {
    let state = state(of: record.id)
    if state.status == .restarting {
      throw BerthError(.invalidState, "Container \(record.id) is restarting, wait until the container is running")
    }
    guard state.isRunning else { throw BerthError(.invalidState, "container \(record.id) is not running") }
    let pids = Set(try processes(of: record))
    let arguments = psArguments.isEmpty ? ["-ef"] : psArguments
    let candidates: [String] = ["/usr/bin/ps", "/bin/ps"]
    guard let ps = candidates.first(where: { access($0, X_OK) == 0 }) else {
      throw BerthError(.notFound, "ps is not installed (procps)")
    }
    // A wide, untranslated listing: the columns are parsed, and the command must not be cut.
    let result = try Subprocess.run(
      ps, args: [ps] + arguments, env: ["PATH=/usr/bin:/bin", "LC_ALL=C", "COLUMNS=4096"],
      timeoutNanoseconds: 30_000_000_000)
    guard result.status == ExitStatus.exited(0) else {
      // ps follows its complaint with its usage: the first line says what was wrong.
      let message = String(decoding: result.error, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
      throw BerthError(.invalidArgument, "Error running ps: \(result.status): \(message)")
    }
    return try ContainerProcessList.parse(psOutput: String(decoding: result.output, as: UTF8.self), pids: pids)
  }
}
