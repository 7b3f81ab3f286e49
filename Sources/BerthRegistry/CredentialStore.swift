import BerthJSON
import BerthOCI
import BerthOS
import Foundation

/// A user name and secret for one registry.
public struct RegistryCredentials: Sendable, Equatable, CustomStringConvertible {
  public var username: String
  public var password: String
  /// An OAuth refresh token (Docker's `identitytoken`): used instead of the password to get
  /// bearer tokens.
  public var identityToken: String?

  public init(username: String, password: String, identityToken: String? = nil) {
    self.username = username
    self.password = password
    self.identityToken = identityToken
  }

  /// Never shows the secret.
  public var description: String { "credentials for \(username)" }

  /// The value of an `Authorization: Basic` header.
  var basicAuthorization: String {
    "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
  }
}

/// Docker-compatible credentials: `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`).
///
/// Reads and writes `"auths": {"<server>": {"auth": base64("user:pass")}}`, and uses
/// credential helpers (`docker-credential-<name>`) named by `credHelpers` (per host) or
/// `credsStore` (for all hosts), speaking their protocol on stdin and stdout. Writing keeps
/// every other key of the file as it was, and leaves the file mode 0600. Docker Hub is stored
/// under `https://index.docker.io/v1/`, as Docker does.
public struct CredentialStore: Sendable {
  /// The config.json file.
  public var path: String
  /// Where to look for `docker-credential-*` programs; nil means `$PATH`.
  public var helperSearchPath: [String]?

  public init(path: String, helperSearchPath: [String]? = nil) {
    self.path = path
    self.helperSearchPath = helperSearchPath
  }

  /// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
  public static var `default`: CredentialStore {
    let env = RegistriesConfig.currentEnvironment()
    if let dir = env["DOCKER_CONFIG"], !dir.isEmpty {
      return CredentialStore(path: Path.join(dir, "config.json"))
    }
    let home = env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "/root"
    return CredentialStore(path: Path.join(home, ".docker", "config.json"))
  }

  /// The key Docker uses for `host` in `auths` and with helpers.
  public static func serverKey(for host: String) -> String {
    normalizedHost(host) == ImageReference.dockerHubDomain ? "https://index.docker.io/v1/" : host
  }

  /// The host as references name it: "https://index.docker.io/v1/" → "docker.io",
  /// "http://host:5000/" → "host:5000", "index.docker.io" → "docker.io".
  public static func normalizedHost(_ key: String) -> String {
    let host = RegistriesConfig.hostOnly(key)
    switch host {
    case "index.docker.io", "registry-1.docker.io", "docker.io": return ImageReference.dockerHubDomain
    default: return host
    }
  }

  // MARK: Reading

  /// The credentials for `host` (a reference's domain): from its credential helper if one is
  /// configured, else from `auths`. Nil when there are none.
  public func credentials(for host: String) throws -> RegistryCredentials? {
    let file = try readFile()
    if let helper = helperName(for: host, in: file) {
      if let found = try CredentialHelper(name: helper, searchPath: helperSearchPath).get(serverURL: Self.serverKey(for: host)) {
        return found
      }
    }
    guard let auths = file["auths"]?.objectValue else { return nil }
    let wanted = Self.normalizedHost(host)
    // An exact key first, then any spelling of the same host ("http://host/v1/").
    let entry = auths[Self.serverKey(for: host)]
      ?? auths.first(where: { Self.normalizedHost($0.key) == wanted })?.value
    guard let entry else { return nil }
    return try Self.decodeEntry(entry, key: Self.serverKey(for: host), file: path)
  }

  /// The hosts that have an `auths` entry, normalized ("docker.io", "localhost:5000").
  public func hosts() throws -> [String] {
    guard let auths = try readFile()["auths"]?.objectValue else { return [] }
    return auths.keys.map(Self.normalizedHost)
  }

  static func decodeEntry(_ entry: JSONValue, key: String, file: String) throws -> RegistryCredentials? {
    let identityToken = entry["identitytoken"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
    if let auth = entry["auth"]?.stringValue, !auth.isEmpty {
      guard let data = Data(base64Encoded: auth), let text = String(data: data, encoding: .utf8),
            let colon = text.firstIndex(of: ":") else {
        throw BerthError(.invalidArgument, "\(file): auths[\"\(key)\"].auth is not base64 of \"user:password\"")
      }
      return RegistryCredentials(
        username: String(text[..<colon]), password: String(text[text.index(after: colon)...]),
        identityToken: identityToken)
    }
    if let username = entry["username"]?.stringValue, let password = entry["password"]?.stringValue {
      return RegistryCredentials(username: username, password: password, identityToken: identityToken)
    }
    if let identityToken {
      return RegistryCredentials(username: "<token>", password: "", identityToken: identityToken)
    }
    return nil
  }

  func helperName(for host: String, in file: JSONValue) -> String? {
    let wanted = Self.normalizedHost(host)
    if let helpers = file["credHelpers"]?.objectValue {
      for (key, value) in helpers where Self.normalizedHost(key) == wanted {
        if let name = value.stringValue, !name.isEmpty { return name }
      }
    }
    if let store = file["credsStore"]?.stringValue, !store.isEmpty { return store }
    return nil
  }

  func readFile() throws -> JSONValue {
    guard FS.exists(path) else { return .object(JSONObject()) }
    let bytes: [UInt8]
    do {
      bytes = try FS.read(path)
    } catch let error as BerthError {
      throw BerthError(error.code, "read credentials: \(error.message)", errno: error.errno)
    }
    if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) { return .object(JSONObject()) }
    let value: JSONValue
    do {
      value = try JSON.parse(bytes)
    } catch {
      throw BerthError(.invalidArgument, "\(path): \(error)")
    }
    guard value.objectValue != nil else {
      throw BerthError(.invalidArgument, "\(path): expected a JSON object at the top level")
    }
    return value
  }

  // MARK: Writing

  /// Saves credentials for `host`: through its credential helper when one is configured (the
  /// file then gets an empty `auths` entry, as Docker writes), else in `auths`.
  public func store(_ credentials: RegistryCredentials, for host: String) throws {
    var file = try readFile().objectValue ?? JSONObject()
    let key = Self.serverKey(for: host)
    var auths = file["auths"]?.objectValue ?? JSONObject()
    removeOtherSpellings(of: host, keeping: key, from: &auths)
    var entry = auths[key]?.objectValue ?? JSONObject()
    for field in ["auth", "username", "password", "identitytoken"] { entry[field] = nil }
    if let helper = helperName(for: host, in: .object(file)) {
      try CredentialHelper(name: helper, searchPath: helperSearchPath).store(serverURL: key, credentials: credentials)
    } else {
      if credentials.identityToken == nil || !credentials.password.isEmpty {
        let text = "\(credentials.username):\(credentials.password)"
        entry["auth"] = .string(Data(text.utf8).base64EncodedString())
      }
      if let token = credentials.identityToken { entry["identitytoken"] = .string(token) }
    }
    auths[key] = .object(entry)
    file["auths"] = .object(auths)
    try writeFile(.object(file))
  }

  /// Saves a user name and password for `host` (see ``store(_:for:)``).
  public func store(host: String, username: String, password: String) throws {
    try store(RegistryCredentials(username: username, password: password), for: host)
  }

  /// Forgets the credentials for `host` (in the helper and in `auths`). Returns whether there
  /// were any.
  @discardableResult
  public func erase(host: String) throws -> Bool {
    guard FS.exists(path) else { return false }
    var file = try readFile().objectValue ?? JSONObject()
    var found = false
    if let helper = helperName(for: host, in: .object(file)) {
      found = try CredentialHelper(name: helper, searchPath: helperSearchPath).erase(serverURL: Self.serverKey(for: host))
    }
    if var auths = file["auths"]?.objectValue {
      let wanted = Self.normalizedHost(host)
      for key in auths.keys where Self.normalizedHost(key) == wanted {
        auths[key] = nil
        found = true
      }
      file["auths"] = .object(auths)
      try writeFile(.object(file))
    }
    return found
  }

  func removeOtherSpellings(of host: String, keeping key: String, from auths: inout JSONObject) {
    let wanted = Self.normalizedHost(host)
    for other in auths.keys where other != key && Self.normalizedHost(other) == wanted {
      auths[other] = nil
    }
  }

  func writeFile(_ value: JSONValue) throws {
    var target = path
    if let info = try FS.lstatIfPresent(path), (info.st_mode & S_IFMT) == S_IFLNK {
      target = try FS.realPath(path)
    }
    try FS.makeDirectories(Path.dirname(target), mode: 0o700)
    var bytes = JSON.serialize(value, options: [.prettyPrinted])
    bytes.append(0x0a)
    try FS.writeAtomically(target, bytes, mode: 0o600)
    try check("chmod \(target)") { chmod(target, 0o600) }
  }
}
