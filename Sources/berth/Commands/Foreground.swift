import ArgumentParser
import BerthEngine
import BerthOS
import Foundation

/// A container in the foreground: `run` without `-d`, `start -a`. The monitor creates it
/// and waits; the CLI attaches, then starts it, so not a byte of output is missed.
enum Foreground {
  /// Starts `record` with the CLI attached; its exit code (Docker's 125/126/127 when it
  /// could not start).
  static func startAttached(_ record: ContainerRecord, engine: ContainerEngine, stdin: Bool, detachKeys: [UInt8]) async throws -> Int32 {
    let started: StartedContainer
    do {
      started = try await engine.start(record, waitForAttach: true)
    } catch let failure as StartFailure {
      throw CommandFailure(message: failure.message, code: failure.exitCode)
    }
    let socket = engine.layout.attachSocket(record.id)
    let options = record.options
    let wants = Set(options.attach)
    let attachAll = wants.isEmpty
    let client = try AttachClient(
      socketPath: socket, stdin: stdin, stdout: attachAll || wants.contains("stdout"),
      stderr: attachAll || wants.contains("stderr"))
    if options.tty { client.sendTerminalSize() }
    if started.waitingForStart {
      do {
        try AttachClient.request(socketPath: socket, "start")
      } catch let error as BerthError {
        let failure = StartFailure(message: error.message)
        throw CommandFailure(message: failure.message, code: failure.exitCode)
      }
    }
    let outcome = client.pump(
      stdinFD: stdin ? 0 : nil, tty: options.tty, detachKeys: detachKeys, proxySignals: !options.tty,
      onSignal: { signal in try? engine.signal(record, signal) })
    switch outcome {
    case .detached:
      return 0
    case .exited(let code):
      if options.autoRemove { try await removeAfterRun(record, engine: engine, client: client) }
      return code
    case .disconnected:
      let state = engine.state(of: record.id)
      if options.autoRemove { try await removeAfterRun(record, engine: engine, client: client) }
      if state.isRunning { throw CommandFailure(message: "lost the connection to the container's monitor", code: 125) }
      return Int32(state.exitCode)
    }
  }

  /// `--rm`: whoever unlinks the claim file first removes the container (this CLI or the
  /// monitor's exit command); the loser waits until it is gone, as `docker run --rm` does.
  static func removeAfterRun(_ record: ContainerRecord, engine: ContainerEngine, client: AttachClient) async throws {
    let claimed = unlink(engine.files(record.id).autoRemove) == 0
    client.hangUp()
    if claimed {
      try await engine.remove(record, force: true, removeVolumes: true)
      return
    }
    for _ in 0..<600 where try engine.containers.get(id: record.id) != nil {
      try await Task.sleep(nanoseconds: 50_000_000)
    }
  }
}

/// Docker's `--detach-keys`: "ctrl-p,ctrl-q", each key a character or ctrl-<letter or @[\]^_>.
enum DetachKeys {
  static let standard: [UInt8] = [16, 17]

  static func parse(_ text: String?) throws -> [UInt8] {
    guard let text else { return standard }
    var keys: [UInt8] = []
    for key in text.split(separator: ",", omittingEmptySubsequences: false) {
      let lower = key.lowercased()
      if lower.hasPrefix("ctrl-"), lower.count == 6, let last = lower.utf8.last {
        switch last {
        case UInt8(ascii: "a")...UInt8(ascii: "z"): keys.append(last - UInt8(ascii: "a") + 1)
        case UInt8(ascii: "@"): keys.append(0)
        case UInt8(ascii: "["): keys.append(27)
        case UInt8(ascii: "\\"): keys.append(28)
        case UInt8(ascii: "]"): keys.append(29)
        case UInt8(ascii: "^"): keys.append(30)
        case UInt8(ascii: "_"): keys.append(31)
        default: throw CommandFailure(message: "invalid detach keys (\(text)): unknown character '\(key)'", code: 125)
        }
      } else if key.utf8.count == 1, let byte = key.utf8.first {
        keys.append(byte)
      } else {
        throw CommandFailure(message: "invalid detach keys (\(text)): unknown character '\(key)'", code: 125)
      }
    }
    return keys
  }
}

/// `berth attach`: this terminal to a running container's stdio (through its monitor).
struct Attach: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "attach", abstract: "Attach local standard input, output, and error streams to a running container.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .customLong("no-stdin"), help: "Do not attach STDIN.") var noStdin = false
  @Option(name: .customLong("sig-proxy"), help: "Proxy all received signals to the process.") var sigProxy = true
  @Option(name: .customLong("detach-keys"), help: "Override the key sequence for detaching a container.") var detachKeys: String?
  @Argument(help: "The container.") var container: String

  func run() async throws {
    let keys = try DetachKeys.parse(detachKeys)
    let engine = try global.engine()
    let record = try engine.containers.resolve(container)
    let state = engine.state(of: record.id)
    guard state.isRunning else {
      throw CommandFailure(message: "You cannot attach to a stopped container, start it first", code: 1)
    }
    if state.status == .paused {
      throw CommandFailure(message: "You cannot attach to a paused container, unpause it first", code: 1)
    }
    let stdin = record.options.openStdin && !noStdin
    let client = try AttachClient(socketPath: engine.layout.attachSocket(record.id), stdin: stdin, stdout: true, stderr: true)
    let outcome = client.pump(
      stdinFD: stdin ? 0 : nil, tty: record.options.tty, detachKeys: keys, proxySignals: sigProxy && !record.options.tty,
      onSignal: { signal in try? engine.signal(record, signal) })
    switch outcome {
    case .detached:
      return
    case .exited(let code):
      if code != 0 { throw CommandFailure(message: "", code: code) }
    case .disconnected:
      let after = engine.state(of: record.id)
      if after.isRunning { throw CommandFailure(message: "lost the connection to the container's monitor", code: 1) }
      if after.exitCode != 0 { throw CommandFailure(message: "", code: Int32(after.exitCode)) }
    }
  }
}
