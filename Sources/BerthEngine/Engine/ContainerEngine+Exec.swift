import BerthJSON
import BerthOCI
import BerthOS
import CLinux
import Foundation

/// What `berth exec` asks for.
public struct ExecRequest: Sendable {
  public var command: [String]
  /// `-e` (K=V; a bare K takes the CLI's value) and `--env-file` lines, in order.
  public var env: [String] = []
  public var user: String?
  public var workingDir: String?
  public var tty = false
  public var interactive = false
  public var detach = false
  public var privileged = false

  public init(command: [String]) { self.command = command }
}

extension ContainerEngine {
  /// The process `exec` runs: the container's own (capabilities, limits, security settings)
  /// with the command, environment, user and directory asked for.
  public func execProcess(_ record: ContainerRecord, _ request: ExecRequest, pid: Int32) throws -> BerthOCI.Process {
    let spec = try JSON.decode(Spec.self, from: try FS.read(layout.bundleConfig(record.id)))
    guard var process = spec.process else {
      throw BerthError(.internalError, "the spec of container \(record.shortID) has no process")
    }
    process.args = request.command
    process.terminal = request.tty ? true : nil
    process.consoleSize = nil
    var env = record.env
    for entry in request.env {
      let key = entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? entry
      env.removeAll { $0 == key || $0.hasPrefix(key + "=") }
      if entry.contains("=") { env.append(entry) }
    }
    if request.tty && !env.contains(where: { $0.hasPrefix("TERM=") }) { env.append("TERM=xterm") }
    process.env = env
    if let workingDir = request.workingDir, !workingDir.isEmpty { process.cwd = workingDir }
    if let user = request.user, !user.isEmpty {
      // The container's view of its files: /proc/PID/root (volumes included).
      let resolved = try UserResolver.resolve(user, groupAdd: record.options.groupAdd, rootfs: "/proc/\(pid)/root")
      process.user = resolved.user
      if !env.contains(where: { $0.hasPrefix("HOME=") }) { process.env?.append("HOME=" + resolved.home) }
    }
    if request.privileged {
      let all = CapabilitySet.effective(add: ["ALL"], drop: [], privileged: true, lastCapability: HostFacts.current.lastCapability)
      process.capabilities = CapabilitySet.spec(all, uid: process.user.uid)
    }
    return process
  }

  /// Writes the process for `runtime exec --process`; the caller removes the file.
  public func writeExecProcess(_ record: ContainerRecord, _ process: BerthOCI.Process) throws -> String {
    try FS.makeDirectories(layout.containerRun(record.id), mode: 0o700)
    let path = layout.containerRun(record.id) + "/exec-\(ContainerStore.newID().prefix(12)).json"
    try FS.write(path, try JSON.encode(process), mode: 0o600)
    return path
  }

  /// The command line that runs `process` in the container: `RUNTIME --root R exec …`.
  public func execArguments(_ record: ContainerRecord, processFile: String, detach: Bool, consoleSocket: String?) -> [String] {
    var arguments = [record.runtimePath, "--root", layout.runtimeRoot(record.runtimeName), "exec", "--process", processFile]
    if detach { arguments.append("--detach") }
    if let consoleSocket { arguments += ["--console-socket", consoleSocket] }
    arguments.append(record.id)
    return arguments
  }

  /// Sends a signal to the container's init through the runtime (`run`'s signal proxy).
  public func signal(_ record: ContainerRecord, _ number: Int32) throws {
    try signalContainer(record, number, state: state(of: record.id))
  }
}
