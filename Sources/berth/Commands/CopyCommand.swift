import ArgumentParser
import BerthEngine
import BerthOS
import Foundation

/// `berth cp [-a] [-L] [-q] CONTAINER:SRC DEST|-` and `berth cp [-a] [-L] [-q] SRC|- CONTAINER:DEST`.
struct CopyCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cp", abstract: "Copy files/folders between a container and the local filesystem.",
    discussion: """
      Use '-' as the source to read a tar archive from stdin and extract it to a directory
      destination in a container. Use '-' as the destination to stream a tar archive of a
      container source to stdout.
      """)
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Archive mode (copy all uid/gid information).") var archive = false
  @Flag(name: [.customShort("L"), .customLong("follow-link")], help: "Always follow symbol link in SRC_PATH.") var followLink = false
  @Flag(name: .shortAndLong, help: "Suppress progress output during copy (it is shown only on a terminal).") var quiet = false
  @Argument(help: "CONTAINER:SRC_PATH, a local path, or -.") var source: String
  @Argument(help: "CONTAINER:DEST_PATH, a local path, or -.") var destination: String

  func run() async throws {
    let from = Self.split(source)
    let to = Self.split(destination)
    let options = CopyOptions(followLink: followLink, archive: archive)
    let engine = try global.engine()
    do {
      switch (from.container, to.container) {
      case (let container?, nil):
        guard !from.path.isEmpty else { throw CommandFailure(message: "filepath can not be empty") }
        let record = try engine.containers.resolve(container)
        if to.path == "-" {
          _ = try await engine.copyFromContainer(record, path: from.path, toTarStream: 1, options: options)
        } else {
          let bytes = try await engine.copyFromContainer(record, path: from.path, toHost: to.path, options: options)
          report(bytes, to: to.path)
        }
      case (nil, let container?):
        guard !to.path.isEmpty else { throw CommandFailure(message: "filepath can not be empty") }
        let record = try engine.containers.resolve(container)
        if from.path == "-" {
          _ = try await engine.copyToContainer(record, fromTarStream: 0, path: to.path, options: options)
        } else {
          let bytes = try await engine.copyToContainer(record, fromHost: from.path, path: to.path, options: options)
          report(bytes, to: destination)
        }
      case (nil, nil):
        throw CommandFailure(message: "must specify at least one container source")
      case (.some, .some):
        throw CommandFailure(message: "copying between containers is not supported")
      }
    } catch let error as CopyError {
      if error.side == .container {
        throw CLIOutput.daemonError(error.message)
      }
      throw CommandFailure(message: error.message)
    } catch let error as BerthError {
      throw CLIOutput.daemonError(error.message)
    }
  }

  /// Docker says how much it copied, on a terminal only.
  private func report(_ bytes: Int64, to place: String) {
    guard !quiet, isatty(2) != 0 else { return }
    writeToStandardError("Successfully copied \(CLIOutput.humanSize(bytes)) to \(place)\n")
  }

  /// Docker's reading of a cp argument: "NAME:PATH" names a container, unless the text is an
  /// absolute path or starts with "." (a local "./a:b").
  static func split(_ argument: String) -> (container: String?, path: String) {
    if argument.hasPrefix("/") || argument.hasPrefix(".") { return (nil, argument) }
    guard let colon = argument.firstIndex(of: ":") else { return (nil, argument) }
    return (String(argument[..<colon]), String(argument[argument.index(after: colon)...]))
  }
}
