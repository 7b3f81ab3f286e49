import BerthOS
import Foundation
import Testing

/// Bad input: Docker's message and exit code, and nothing made.
@Suite("berth run and friends: bad input", .engineSandbox)
struct BadInputTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var arguments: [String]
    var code: Int32
    var message: String
    var testDescription: String { arguments.joined(separator: " ") }
  }

  static let cases: [Case] = [
    Case(arguments: ["run", "--pull", "never", "nosuchimage"], code: 125, message: "No such image: nosuchimage:latest"),
    Case(arguments: ["create", "--pull", "never", "nosuchimage:v2", "true"], code: 125, message: "No such image: nosuchimage:v2"),
    Case(arguments: ["run", "--bogus", "busybox", "true"], code: 125, message: "unknown flag: --bogus"),
    Case(arguments: ["run", "-z", "busybox", "true"], code: 125, message: "unknown shorthand flag: 'z' in -z"),
    Case(arguments: ["start", "--bogus", "x"], code: 125, message: "Unknown option '--bogus'"),
    Case(arguments: ["run", "--rm", "--restart", "always", "busybox", "true"], code: 125, message: "Conflicting options: --restart and --rm"),
    Case(arguments: ["run", "-d", "--attach", "stdout", "busybox", "true"], code: 125, message: "Conflicting options: -a and -d"),
    Case(arguments: ["run", "-m", "12xx", "busybox", "true"], code: 125, message: "invalid argument \"12xx\" for \"-m, --memory\" flag: invalid size: '12xx'"),
    Case(arguments: ["run", "--memory=-5m", "busybox", "true"], code: 125, message: "invalid size: '-5m'"),
    Case(arguments: ["run", "-m", "1k", "busybox", "true"], code: 125, message: "Minimum memory limit allowed is 6MB"),
    Case(arguments: ["run", "--restart", "sometimes", "busybox", "true"], code: 125, message: "invalid restart policy"),
    Case(
      arguments: ["run", "--mount", "type=bind,source=/nonexistent-berth-source,target=/x", "busybox", "true"], code: 125,
      message: "invalid mount config for type \"bind\": bind source path does not exist: /nonexistent-berth-source"),
    Case(arguments: ["run", "--name", "bad/name", "busybox", "true"], code: 125, message: "Invalid container name (bad/name)"),
    Case(arguments: ["run", "-w", "relative", "busybox", "true"], code: 125, message: "the working directory 'relative' is invalid, it needs to be an absolute path"),
    Case(arguments: ["run", "--runtime", "no-such-runtime", "busybox", "true"], code: 125, message: "unknown or invalid runtime name: no-such-runtime"),
    Case(arguments: ["start", "nosuch"], code: 1, message: "No such container: nosuch"),
    Case(arguments: ["rm", "nosuch"], code: 1, message: "No such container: nosuch"),
    Case(arguments: ["exec", "nosuch", "true"], code: 1, message: "No such container: nosuch"),
  ]

  @Test("a Docker-like message, Docker's exit code, nothing created", arguments: BadInputTests.cases)
  func refused(_ bad: Case) async throws {
    try await EngineSandbox.with { sandbox in
      let outcome = try await sandbox.run(bad.arguments)
      #expect(outcome.code == bad.code, "\(outcome)")
      #expect(outcome.stderr.contains(bad.message), "\(outcome)")
      #expect(outcome.stdout.isEmpty, "\(outcome)")
      #expect(sandbox.seenIDs.isEmpty, "a container was made (and maybe taken back): \(sandbox.seenIDs)")
      #expect(sandbox.volumeNames.isEmpty)
      #expect(!FS.exists("/nonexistent-berth-source"))
    }
  }

  @Test("a name in use: Docker's conflict message, exit 125, the first container untouched, nothing else made")
  func nameInUse() async throws {
    try await EngineSandbox.with { sandbox in
      let first = try await sandbox.runDetached("--name", "web", "busybox", "sleep", "100")
      for command in [["run", "-d"], ["create"], ["run", "--rm"]] {
        let outcome = try await sandbox.run(command + ["--name", "web", "-v", "/anonymous", "busybox", "true"])
        #expect(outcome.code == 125, "\(outcome)")
        #expect(outcome.stderr.contains(
          "Conflict. The container name \"/web\" is already in use by container \"\(first)\". You have to remove (or rename) that container to be able to reuse that name."),
          "\(outcome)")
      }
      #expect(sandbox.seenIDs == [first])
      #expect(try await sandbox.listedIDs() == [first])
      #expect(sandbox.volumeNames.isEmpty)
      #expect(try await sandbox.ok("exec", "web", "echo", "unharmed").trimmed == "unharmed")
    }
  }
}
