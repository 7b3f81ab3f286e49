import BerthOS
import CLinux
import Foundation

/// Starts a container's berth-monitor (docs/monitor.md) and reads what it reports on the
/// sync pipe.
struct MonitorLauncher {
  enum Report: Equatable {
    /// The runtime created the container (start=wait): its init's pid.
    case created(Int32)
    /// The container runs.
    case started(Int32)
    case failed(String)
  }

  let layout: EngineLayout
  let record: ContainerRecord

  /// The monitor's configuration (key=value lines).
  func configuration(startNow: Bool, exitCommand: [String]) -> String {
    let id = record.id
    let options = record.options
    var lines: [String] = [
      "id=\(id)",
      "bundle=\(layout.container(id))",
      "runtime=\(record.runtimePath)",
      "runtime-arg=--root",
      "runtime-arg=\(layout.runtimeRoot(record.runtimeName))",
      "state-dir=\(layout.monitorState(id))",
      "socket=\(layout.attachSocket(id))",
      "terminal=\(options.tty ? 1 : 0)",
      "stdin=\(options.openStdin ? 1 : 0)",
      "start=\(startNow ? "auto" : "wait")",
    ]
    if options.logConfig.type == "none" {
      lines.append("log-driver=none")
    } else {
      lines.append("log-driver=json-file")
      lines.append("log-path=\(layout.log(id))")
      if let size = options.logConfig.config["max-size"], let bytes = try? FlagSyntax.ramInBytes(size) {
        lines.append("log-max-size=\(bytes)")
      }
      if let files = options.logConfig.config["max-file"], let count = Int(files) {
        lines.append("log-max-files=\(count)")
      }
    }
    let policy = options.restartPolicy
    if !policy.isNone {
      lines.append("restart=\(policy.name)")
      if policy.maximumRetryCount > 0 { lines.append("restart-max=\(policy.maximumRetryCount)") }
    }
    if let health = record.healthcheck, let test = health.Test, let kind = test.first {
      let command: [String] = kind == "CMD-SHELL" ? ["/bin/sh", "-c", test.dropFirst().joined(separator: " ")] : Array(test.dropFirst())
      if !command.isEmpty {
        for argument in command { lines.append("health-arg=\(argument)") }
        if let value = health.Interval, value > 0 { lines.append("health-interval=\(value)") }
        if let value = health.Timeout, value > 0 { lines.append("health-timeout=\(value)") }
        if let value = health.StartPeriod, value > 0 { lines.append("health-start-period=\(value)") }
        if let value = health.Retries, value > 0 { lines.append("health-retries=\(value)") }
      }
    }
    for argument in exitCommand { lines.append("exit-arg=\(argument)") }
    // Values are one line each: the engine never writes a newline into one (paths and
    // arguments with newlines are refused when the container is created).
    return lines.joined(separator: "\n") + "\n"
  }

  /// Writes the configuration, starts the monitor detached (its own session, /dev/null as
  /// stdio, the sync pipe as fd 3), notes its pid, and waits for its first report.
  func launch(startNow: Bool, exitCommand: [String]) throws -> (monitor: pid_t, report: Report, sync: Int32) {
    let monitorPath = try Executables.require("berth-monitor")
    try FS.makeDirectories(layout.containerRun(record.id), mode: 0o700)
    try FS.makeDirectories(layout.runtimeRoot(record.runtimeName), mode: 0o700)
    try FS.writeAtomically(
      layout.monitorConfig(record.id), Array(configuration(startNow: startNow, exitCommand: exitCommand).utf8), mode: 0o600)
    var pipe: [Int32] = [0, 0]
    try check("create the monitor's sync pipe") { berth_pipe2(&pipe, O_CLOEXEC) }
    let devNull = try OwnedFD.open("/dev/null", O_RDWR)
    var environment = ["PATH=" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")]
    environment.append("BERTH_ROOT=" + layout.root)
    environment.append("BERTH_RUNROOT=" + layout.runRoot)
    let pid: pid_t
    do {
      pid = try Subprocess.spawn(
        monitorPath, args: [monitorPath, layout.monitorConfig(record.id)], env: environment,
        fds: [(devNull.raw, 0), (devNull.raw, 1), (devNull.raw, 2), (pipe[1], 3)], cwd: "/", newSession: true)
    } catch {
      close(pipe[0])
      close(pipe[1])
      throw error
    }
    close(pipe[1])
    try? MonitorFiles(directory: layout.monitorState(record.id)).recordMonitor(pid: pid)
    let report = Self.readReport(pipe[0])
    return (pid, report, pipe[0])
  }

  /// One line from the sync pipe; end of file means the monitor died without a word.
  static func readReport(_ fd: Int32) -> Report {
    var line: [UInt8] = []
    var byte: UInt8 = 0
    while true {
      let count = read(fd, &byte, 1)
      if count < 0 && errno == EINTR { continue }
      if count <= 0 { break }
      if byte == 0x0A { break }
      line.append(byte)
    }
    let text = String(decoding: line, as: UTF8.self)
    if text.hasPrefix("created "), let pid = Int32(text.dropFirst(8)) { return .created(pid) }
    if text.hasPrefix("started "), let pid = Int32(text.dropFirst(8)) { return .started(pid) }
    if text.hasPrefix("error ") { return .failed(String(text.dropFirst(6))) }
    return .failed(text.isEmpty ? "the monitor ended without reporting" : "the monitor said \(quoted(text))")
  }
}
