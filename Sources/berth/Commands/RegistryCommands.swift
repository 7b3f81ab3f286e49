import ArgumentParser
import BerthImages
import BerthOCI
import BerthOS
import BerthRegistry
import Foundation

/// `berth pull NAME[:TAG|@DIGEST]`.
struct Pull: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "pull", abstract: "Download an image from a registry.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Suppress verbose output.") var quiet = false
  @Option(help: "Pull the image for this platform (os/arch[/variant]), not this machine's.") var platform: String?
  @Argument(help: "NAME[:TAG|@DIGEST]") var name: String

  func run() async throws {
    let reference = try ImageReference.parse(name)
    let target = try platform.map { try Platform.parse($0) } ?? .host
    let store = try global.store()
    let client = RegistryClient()
    defer { Task { try? await client.shutdown() } }
    let board = ProgressBoard()
    if !quiet {
      let lastComponent = name.split(separator: "/").last ?? ""
      if !lastComponent.contains(":") && !name.contains("@") { print("Using default tag: latest") }
      print("\(reference.tag ?? reference.digest?.description ?? "latest"): Pulling from \(reference.path)")
    }
    let quiet = self.quiet
    let result = UpToDate()
    let image = try await Puller(store: store, client: client).pull(reference, platform: target) { event in
      guard !quiet else { return }
      switch event {
      case .resolved: break
      case .layer(let digest, let state):
        let id = digest.shortID
        switch state {
        case .waiting: board.update(id, "Pulling fs layer")
        case .alreadyExists: board.update(id, "Already exists", force: true)
        case .downloading(let received, let total): board.transfer(id, verb: "Downloading", done: received, total: total)
        case .extracting: board.update(id, "Download complete", force: true)
        case .complete: board.update(id, "Pull complete", force: true)
        }
      case .finished(_, let upToDate): result.value = upToDate
      }
    }
    board.finish()
    let shown = reference.digest == nil ? reference.tagged.familiarString : reference.familiarString
    if !quiet {
      if let digest = image.repoDigests.first(where: { $0.hasPrefix(reference.repository + "@") }) {
        print("Digest: \(digest.split(separator: "@").last.map(String.init) ?? "")")
      }
      print(result.value ? "Status: Image is up to date for \(shown)" : "Status: Downloaded newer image for \(shown)")
    }
    print(reference.digest == nil ? reference.tagged.description : reference.description)
  }

  final class UpToDate: @unchecked Sendable { var value = false }
}

/// `berth push NAME[:TAG]`.
struct Push: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "push", abstract: "Upload an image to a registry.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Suppress verbose output.") var quiet = false
  @Argument(help: "NAME[:TAG]") var name: String

  func run() async throws {
    let reference = try ImageReference.parse(name)
    let target = reference.digest == nil ? reference.tagged : reference
    let store = try global.store()
    let client = RegistryClient()
    defer { Task { try? await client.shutdown() } }
    if !quiet { print("The push refers to repository [\(target.repository)]") }
    let board = ProgressBoard()
    let quiet = self.quiet
    let digest = try await Pusher(store: store, client: client).push(name, to: target) { event in
      guard !quiet else { return }
      switch event {
      case .preparing(let digest, _): board.update(digest.shortID, "Preparing")
      case .layerExists(let digest): board.update(digest.shortID, "Layer already exists", force: true)
      case .mounted(let digest, let from):
        let source = (try? ImageReference.parse(from))?.path ?? from
        board.update(digest.shortID, "Mounted from \(source)", force: true)
      case .uploading(let digest, let sent, let total): board.transfer(digest.shortID, verb: "Pushing", done: sent, total: total)
      case .pushed(let digest): board.update(digest.shortID, "Pushed", force: true)
      case .finished(let tag, let digest, let size): board.message("\(tag): digest: \(digest) size: \(size)")
      }
    }
    board.finish()
    if quiet { print("\(target.familiarName)@\(digest)") }
  }
}

/// `berth login [SERVER]`.
struct Login: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "login", abstract: "Log in to a registry.")
  @Option(name: .shortAndLong, help: "Username") var username: String?
  @Option(name: .shortAndLong, help: "Password") var password: String?
  @Flag(name: .customLong("password-stdin"), help: "Take the password from stdin.") var passwordStdin = false
  @Argument(help: "The registry (default: Docker Hub).") var server: String?

  func run() async throws {
    let host = CredentialStore.normalizedHost(server ?? "docker.io")
    var user = username
    if user == nil {
      print("Username: ", terminator: "")
      fflush(nil)
      user = readLine()
    }
    var secret = password
    if passwordStdin {
      secret = readLine(strippingNewline: true)
    } else if secret == nil {
      secret = String(cString: getpass("Password: "))
    } else {
      writeToStandardError("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    }
    guard let user, !user.isEmpty, let secret, !secret.isEmpty else {
      throw ValidationError("username and password are required")
    }
    let client = RegistryClient()
    defer { Task { try? await client.shutdown() } }
    try await client.checkLogin(host: host, username: user, password: secret)
    try CredentialStore.default.store(host: host, username: user, password: secret)
    print("Login Succeeded")
  }
}

/// `berth logout [SERVER]`.
struct Logout: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "logout", abstract: "Log out from a registry.")
  @Argument(help: "The registry (default: Docker Hub).") var server: String?

  func run() async throws {
    let host = CredentialStore.normalizedHost(server ?? "docker.io")
    if try CredentialStore.default.erase(host: host) {
      print("Removing login credentials for \(host)")
    } else {
      print("Not logged in to \(host)")
    }
  }
}
