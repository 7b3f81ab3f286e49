import BerthOS
import BerthTestSupport
import CLinux
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// What a finished program left behind.
struct CommandResult: Sendable, CustomStringConvertible {
  var command: [String]
  var status: BerthOS.ExitStatus
  var output: [UInt8]
  var errorOutput: [UInt8]

  var code: Int32 { status.shellCode }
  var stdout: String { String(decoding: output, as: UTF8.self) }
  var stderr: String { String(decoding: errorOutput, as: UTF8.self) }
  /// Standard output's lines, without the empty last one.
  var lines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty } }

  var description: String {
    "`\(command.joined(separator: " "))`: \(status)\n--- stdout:\n\(stdout.prefix(4000))\n--- stderr:\n\(stderr.prefix(4000))"
  }
}

/// A program that failed where the test needed it to succeed.
struct CommandFailed: Error, CustomStringConvertible {
  var result: CommandResult
  var description: String { "command failed: \(result)" }
}

enum Processes {
  /// The PATH every child gets.
  static let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

  /// Runs a program to completion on a thread of its own, so that the Swift concurrency pool
  /// (which serves the in-process fake registries) never blocks on waitpid.
  ///
  /// The timeout only guards against a hung child (the suite must end); no test asserts
  /// anything about time.
  static func run(
    _ executable: String, _ arguments: [String], environment: [String: String], input: [UInt8] = [],
    timeout: Duration = .seconds(300)
  ) async throws -> CommandResult {
    let env = environment.map { "\($0.key)=\($0.value)" }
    let nanoseconds = UInt64(timeout.components.seconds) * 1_000_000_000
    return try await withCheckedThrowingContinuation { continuation in
      let thread = Thread {
        do {
          let result = try Subprocess.run(
            executable, args: [executable] + arguments, env: env, input: input, timeoutNanoseconds: nanoseconds)
          var errorOutput = result.error
          if result.timedOut { errorOutput += Array("\n[test harness: killed after \(timeout)]\n".utf8) }
          continuation.resume(returning: CommandResult(
            command: [executable] + arguments, status: result.status, output: result.output, errorOutput: errorOutput))
        } catch {
          continuation.resume(throwing: error)
        }
      }
      thread.stackSize = 1 << 20
      thread.start()
    }
  }

  /// waitpid on a thread of its own.
  static func wait(_ pid: pid_t) async throws -> BerthOS.ExitStatus {
    try await withCheckedThrowingContinuation { continuation in
      let thread = Thread {
        do { continuation.resume(returning: try Subprocess.wait(pid)) } catch { continuation.resume(throwing: error) }
      }
      thread.start()
    }
  }

  /// The absolute path of a program, or nil.
  static func which(_ name: String) -> String? { RegistrySupport.which(name) }

  // MARK: mounts

  /// Mount points at or below `directory` (deepest first), from /proc/self/mountinfo.
  static func mounts(under directory: String) -> [String] {
    guard let text = try? FS.readText("/proc/self/mountinfo") else { return [] }
    var points: [String] = []
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ")
      guard fields.count > 4 else { continue }
      // Octal escapes (\040 for a space) do not occur in our temp paths.
      let point = String(fields[4])
      if point == directory || point.hasPrefix(directory + "/") { points.append(point) }
    }
    return points.sorted { $0.count > $1.count }
  }

  /// Detaches every mount at or below `directory`.
  static func unmountAll(under directory: String) {
    for _ in 0..<4 {
      let points = mounts(under: directory)
      if points.isEmpty { return }
      for point in points { _ = umount2(point, Int32(MNT_DETACH)) }
    }
  }

  /// Unmounts whatever is below `directory`, then removes it.
  static func removeTree(_ directory: String) {
    unmountAll(under: directory)
    try? FS.removeTree(directory)
  }
}

/// A pseudo-terminal for commands that behave differently on one.
final class PseudoTerminal {
  let master: Int32
  let slave: Int32

  init() throws {
    var peer: Int32 = -1
    master = berth_open_pty("/dev/ptmx", &peer)
    guard master >= 0, peer >= 0 else { throw BerthError.system("open a pty") }
    slave = peer
  }

  deinit {
    close(master)
    close(slave)
  }

  /// What the program wrote to the terminal so far (non-blocking).
  func drain() -> [UInt8] {
    _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
      if n <= 0 { break }
      bytes += buffer[0..<n]
    }
    return bytes
  }
}
