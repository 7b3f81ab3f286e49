import BerthOCI
import BerthOS
import Foundation
import Synchronization

/// A real registry for tests: Debian's `docker-registry` (distribution 2.8) on an ephemeral
/// loopback port with its own storage directory, anonymous or with basic (htpasswd) or
/// token authentication (a token service inside the fixture).
///
/// ```swift
/// @Test(.enabled(if: RegistryFixture.unavailableReason == nil)) func pull() async throws {
///   try await RegistryFixture.with(auth: .basic(username: "alice", password: "secret")) { registry in
///     let image = try TestImage.busybox()
///     try await registry.push(image, as: "busybox:latest")
///     // … pull "\(registry.host)/busybox:latest" with the code under test …
///   }
/// }
/// ```
///
/// Pushes go through a small HTTP client of their own (not `RegistryClient`), so client
/// tests cannot pass by sharing a bug with the fixture.
public final class RegistryFixture: Sendable {
  public enum Auth: Sendable, Equatable {
    /// Anyone may pull and push.
    case none
    /// htpasswd (bcrypt) with one user.
    case basic(username: String, password: String)
    /// Bearer tokens from the fixture's token service; the user may pull and push, anonymous
    /// callers may pull when `anonymousPull`.
    case token(username: String, password: String, anonymousPull: Bool)
  }

  /// The registry binary (Debian package docker-registry).
  public static let binary = "/usr/bin/docker-registry"

  /// Why registry tests cannot run here (no docker-registry, not root), or nil when they can.
  public static var unavailableReason: String? {
    if !FS.exists(binary) {
      return "docker-registry is not installed (\(binary)); run scripts/install-deps.sh"
    }
    if geteuid() != 0 { return "registry tests run as root" }
    return nil
  }

  /// "127.0.0.1:PORT", as image references name it.
  public let host: String
  public let port: Int
  public let auth: Auth
  /// The fixture's temporary directory (config, htpasswd, log, storage).
  public let directory: String
  /// distribution's storage root (`docker/registry/v2/…` below it).
  public let storageDirectory: String
  /// The token service, in token mode.
  public let tokenService: RegistryTokenService?
  private let process = Mutex<pid_t?>(nil)

  private init(host: String, port: Int, auth: Auth, directory: String, tokenService: RegistryTokenService?, pid: pid_t) {
    self.host = host
    self.port = port
    self.auth = auth
    self.directory = directory
    self.storageDirectory = directory + "/storage"
    self.tokenService = tokenService
    process.withLock { $0 = pid }
  }

  /// "http://127.0.0.1:PORT".
  public var url: String { "http://" + host }
  /// The user name of basic or token mode.
  public var username: String? {
    switch auth {
    case .none: return nil
    case .basic(let username, _), .token(let username, _, _): return username
    }
  }
  /// The password of basic or token mode.
  public var password: String? {
    switch auth {
    case .none: return nil
    case .basic(_, let password), .token(_, let password, _): return password
    }
  }

  /// "127.0.0.1:PORT/<repositoryAndTag>".
  public func reference(_ repositoryAndTag: String) -> String { host + "/" + repositoryAndTag }

  // MARK: Lifecycle

  /// Starts a registry and waits until `/v2/` answers.
  public static func start(auth: Auth = .none) async throws -> RegistryFixture {
    if let reason = unavailableReason { throw RegistrySupport.failure("cannot start a registry: \(reason)") }
    let directory = try RegistrySupport.makeTemporaryDirectory(prefix: "berth-registry")
    var tokenService: RegistryTokenService?
    do {
      try FS.makeDirectories(directory + "/storage")
      var authSection = ""
      switch auth {
      case .none:
        break
      case .basic(let username, let password):
        guard let htpasswd = RegistrySupport.which("htpasswd") else {
          throw RegistrySupport.failure("htpasswd is not installed (apache2-utils)")
        }
        let line = try RegistrySupport.run(htpasswd, ["-Bbn", username, password])
        try FS.write(directory + "/htpasswd", line)
        authSection = """
          auth:
            htpasswd:
              realm: berth-test-registry
              path: \(directory)/htpasswd
          """
      case .token(let username, let password, let anonymousPull):
        let service = try await RegistryTokenService.start(
          directory: directory, users: [username: password], anonymousPull: anonymousPull)
        tokenService = service
        authSection = """
          auth:
            token:
              realm: \(service.realm)
              service: \(service.service)
              issuer: \(service.issuer)
              rootcertbundle: \(service.certificatePath)
          """
      }
      let config = """
        version: 0.1
        log:
          level: info
          accesslog:
            disabled: true
        storage:
          filesystem:
            rootdirectory: \(directory)/storage
          delete:
            enabled: true
          maintenance:
            uploadpurging:
              enabled: false
        http:
          addr: 127.0.0.1:0
          secret: berth-test-\(UInt64.random(in: 0...UInt64.max))
        \(authSection)

        """
      try FS.write(directory + "/config.yml", config)

      let logPath = directory + "/registry.log"
      let logFD = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
      let nullFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
      guard logFD >= 0, nullFD >= 0 else { throw BerthError.system("open \(logPath)") }
      defer { close(logFD); close(nullFD) }
      let pid = try Subprocess.spawn(
        binary, args: [binary, "serve", directory + "/config.yml"],
        env: ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + directory],
        fds: [(nullFD, 0), (logFD, 1), (logFD, 2)], newSession: true)

      // distribution logs the port it bound ("listening on 127.0.0.1:PORT").
      var port: Int?
      let deadline = ContinuousClock.now + .seconds(30)
      while port == nil {
        if let status = try Subprocess.wait(pid, timeoutNanoseconds: 0) {
          let log = (try? FS.readText(logPath)) ?? ""
          throw RegistrySupport.failure("docker-registry exited (\(status)) while starting:\n\(log)")
        }
        let log = (try? FS.readText(logPath)) ?? ""
        if let range = log.range(of: "listening on 127.0.0.1:") {
          let digits = log[range.upperBound...].prefix(while: \.isNumber)
          port = Int(digits)
        }
        if port == nil {
          if ContinuousClock.now > deadline {
            kill(pid, SIGKILL)
            _ = try? Subprocess.wait(pid)
            throw RegistrySupport.failure("docker-registry did not start listening within 30 s:\n\(log)")
          }
          try await Task.sleep(for: .milliseconds(20))
        }
      }
      let fixture = RegistryFixture(
        host: "127.0.0.1:\(port ?? 0)", port: port ?? 0, auth: auth, directory: directory, tokenService: tokenService, pid: pid)
      do {
        try await fixture.waitUntilServing()
      } catch {
        await fixture.stop()
        throw error
      }
      return fixture
    } catch {
      await tokenService?.stop()
      try? FS.removeTree(directory)
      throw error
    }
  }

  private func waitUntilServing() async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while true {
      if let response = try? await RegistryTestHTTP.request("GET", url + "/v2/"), response.status == 200 || response.status == 401 {
        return
      }
      if ContinuousClock.now > deadline { throw RegistrySupport.failure("docker-registry at \(host) does not answer /v2/") }
      try await Task.sleep(for: .milliseconds(20))
    }
  }

  /// Stops the registry (SIGTERM, then SIGKILL after 10 s) and the token service, and removes
  /// the directory. Safe to call twice.
  public func stop() async {
    if let pid = process.withLock({ pid -> pid_t? in
      defer { pid = nil }
      return pid
    }) {
      kill(pid, SIGTERM)
      if (try? Subprocess.wait(pid, timeoutNanoseconds: 10_000_000_000)) == nil {
        kill(pid, SIGKILL)
        _ = try? Subprocess.wait(pid)
      }
    }
    await tokenService?.stop()
    try? FS.removeTree(directory)
  }

  /// Starts a registry, runs `body`, and stops the registry whatever happens.
  @discardableResult
  public static func with<T: Sendable>(auth: Auth = .none, _ body: (RegistryFixture) async throws -> T) async throws -> T {
    let fixture = try await start(auth: auth)
    do {
      let result = try await body(fixture)
      await fixture.stop()
      return result
    } catch {
      await fixture.stop()
      throw error
    }
  }

  /// The registry's log so far (for failing tests).
  public var log: String { (try? FS.readText(directory + "/registry.log")) ?? "" }

  // MARK: Storage

  /// Whether the registry stores the blob at all.
  public func hasBlob(_ digest: String) -> Bool {
    let hex = String(digest.dropFirst("sha256:".count))
    return FS.exists("\(storageDirectory)/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data")
  }

  /// Whether `repository` links the blob (what a push or a mount creates).
  public func repositoryLinksBlob(_ repository: String, _ digest: String) -> Bool {
    let hex = String(digest.dropFirst("sha256:".count))
    return FS.exists("\(storageDirectory)/docker/registry/v2/repositories/\(repository)/_layers/sha256/\(hex)/link")
  }

  // MARK: Pushing (independent of RegistryClient)

  /// The `Authorization` header the fixture's own requests use for `repository`.
  public func authorization(repository: String, actions: [String] = ["pull", "push"]) throws -> String? {
    switch auth {
    case .none:
      return nil
    case .basic(let username, let password):
      return "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    case .token(let username, _, _):
      guard let tokenService else { return nil }
      return "Bearer " + (try tokenService.makeToken(subject: username, access: [(repository, actions)]))
    }
  }

  /// A plain HTTP request to the registry (`path` starts with "/v2/"), authenticated for
  /// `repository` when given.
  public func request(
    _ method: String, _ path: String, repository: String? = nil, headers: [(name: String, value: String)] = [],
    body: [UInt8] = []
  ) async throws -> RegistryTestHTTP.Response {
    var all = headers
    if let repository, let authorization = try authorization(repository: repository) {
      all.append(("Authorization", authorization))
    }
    let target = path.hasPrefix("http://") ? path : url + path
    return try await RegistryTestHTTP.request(method, target, headers: all, body: body)
  }

  /// Uploads one blob (POST, then a monolithic PUT; started over up to 3 times when the
  /// connection fails); returns its digest.
  @discardableResult
  public func pushBlob(_ bytes: [UInt8], repository: String) async throws -> String {
    var attempt = 0
    while true {
      attempt += 1
      do {
        return try await pushBlobOnce(bytes, repository: repository)
      } catch let error as BerthError {
        throw error
      } catch {
        if attempt >= 3 { throw error }
        try await Task.sleep(for: .milliseconds(50))
      }
    }
  }

  private func pushBlobOnce(_ bytes: [UInt8], repository: String) async throws -> String {
    let digest = RegistrySupport.sha256(bytes)
    let started = try await request("POST", "/v2/\(repository)/blobs/uploads/", repository: repository)
    guard started.status == 202, let location = started.header("Location") else {
      throw RegistrySupport.failure("start upload to \(repository): HTTP \(started.status) \(started.text)")
    }
    let absolute = location.hasPrefix("http") ? location : url + location
    let target = absolute + (absolute.contains("?") ? "&" : "?") + "digest=" + digest.replacingOccurrences(of: ":", with: "%3A")
    let finished = try await request(
      "PUT", target, repository: repository, headers: [("Content-Type", "application/octet-stream")], body: bytes)
    guard finished.status == 201 else {
      throw RegistrySupport.failure("upload \(digest) to \(repository): HTTP \(finished.status) \(finished.text)")
    }
    return digest
  }

  /// Puts a manifest or index under a tag or digest; returns its digest.
  @discardableResult
  public func pushManifest(_ bytes: [UInt8], mediaType: String, repository: String, reference: String) async throws -> String {
    let response = try await request(
      "PUT", "/v2/\(repository)/manifests/\(reference)", repository: repository,
      headers: [("Content-Type", mediaType)], body: bytes)
    guard response.status == 201 else {
      throw RegistrySupport.failure("put manifest \(repository):\(reference): HTTP \(response.status) \(response.text)")
    }
    return RegistrySupport.sha256(bytes)
  }

  /// Pushes an image's blobs and manifest as "repo:tag" (or "repo@sha256:…", or with this
  /// registry's host in front); returns the manifest digest.
  @discardableResult
  public func push(_ image: TestImage, as reference: String) async throws -> String {
    let (repository, tag) = split(reference)
    for (_, bytes) in image.blobs { try await pushBlob(bytes, repository: repository) }
    return try await pushManifest(image.manifest, mediaType: image.manifestMediaType, repository: repository, reference: tag ?? image.manifestDigest)
  }

  /// Pushes every image of an index by digest, then the index as "repo:tag"; returns the
  /// index digest.
  @discardableResult
  public func push(_ index: TestIndex, as reference: String) async throws -> String {
    let (repository, tag) = split(reference)
    for image in index.images {
      try await push(image, as: repository + "@" + image.manifestDigest)
    }
    return try await pushManifest(index.bytes, mediaType: index.mediaType, repository: repository, reference: tag ?? index.digest)
  }

  /// "host/repo:tag" → ("repo", "tag"); "repo@sha256:…" → ("repo", "sha256:…").
  private func split(_ reference: String) -> (String, String?) {
    var text = Substring(reference)
    if text.hasPrefix(host + "/") { text = text.dropFirst(host.count + 1) }
    if let at = text.firstIndex(of: "@") {
      return (String(text[..<at]), String(text[text.index(after: at)...]))
    }
    if let colon = text.lastIndex(of: ":"), !text[colon...].contains("/") {
      return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
    return (String(text), "latest")
  }
}
