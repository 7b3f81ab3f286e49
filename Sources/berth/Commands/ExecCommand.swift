import ArgumentParser
import BerthEngine
import BerthOS
import CLinux
import Foundation

/// `berth exec`: a new process in a running container, through the OCI runtime.
struct Exec: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "exec", abstract: "Execute a command in a running container.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Detached mode: run command in the background.") var detach = false
  @Flag(name: .shortAndLong, help: "Keep STDIN open even if not attached.") var interactive = false
  @Flag(name: .shortAndLong, help: "Allocate a pseudo-TTY.") var tty = false
  @Option(name: .shortAndLong, help: "Set environment variables.") var env: [String] = []
  @Option(name: .customLong("env-file"), help: "Read in a file of environment variables.") var envFile: [String] = []
  @Option(name: .shortAndLong, help: "Username or UID (format: \"<name|uid>[:<group|gid>]\").") var user: String?
  @Option(name: .shortAndLong, help: "Working directory inside the container.") var workdir: String?
  @Flag(help: "Give extended privileges to the command.") var privileged = false
  @Option(name: .customLong("detach-keys"), help: "Override the key sequence for detaching a container.") var detachKeys: String?
  @Argument(help: "The container.") var container: String
  @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.") var command: [String] = []

  func validate() throws {
    if command.isEmpty { throw ValidationError("\"exec\" requires at least 2 arguments") }
    if let workdir, !workdir.isEmpty, !workdir.hasPrefix("/") {
      throw ValidationError("the working directory '\(workdir)' is invalid, it needs to be an absolute path")
    }
  }

  func run() async throws {
    let engine = try global.engine()
    let record = try engine.containers.resolve(container)
    let state = engine.state(of: record.id)
    guard state.status == .running, state.pid > 0 else {
      if state.status == .paused {
        throw CommandFailure(message: "container \(record.id) is paused, unpause the container before exec", code: 1)
      }
      throw CommandFailure(message: "container \(record.id) is not running", code: 1)
    }
    var request = ExecRequest(command: command)
    request.env = try EnvironmentFlags.merge(env: env, envFiles: envFile)
    request.user = user
    request.workingDir = workdir
    request.tty = tty
    request.interactive = interactive
    request.detach = detach
    request.privileged = privileged
    let process = try engine.execProcess(record, request, pid: state.pid)
    let processFile = try engine.writeExecProcess(record, process)
    defer { unlink(processFile) }
    let code: Int32
    if tty && !detach {
      code = try ExecTerminal.run(engine: engine, record: record, processFile: processFile, interactive: interactive)
    } else {
      let arguments = engine.execArguments(record, processFile: processFile, detach: detach, consoleSocket: nil)
      let devNull = try OwnedFD.open("/dev/null", O_RDWR)
      let null: Int32 = devNull.raw
      let input: Int32 = detach || !interactive ? null : 0
      let output: Int32 = detach ? null : 1
      let errors: Int32 = detach ? null : 2
      let stdio: [(source: Int32, target: Int32)] = [(input, 0), (output, 1), (errors, 2)]
      let pid = try Subprocess.spawn(arguments[0], args: arguments, env: ExecTerminal.environment, fds: stdio)
      code = try Subprocess.wait(pid).shellCode
    }
    if code != 0 { throw CommandFailure(message: "", code: code) }
  }
}

/// `exec -t`: the runtime hands the pty master to us through a console socket; we relay it.
enum ExecTerminal {
  static var environment: [String] {
    ["PATH=" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin")]
  }

  static func run(engine: ContainerEngine, record: ContainerRecord, processFile: String, interactive: Bool) throws -> Int32 {
    let socketPath = engine.layout.containerRun(record.id) + "/console-\(getpid()).sock"
    let listener = try ConsoleListener(path: socketPath)
    defer { unlink(socketPath) }
    let arguments = engine.execArguments(record, processFile: processFile, detach: false, consoleSocket: socketPath)
    let devNull = try OwnedFD.open("/dev/null", O_RDWR)
    let pid = try Subprocess.spawn(
      arguments[0], args: arguments, env: environment, fds: [(devNull.raw, 0), (1, 1), (2, 2)])
    guard let master = listener.receiveTerminal(timeoutMilliseconds: 10_000) else {
      return try Subprocess.wait(pid).shellCode
    }
    defer { close(master) }
    var rows: UInt16 = 0, columns: UInt16 = 0
    if berth_get_winsize(1, &rows, &columns) == 0 { _ = berth_set_winsize(master, rows, columns) }
    var saved = termios()
    let raw = interactive && isatty(0) != 0 && berth_tty_make_raw(0, &saved) == 0
    defer { if raw { _ = berth_tty_restore(0, &saved) } }
    TerminalRelay.relay(master: master, stdin: interactive ? 0 : nil, child: pid)
    return try Subprocess.wait(pid).shellCode
  }
}

/// A unix socket an OCI runtime connects to, to send a pty master (`--console-socket`).
final class ConsoleListener {
  let fd: OwnedFD

  init(path: String) throws {
    fd = OwnedFD(try check("create the console socket") {
      socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    })
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
      throw BerthError(.invalidArgument, "the console socket path is too long: \(path)")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
    unlink(path)
    let fdRaw = fd.raw
    try check("bind the console socket \(path)") {
      withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fdRaw, $0, length) } }
    }
    try check("listen on the console socket") { listen(fdRaw, 1) }
  }

  /// The pty master the runtime sends, or nil if it sends none in time.
  func receiveTerminal(timeoutMilliseconds: Int32) -> Int32? {
    var entry = pollfd(fd: fd.raw, events: Int16(POLLIN), revents: 0)
    guard poll(&entry, 1, timeoutMilliseconds) == 1 else { return nil }
    let connection = accept(fd.raw, nil, nil)
    guard connection >= 0 else { return nil }
    defer { close(connection) }
    var fds: [Int32] = [-1, -1, -1, -1]
    var count: Int32 = 0
    var data = [UInt8](repeating: 0, count: 4096)
    let received = fds.withUnsafeMutableBufferPointer { fdBuffer in
      data.withUnsafeMutableBytes { berth_recv_fds(connection, fdBuffer.baseAddress, 4, &count, $0.baseAddress, $0.count) }
    }
    guard received >= 0, count >= 1 else { return nil }
    for index in 1..<Int(count) { close(fds[index]) }
    return fds[0]
  }
}

/// Copies between a pty master and the local terminal until the child ends and the pty is
/// drained; the window size follows SIGWINCH.
enum TerminalRelay {
  static func relay(master: Int32, stdin: Int32?, child: pid_t) {
    let childFD = berth_pidfd_open(child, 0)
    defer { if childFD >= 0 { close(childFD) } }
    SignalPipe.install(winch: true, proxy: false)
    defer { SignalPipe.uninstall() }
    var stdinOpen = stdin != nil
    var childDone = false
    var buffer = [UInt8](repeating: 0, count: 32 * 1024)
    while true {
      var fds = [
        pollfd(fd: master, events: Int16(POLLIN), revents: 0),
        pollfd(fd: stdinOpen ? (stdin ?? -1) : -1, events: Int16(POLLIN), revents: 0),
        pollfd(fd: childDone ? -1 : childFD, events: Int16(POLLIN), revents: 0),
        pollfd(fd: SignalPipe.readEnd, events: Int16(POLLIN), revents: 0),
      ]
      // Once the process is gone, what is left in the pty is read without waiting.
      let ready = poll(&fds, 4, childDone ? 50 : -1)
      if ready < 0 { if errno == EINTR { continue }; return }
      if ready == 0 && childDone { return }
      if fds[3].revents != 0 {
        _ = SignalPipe.drain()
        var rows: UInt16 = 0, columns: UInt16 = 0
        if berth_get_winsize(1, &rows, &columns) == 0 { _ = berth_set_winsize(master, rows, columns) }
      }
      if fds[2].revents != 0 { childDone = true }
      if fds[0].revents != 0 {
        let count = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
        if count > 0 { try? writeAllBytes(1, buffer[0..<count]) } else if childDone || count == 0 || errno == EIO { return }
      }
      if fds[1].revents != 0, let stdin {
        let count = buffer.withUnsafeMutableBytes { read(stdin, $0.baseAddress, $0.count) }
        if count > 0 { try? writeAllBytes(master, buffer[0..<count]) } else { stdinOpen = false }
      }
    }
  }
}
