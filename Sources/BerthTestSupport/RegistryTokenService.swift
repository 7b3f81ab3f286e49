import BerthOS
import Crypto
import Foundation
import Synchronization

// No BerthOCI here: Crypto's `Digest` protocol and BerthOCI's `Digest` share a name.

/// The token service of a ``RegistryFixture`` in token mode: distribution's token protocol
/// (`GET /token?service=…&scope=repository:NAME:pull,push`, Basic credentials or anonymous)
/// answering JWTs signed with ES256 by a P-256 key whose self-signed certificate the
/// registry trusts (`auth.token.rootcertbundle`); the certificate rides in the JWT header's
/// `x5c`. Claims: iss, sub, aud, exp, nbf, iat, jti, access.
public final class RegistryTokenService: Sendable {
  /// One token request, as received.
  public struct Record: Sendable {
    /// The user of the Basic credentials, nil when anonymous.
    public var username: String?
    /// The `scope` parameters.
    public var scopes: [String]
    /// The HTTP status answered (200, or 401 for bad credentials).
    public var status: Int
  }

  public let issuer = "berth-test-issuer"
  public let service = "berth-test-registry"
  /// The PEM certificate file the registry trusts.
  public let certificatePath: String
  /// Token lifetime announced in `expires_in`.
  public let lifetimeSeconds: Int

  /// The signing key's raw bytes (the key type is not Sendable).
  private let keyBytes: [UInt8]
  private let certificateDER: [UInt8]
  private let users: [String: String]
  private let anonymousPull: Bool
  private let log = Mutex<[Record]>([])
  private let server = Mutex<RegistryTestServer?>(nil)

  /// Makes the key and certificate in `directory` (with openssl) and starts the service.
  public static func start(
    directory: String, users: [String: String], anonymousPull: Bool, lifetimeSeconds: Int = 300
  ) async throws -> RegistryTokenService {
    let key = P256.Signing.PrivateKey()
    let keyPath = directory + "/token-key.pem"
    let certificatePath = directory + "/token-cert.pem"
    try FS.write(keyPath, key.pemRepresentation, mode: 0o600)
    guard let openssl = RegistrySupport.which("openssl") else { throw RegistrySupport.failure("openssl is not installed") }
    try RegistrySupport.run(openssl, [
      "req", "-x509", "-new", "-key", keyPath, "-out", certificatePath, "-days", "2", "-sha256",
      "-subj", "/CN=berth-test-token-issuer",
    ])
    let der = try RegistrySupport.run(openssl, ["x509", "-in", certificatePath, "-outform", "DER"])
    let service = RegistryTokenService(
      keyBytes: Array(key.rawRepresentation), certificateDER: der, certificatePath: certificatePath, users: users, anonymousPull: anonymousPull,
      lifetimeSeconds: lifetimeSeconds)
    let server = try await RegistryTestServer.start { [service] request in
      service.answer(request)
    }
    service.server.withLock { $0 = server }
    return service
  }

  private init(
    keyBytes: [UInt8], certificateDER: [UInt8], certificatePath: String, users: [String: String],
    anonymousPull: Bool, lifetimeSeconds: Int
  ) {
    self.keyBytes = keyBytes
    self.certificateDER = certificateDER
    self.certificatePath = certificatePath
    self.users = users
    self.anonymousPull = anonymousPull
    self.lifetimeSeconds = lifetimeSeconds
  }

  /// The realm URL: "http://127.0.0.1:PORT/token".
  public var realm: String { (server.withLock { $0?.url } ?? "http://127.0.0.1:0") + "/token" }

  /// Every token request so far.
  public var requests: [Record] { log.withLock { $0 } }

  public func stop() async {
    let running = server.withLock { server -> RegistryTestServer? in
      defer { server = nil }
      return server
    }
    await running?.stop()
  }

  /// A signed token granting `access` (repository name → actions) to `subject`.
  public func makeToken(subject: String?, access: [(repository: String, actions: [String])]) throws -> String {
    let now = Int(Date().timeIntervalSince1970)
    let header: [String: Any] = [
      "typ": "JWT", "alg": "ES256", "x5c": [Data(certificateDER).base64EncodedString()],
    ]
    let claims: [String: Any] = [
      "iss": issuer, "sub": subject ?? "", "aud": service, "exp": now + lifetimeSeconds, "nbf": now - 10, "iat": now,
      "jti": UUID().uuidString,
      "access": access.map { ["type": "repository", "name": $0.repository, "actions": $0.actions] as [String: Any] },
    ]
    let headerPart = RegistrySupport.base64URL(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes]))
    let claimsPart = RegistrySupport.base64URL(try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys, .withoutEscapingSlashes]))
    let signingInput = headerPart + "." + claimsPart
    let key = try P256.Signing.PrivateKey(rawRepresentation: keyBytes)
    let signature = try key.signature(for: Data(signingInput.utf8))
    return signingInput + "." + RegistrySupport.base64URL(signature.rawRepresentation)
  }

  /// The Basic credentials of a request: (user, whether the password is right); nil if none.
  private func caller(_ request: RegistryTestRequest) -> (username: String, valid: Bool)? {
    guard let header = request.header("Authorization"), header.lowercased().hasPrefix("basic "),
          let data = Data(base64Encoded: String(header.dropFirst(6))), let text = String(data: data, encoding: .utf8),
          let colon = text.firstIndex(of: ":") else { return nil }
    let username = String(text[..<colon])
    let password = String(text[text.index(after: colon)...])
    return (username, users[username] == password)
  }

  private func answer(_ request: RegistryTestRequest) -> RegistryTestResponse {
    guard request.path == "/token" else {
      return .registryError(404, code: "NOT_FOUND", message: "no such endpoint")
    }
    let scopes = request.query.filter { $0.name == "scope" }.map(\.value)
    let caller = self.caller(request)
    if let caller, !caller.valid {
      log.withLock { $0.append(Record(username: caller.username, scopes: scopes, status: 401)) }
      return .registryError(401, code: "UNAUTHORIZED", message: "incorrect username or password")
    }
    var access: [(repository: String, actions: [String])] = []
    for scope in scopes {
      // repository:NAME:ACTIONS (NAME may hold ":" only in a host:port, which repository names do not).
      let parts = scope.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
      guard parts.count >= 3, parts[0] == "repository" else { continue }
      let name = parts[1..<(parts.count - 1)].joined(separator: ":")
      let requested = parts[parts.count - 1].split(separator: ",").map(String.init)
      let granted = caller != nil ? requested : (anonymousPull ? requested.filter { $0 == "pull" } : [])
      if !granted.isEmpty { access.append((name, granted)) }
    }
    log.withLock { $0.append(Record(username: caller?.username, scopes: scopes, status: 200)) }
    do {
      let token = try makeToken(subject: caller?.username, access: access)
      let body = #"{"token":"\#(token)","access_token":"\#(token)","expires_in":\#(lifetimeSeconds)}"#
      return .json(200, body)
    } catch {
      return .registryError(500, code: "UNKNOWN", message: "signing failed: \(error)")
    }
  }
}
