import ArgumentParser
import BerthEngine
import BerthImages
import BerthOCI
import BerthOS
import Foundation

/// `berth commit [-a AUTHOR] [-m MSG] [-c INSTRUCTION]... [--pause=BOOL] CONTAINER [REPO[:TAG]]`
/// (also `berth container commit`).
struct Commit: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "commit", abstract: "Create a new image from a container's changes.")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\").") var author: String?
  @Option(name: [.customShort("c"), .customLong("change")], help: "Apply Dockerfile instruction to the created image.") var changes: [String] = []
  @Option(name: .shortAndLong, help: "Commit message.") var message: String?
  // A Bool option, not a flag: Docker's `--pause=false` must parse (a bare `-p` then needs a value).
  @Option(name: [.customShort("p"), .long], help: "Pause container during commit (true or false).") var pause = true
  @Argument(help: "The container.") var container: String
  @Argument(help: "REPOSITORY[:TAG] for the new image.") var reference: String?

  func run() async throws {
    // A bad reference is the client's error in Docker (no "Error response from daemon").
    if let reference {
      do { _ = try ImageReference.parse(reference) } catch { throw CommandFailure(message: "invalid reference format: \(error.reason)") }
    }
    let engine = try global.engine()
    let image: ImageRecord
    do {
      let record = try engine.containers.resolve(container)
      image = try await engine.commit(
        record, options: CommitOptions(author: author, message: message, changes: changes, pause: pause, reference: reference))
    } catch let error as BerthError {
      throw CLIOutput.daemonError(error.message)
    }
    print(image.id.description)
  }
}

/// `berth diff CONTAINER` (also `berth container diff`): A, C and D lines.
struct Diff: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "diff", abstract: "Inspect changes to files or directories on a container's filesystem.")
  @OptionGroup var global: GlobalOptions
  @Argument(help: "The container.") var container: String

  func run() async throws {
    let engine = try global.engine()
    let changes: [FileChange]
    do {
      changes = try engine.diff(try engine.containers.resolve(container))
    } catch let error as BerthError {
      throw CLIOutput.daemonError(error.message)
    }
    var output = ""
    for change in changes { output += change.description + "\n" }
    print(output, terminator: "")
  }
}
