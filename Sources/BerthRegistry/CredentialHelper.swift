import BerthJSON
import BerthOS
#if canImport(Glibc)
import Glibc
#endif

/// A Docker credential helper, `docker-credential-<name>`: `get` reads a server URL on stdin
/// and prints `{"ServerURL","Username","Secret"}`; `store` reads that JSON; `erase` reads a
/// server URL. A user name of `<token>` marks the secret as an identity token.
struct CredentialHelper {
  var name: String
  var searchPath: [String]?

  var program: String { "docker-credential-" + name }

  /// Nil when the helper has no credentials for the server.
  func get(serverURL: String) throws -> RegistryCredentials? {
    let result = try run("get", input: Array(serverURL.utf8))
    if result.status != .exited(0) {
      if Self.isNotFound(result.output) || Self.isNotFound(result.error) { return nil }
      throw failure("get", result)
    }
    struct Answer: Decodable {
      var Username: String?
      var Secret: String?
    }
    let answer: Answer
    do {
      answer = try JSON.decode(Answer.self, from: result.output)
    } catch {
      throw BerthError(.commandFailed, "\(program) get printed something that is not its JSON answer: \(error)")
    }
    guard let secret = answer.Secret, !secret.isEmpty else { return nil }
    let username = answer.Username ?? ""
    if username == "<token>" {
      return RegistryCredentials(username: username, password: "", identityToken: secret)
    }
    return RegistryCredentials(username: username, password: secret)
  }

  func store(serverURL: String, credentials: RegistryCredentials) throws {
    struct Request: Encodable {
      var ServerURL: String
      var Username: String
      var Secret: String
    }
    let request: Request
    if let token = credentials.identityToken, credentials.password.isEmpty {
      request = Request(ServerURL: serverURL, Username: "<token>", Secret: token)
    } else {
      request = Request(ServerURL: serverURL, Username: credentials.username, Secret: credentials.password)
    }
    let result = try run("store", input: try JSON.encode(request))
    if result.status != .exited(0) { throw failure("store", result) }
  }

  /// Returns false when the helper had nothing for the server.
  func erase(serverURL: String) throws -> Bool {
    let result = try run("erase", input: Array(serverURL.utf8))
    if result.status != .exited(0) {
      if Self.isNotFound(result.output) || Self.isNotFound(result.error) { return false }
      throw failure("erase", result)
    }
    return true
  }

  static func isNotFound(_ output: [UInt8]) -> Bool {
    String(decoding: output, as: UTF8.self).lowercased().contains("credentials not found")
  }

  func failure(_ verb: String, _ result: (status: ExitStatus, output: [UInt8], error: [UInt8], timedOut: Bool)) -> BerthError {
    var text = String(decoding: result.error.isEmpty ? result.output : result.error, as: UTF8.self)
    while text.last?.isWhitespace == true { text.removeLast() }
    let detail = text.isEmpty ? result.status.description : "\(result.status.description): \(text)"
    return BerthError(.commandFailed, "credential helper \(program) \(verb) failed: \(detail)")
  }

  func run(_ verb: String, input: [UInt8]) throws -> (status: ExitStatus, output: [UInt8], error: [UInt8], timedOut: Bool) {
    let environment = RegistriesConfig.currentEnvironment()
    let directories = searchPath ?? (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
      .split(separator: ":").map(String.init)
    guard let executable = directories.lazy.map({ Path.join($0, program) }).first(where: { access($0, X_OK) == 0 }) else {
      throw BerthError(.notFound,
        "credential helper \(program) not found in \(directories.joined(separator: ":")) (named by credsStore or credHelpers in the Docker config)")
    }
    let env = environment.map { "\($0.key)=\($0.value)" }
    let result = try Subprocess.run(executable, args: [executable, verb], env: env, input: input,
                                    timeoutNanoseconds: 60_000_000_000)
    if result.timedOut {
      throw BerthError(.commandFailed, "credential helper \(program) \(verb) did not finish within 60 s")
    }
    return result
  }
}
