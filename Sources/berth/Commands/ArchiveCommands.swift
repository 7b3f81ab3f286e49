import ArgumentParser
import BerthImages
import BerthOCI
import BerthOS
import Foundation

/// `berth save [-o FILE] [--format docker-archive|oci-archive] IMAGE...`.
struct Save: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "save", abstract: "Save one or more images to a tar archive (streamed to stdout by default).")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Write to a file instead of stdout.") var output: String?
  @Option(help: "docker-archive (default: what docker load and podman load read) or oci-archive.")
  var format: String = ArchiveFormat.dockerArchive.rawValue
  @Argument(help: "Images to save.") var names: [String]

  func validate() throws {
    if names.isEmpty { throw ValidationError("\"save\" requires at least 1 argument") }
    if ArchiveFormat(rawValue: format) == nil {
      throw ValidationError("unknown --format \(format): use docker-archive or oci-archive")
    }
  }

  func run() async throws {
    let store = try global.store()
    let format = ArchiveFormat(rawValue: format) ?? .dockerArchive
    guard let output else {
      if isatty(1) != 0 {
        throw CommandFailure(message: "cowardly refusing to save to a terminal. Use the -o flag or redirect")
      }
      try await store.save(names, format: format, to: 1)
      return
    }
    // Written next to the target and renamed: a failed save leaves no half archive.
    let temporary = output + ".tmp-\(getpid())"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw BerthError.system("create \(output)") }
    do {
      try await store.save(names, format: format, to: fd)
      try check("write \(output)") { fsync(fd) }
      close(fd)
      try check("write \(output)") { rename(temporary, output) }
    } catch {
      close(fd)
      unlink(temporary)
      throw error
    }
  }
}

/// `berth load [-i FILE]`.
struct Load: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "load", abstract: "Load images from a tar archive (docker save's or OCI; from stdin by default).")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Read from a file instead of stdin.") var input: String?
  @Flag(name: .shortAndLong, help: "Suppress the load output.") var quiet = false

  func run() async throws {
    let store = try global.store()
    var fd: Int32 = 0
    if let input {
      fd = open(input, O_RDONLY | O_CLOEXEC)
      guard fd >= 0 else { throw BerthError.system("open \(input)") }
    } else if isatty(0) != 0 {
      throw CommandFailure(message: "requested load from stdin, but stdin is empty (use -i FILE or redirect)")
    }
    defer { if fd > 0 { close(fd) } }
    let loaded = try await store.load(from: fd, source: input ?? "stdin")
    for image in loaded {
      if image.tags.isEmpty {
        print("Loaded image ID: \(image.image.id)")
      } else {
        for tag in image.tags { print("Loaded image: \(ImageReference.familiar(tag))") }
      }
    }
  }
}

/// `berth import FILE|- [REPOSITORY[:TAG]]`.
struct Import: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "import", abstract: "Import the contents from a tarball to create a filesystem image.")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Apply a Dockerfile instruction to the image's config (CMD, ENV, ...).")
  var change: [String] = []
  @Option(name: .shortAndLong, help: "A commit message for the image.") var message: String?
  @Option(help: "The image's platform (os/arch[/variant]).") var platform: String?
  @Argument(help: "A tarball (plain, gzip or zstd), or - for stdin.") var file: String
  @Argument(help: "REPOSITORY[:TAG]") var reference: String?

  func run() async throws {
    let store = try global.store()
    let target = try reference.map { try ImageReference.parse($0) }
    let fd: Int32 = file == "-" ? 0 : open(file, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw BerthError.system("open \(file)") }
    defer { if fd > 0 { close(fd) } }
    let imported = try await store.importTarball(
      from: fd, source: file == "-" ? "-" : file, reference: target, changes: change, message: message,
      platform: try platform.map { try Platform.parse($0) } ?? .host)
    print(imported.image.id)
  }
}
