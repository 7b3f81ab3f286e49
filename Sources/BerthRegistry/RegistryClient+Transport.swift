import AsyncHTTPClient
import BerthJSON
import BerthOS
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// One request to a registry (or its token service), with what the transport needs to
/// authenticate, retry and explain failures.
struct RegistryRequest: Sendable {
  var method: HTTPMethod
  var endpoint: RegistryEndpoint
  var url: String
  var headers: HTTPHeaders = HTTPHeaders()
  /// Makes the body, once per attempt.
  var body: (@Sendable () -> HTTPClientRequest.Body)?
  /// Token scopes: "repository:library/busybox:pull".
  var scopes: [String] = []
  var context: RequestContext
  /// Whether failed attempts are retried (requests that stream an upload body are retried
  /// by their caller instead).
  var retries = true
  /// Whether 3xx answers are followed (GET and HEAD).
  var followRedirects: Bool
  var authorization: Authorization = .registry
  /// nil: the client's request timeout; requests that stream a body wait without deadline
  /// (the read timeout still applies).
  var timeout: TimeAmount?

  enum Authorization: Sendable {
    /// The registry's auth flow, with the stored credentials.
    case registry
    /// The registry's auth flow with these credentials (login checks).
    case registryWith(RegistryCredentials)
    /// This header value, or none.
    case explicit(String?)
  }

  init(
    _ method: HTTPMethod, endpoint: RegistryEndpoint, url: String, context: RequestContext, scopes: [String] = []
  ) {
    self.method = method
    self.endpoint = endpoint
    self.url = url
    self.context = context
    self.scopes = scopes
    self.followRedirects = method == .GET || method == .HEAD
  }
}

extension RegistryClient {
  static let retryableStatuses: Set<UInt> = [429, 500, 502, 503, 504]
  static let redirectStatuses: Set<UInt> = [301, 302, 303, 307, 308]

  // MARK: Retries

  /// Sends a request: authenticates (answering one 401 with credentials or a new token),
  /// follows redirects, retries connection errors and 429/5xx answers with back-off. Returns
  /// the last answer whatever its status, except a 401 the credentials cannot fix, which
  /// throws `.unauthorized`; connection failures throw `.unreachable`.
  func send(_ request: RegistryRequest) async throws -> HTTPClientResponse {
    let policy = options.retry
    let attempts = request.retries ? policy.maxAttempts : 1
    var attempt = 0
    while true {
      attempt += 1
      let response: HTTPClientResponse
      do {
        response = try await sendAuthenticated(request)
      } catch let error as BerthError {
        throw error
      } catch {
        if Self.isCancellation(error) { throw error }
        if attempt < attempts {
          let wait = policy.delay(after: attempt)
          logger.debug("registry request failed, retrying", metadata: [
            "url": "\(request.url)", "error": "\(error)", "attempt": "\(attempt)", "wait": "\(wait)",
          ])
          try await Task.sleep(for: wait)
          continue
        }
        throw transportError(error, endpoint: request.endpoint, context: request.context)
      }
      let status = response.status.code
      if Self.retryableStatuses.contains(status) && attempt < attempts {
        var wait = policy.delay(after: attempt)
        if let retryAfter = Self.retryAfter(response.headers) {
          // Waiting longer than the policy allows is the caller's decision: report it.
          if retryAfter > policy.maxRetryAfter { return response }
          wait = max(wait, retryAfter)
        }
        logger.debug("registry answered \(status), retrying", metadata: [
          "url": "\(request.url)", "attempt": "\(attempt)", "wait": "\(wait)",
        ])
        await Self.discard(response)
        try await Task.sleep(for: wait)
        continue
      }
      return response
    }
  }

  /// `Retry-After` in seconds (the HTTP-date form is not used by registries in practice and is
  /// treated as absent).
  static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
    guard let value = headers.first(name: "Retry-After")?.trimmingCharacters(in: .whitespaces),
          let seconds = Int(value), seconds >= 0 else { return nil }
    return .seconds(seconds)
  }

  static func isCancellation(_ error: any Error) -> Bool {
    if error is CancellationError { return true }
    if let error = error as? HTTPClientError, error == .cancelled { return true }
    return false
  }

  // MARK: Authentication

  func sendAuthenticated(_ request: RegistryRequest) async throws -> HTTPClientResponse {
    let explicitCredentials: RegistryCredentials?
    switch request.authorization {
    case .explicit(let header):
      return try await sendFollowingRedirects(request, authorization: header).response
    case .registry:
      explicitCredentials = nil
    case .registryWith(let credentials):
      explicitCredentials = credentials
    }

    let host = request.endpoint.host
    let first = try await authorizationHeader(for: request, credentials: explicitCredentials, rejected: nil)
    let (response, stayedOnHost) = try await sendFollowingRedirects(request, authorization: first)
    guard response.status == .unauthorized, stayedOnHost else { return response }

    let challenges = AuthChallenge.parse(response.headers["WWW-Authenticate"])
    let body = await Self.readBody(response, limit: 64 << 10)
    let challenge = challenges.first(where: { $0.scheme == "bearer" && $0.realm != nil })
      ?? challenges.first(where: { $0.scheme == "basic" })
    guard let challenge else {
      throw BerthError.registryResponse(status: 401, body: body, context: request.context)
    }
    let scheme: HostAuthScheme = challenge.scheme == "bearer"
      ? .bearer(realm: challenge.realm ?? "", service: challenge.service) : .basic
    state.withLock { $0.schemes[host] = scheme }

    let credentials = try explicitCredentials ?? storedCredentials(for: host)
    if scheme == .basic && credentials == nil {
      throw unauthorized(request, credentials: nil, body: body)
    }
    var retried = request
    retried.scopes = Array(Set(request.scopes + challenge.scopes)).sorted()
    // A bearer token that was refused is fetched anew (unless another request did already).
    let rejected = first.flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
    let second = try await authorizationHeader(for: retried, credentials: explicitCredentials, rejected: rejected)
    if second == first && scheme == .basic {
      // The same credentials were just refused.
      throw unauthorized(request, credentials: credentials, body: body)
    }
    let (again, _) = try await sendFollowingRedirects(request, authorization: second)
    if again.status == .unauthorized {
      let body = await Self.readBody(again, limit: 64 << 10)
      throw unauthorized(request, credentials: credentials, body: body)
    }
    return again
  }

  func unauthorized(_ request: RegistryRequest, credentials: RegistryCredentials?, body: [UInt8]) -> BerthError {
    let details = RegistryErrorDetail.describe(RegistryErrorDetail.parse(body))
    let said = details.isEmpty ? "" : " (the registry said: \(details.joined(separator: "; ")))"
    let host = request.context.host
    if let credentials {
      let why = request.context.repository == nil
        ? "wrong user name or password" : "wrong password, or no access to \(request.context.repositoryName)"
      return BerthError(.unauthorized,
        "\(request.context.operation): unauthorized: the registry refused the credentials of \"\(credentials.username)\" (\(why)); run `berth login \(host)`\(said)")
    }
    return BerthError(.unauthorized,
      "\(request.context.operation): unauthorized: authentication required: run `berth login \(host)`\(said)")
  }

  /// The stored credentials of an API host (looked up once per client).
  func storedCredentials(for host: String) throws -> RegistryCredentials? {
    if let cached = state.withLock({ $0.credentials[host] }) { return cached }
    let found = try credentials.credentials(for: host)
    state.withLock { $0.credentials[host] = .some(found) }
    return found
  }

  /// The `Authorization` header for a request to a host whose scheme is known, fetching a
  /// token when needed.
  func authorizationHeader(for request: RegistryRequest, credentials explicit: RegistryCredentials?, rejected: String?) async throws -> String? {
    let host = request.endpoint.host
    guard let scheme = state.withLock({ $0.schemes[host] }) else { return nil }
    let credentials = try explicit ?? storedCredentials(for: host)
    switch scheme {
    case .basic:
      guard let credentials, credentials.identityToken == nil || !credentials.password.isEmpty else { return nil }
      return credentials.basicAuthorization
    case .bearer(let realm, let service):
      let token = try await bearerToken(
        host: host, realm: realm, service: service, scopes: request.scopes, credentials: credentials,
        cacheable: explicit == nil, rejected: rejected, context: request.context)
      return "Bearer " + token
    }
  }

  /// A token for `scopes` on `host`: cached, being fetched by another request, or fetched now.
  /// `rejected` is a token the registry just refused: a cached token equal to it is dropped.
  func bearerToken(
    host: String, realm: String, service: String?, scopes: [String], credentials: RegistryCredentials?,
    cacheable: Bool, rejected: String?, context: RequestContext
  ) async throws -> String {
    guard cacheable else {
      return try await fetchToken(realm: realm, service: service, scopes: scopes, credentials: credentials, context: context).token
    }
    let key = host + "|" + scopes.sorted().joined(separator: " ")
    enum Step { case have(String), wait(Task<CachedToken, any Error>) }
    let step: Step = state.withLock { state in
      if let rejected, state.tokens[key]?.token == rejected { state.tokens[key] = nil }
      if let cached = state.tokens[key], cached.isValid { return .have(cached.token) }
      if let pending = state.pendingTokens[key] { return .wait(pending) }
      let task = Task { try await self.fetchToken(realm: realm, service: service, scopes: scopes, credentials: credentials, context: context) }
      state.pendingTokens[key] = task
      return .wait(task)
    }
    switch step {
    case .have(let token):
      return token
    case .wait(let task):
      do {
        let token = try await task.value
        state.withLock { state in
          state.tokens[key] = token
          state.pendingTokens[key] = nil
        }
        return token.token
      } catch {
        state.withLock { state in
          state.pendingTokens[key] = nil
        }
        throw error
      }
    }
  }

  /// Asks the token service for a token (distribution's token protocol; OAuth refresh-token
  /// form when the credentials hold an identity token).
  func fetchToken(
    realm: String, service: String?, scopes: [String], credentials: RegistryCredentials?, context: RequestContext
  ) async throws -> CachedToken {
    guard let realmEndpoint = Self.endpoint(ofURL: realm) else {
      throw BerthError(.registry, "\(context.operation): the registry's token realm \"\(realm)\" is not an http(s) URL")
    }
    var parameters: [(String, String)] = []
    if let service { parameters.append(("service", service)) }
    for scope in scopes { parameters.append(("scope", scope)) }
    var tokenContext = context
    tokenContext.what = .token

    var request: RegistryRequest
    if let identityToken = credentials?.identityToken {
      var form = parameters
      form += [("grant_type", "refresh_token"), ("refresh_token", identityToken), ("client_id", "berth")]
      let formBody = Self.formEncode(form)
      request = RegistryRequest(.POST, endpoint: realmEndpoint, url: realm, context: tokenContext)
      request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
      request.body = { .bytes(ByteBuffer(string: formBody)) }
      request.authorization = .explicit(nil)
    } else {
      let separator = realm.contains("?") ? "&" : "?"
      let url = parameters.isEmpty ? realm : realm + separator + Self.formEncode(parameters)
      request = RegistryRequest(.GET, endpoint: realmEndpoint, url: url, context: tokenContext)
      request.authorization = .explicit(credentials.flatMap { $0.password.isEmpty ? nil : $0.basicAuthorization })
    }
    let response = try await send(request)
    let body = await Self.readBody(response, limit: 1 << 20)
    let host = context.host
    switch response.status.code {
    case 200:
      break
    case 401:
      let who = credentials.map { " of \"\($0.username)\"" } ?? ""
      throw BerthError(.unauthorized,
        "\(context.operation): unauthorized: incorrect username or password: the token service at \(realmEndpoint.host) refused the credentials\(who); run `berth login \(host)`")
    default:
      throw BerthError.registryResponse(status: Int(response.status.code), body: body, context: tokenContext)
    }
    struct Answer: Decodable {
      var token: String?
      var access_token: String?
      var expires_in: Int?
    }
    let answer: Answer
    do {
      answer = try JSON.decode(Answer.self, from: body)
    } catch {
      throw BerthError(.registry, "\(context.operation): the token service at \(realmEndpoint.host) answered something that is not a token: \(error)")
    }
    guard let token = answer.token.flatMap({ $0.isEmpty ? nil : $0 }) ?? answer.access_token, !token.isEmpty else {
      throw BerthError(.registry, "\(context.operation): the token service at \(realmEndpoint.host) answered without a token")
    }
    // Tokens live 60 s unless told otherwise; renew a little early.
    let lifetime = max(answer.expires_in ?? 60, 1)
    let margin = min(lifetime / 10, 30)
    return CachedToken(token: token, expires: ContinuousClock.now + .seconds(lifetime - margin))
  }

  // MARK: Redirects

  /// Sends the request and follows redirects (GET and HEAD), sending `authorization` only to
  /// the registry's own host. Also says whether the answer came from that host.
  func sendFollowingRedirects(_ request: RegistryRequest, authorization: String?) async throws -> (response: HTTPClientResponse, onHost: Bool) {
    var url = request.url
    for _ in 0..<10 {
      var outgoing = HTTPClientRequest(url: url)
      outgoing.method = request.method
      outgoing.headers = request.headers
      outgoing.headers.replaceOrAdd(name: "User-Agent", value: options.userAgent)
      let onHost = Self.endpoint(ofURL: url) == request.endpoint
      if let authorization, onHost { outgoing.headers.replaceOrAdd(name: "Authorization", value: authorization) }
      if let makeBody = request.body { outgoing.body = makeBody() }
      let deadline: NIODeadline = request.timeout.map { .now() + $0 }
        ?? (request.body == nil && request.context.what != .blob ? .now() + options.requestTimeout : .distantFuture)
      let response = try await http.execute(outgoing, deadline: deadline)
      if request.followRedirects, Self.redirectStatuses.contains(response.status.code),
         let location = response.headers.first(name: "Location") {
        await Self.discard(response)
        url = Self.resolve(location, against: url)
        continue
      }
      return (response, onHost)
    }
    throw BerthError(.registry, "\(request.context.operation): more than 10 redirects, starting at \(request.url)")
  }

  // MARK: Helpers

  /// The body of an answer, up to `limit` bytes (the rest is dropped).
  static func readBody(_ response: HTTPClientResponse, limit: Int) async -> [UInt8] {
    var bytes: [UInt8] = []
    do {
      for try await chunk in response.body {
        let room = limit - bytes.count
        if room <= 0 { break }
        bytes += chunk.readableBytesView.prefix(room)
      }
    } catch {
      // An error body that does not arrive whole is still worth what arrived.
    }
    return bytes
  }

  /// Reads and drops a body so the connection can serve the next request.
  static func discard(_ response: HTTPClientResponse) async {
    _ = await readBody(response, limit: 0)
  }

  /// Throws the error an unexpected answer stands for, unless its status is one of `expected`.
  func expect(_ response: HTTPClientResponse, _ expected: Set<UInt>, _ context: RequestContext) async throws {
    let status = response.status.code
    if expected.contains(status) { return }
    let body = await Self.readBody(response, limit: 64 << 10)
    throw BerthError.registryResponse(
      status: Int(status), body: body, context: context, retryAfter: response.headers.first(name: "Retry-After"))
  }

  /// The error for a request that never got an answer.
  func transportError(_ error: any Error, endpoint: RegistryEndpoint, context: RequestContext) -> BerthError {
    let text = String(describing: error)
    var reason: String
    if text.contains("Connection refused") || text.contains("ECONNREFUSED") {
      reason = "connection refused"
    } else if let error = error as? HTTPClientError, error == .connectTimeout {
      reason = "connection timed out"
    } else if let error = error as? HTTPClientError, error == .readTimeout {
      reason = "no answer within the read timeout"
    } else if let error = error as? HTTPClientError, error == .deadlineExceeded {
      reason = "no answer within \(options.requestTimeout.nanoseconds / 1_000_000_000) s"
    } else if let error = error as? HTTPClientError, error == .remoteConnectionClosed {
      reason = "the registry closed the connection"
    } else if text.contains("NXDOMAIN") || text.contains("dnsAError") || text.contains("resolve") {
      reason = "cannot resolve the host name (\(text))"
    } else if text.contains("WRONG_VERSION_NUMBER") {
      reason = "TLS handshake failed: the server does not speak TLS"
      if endpoint.scheme == "https" {
        reason += "; if it serves plain HTTP, add \"\(endpoint.host)\" to \"insecure\" in \(RegistriesConfig.defaultPath)"
      }
    } else if text.contains("SSL") || text.contains("TLS") || text.contains("handshake") {
      reason = "TLS failed (\(text))"
      if endpoint.scheme == "https" {
        reason += "; if it serves plain HTTP, add \"\(endpoint.host)\" to \"insecure\" in \(RegistriesConfig.defaultPath)"
      }
    } else {
      reason = text
    }
    return BerthError(.unreachable, "\(context.operation): cannot reach the registry at \(endpoint.host): \(reason)")
  }

  /// "https://host:5000/path?q" → (https, host:5000).
  static func endpoint(ofURL url: String) -> RegistryEndpoint? {
    guard let range = url.range(of: "://") else { return nil }
    let scheme = url[..<range.lowerBound].lowercased()
    guard scheme == "http" || scheme == "https" else { return nil }
    var authority = url[range.upperBound...]
    if let end = authority.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { authority = authority[..<end] }
    if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
    return RegistryEndpoint(scheme: scheme, host: String(authority))
  }

  /// Resolves a `Location` header against the URL it answered.
  static func resolve(_ location: String, against base: String) -> String {
    if location.hasPrefix("http://") || location.hasPrefix("https://") { return location }
    if let baseURL = URL(string: base), let resolved = URL(string: location, relativeTo: baseURL) {
      return resolved.absoluteString
    }
    if location.hasPrefix("/"), let endpoint = endpoint(ofURL: base) { return endpoint.baseURL + location }
    return location
  }

  /// `a=b&c=d` with RFC 3986 percent-encoding.
  static func formEncode(_ parameters: [(String, String)]) -> String {
    parameters.map { percentEncode($0.0) + "=" + percentEncode($0.1) }.joined(separator: "&")
  }

  static func percentEncode(_ text: String) -> String {
    var result = ""
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
           UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
           UInt8(ascii: "~"):
        result.unicodeScalars.append(Unicode.Scalar(byte))
      default:
        let hex = Array("0123456789ABCDEF".unicodeScalars)
        result.unicodeScalars.append("%")
        result.unicodeScalars.append(hex[Int(byte >> 4)])
        result.unicodeScalars.append(hex[Int(byte & 0x0f)])
      }
    }
    return result
  }

  /// A URL with one more query parameter.
  static func appendingQuery(_ url: String, _ parameters: [(String, String)]) -> String {
    url + (url.contains("?") ? "&" : "?") + formEncode(parameters)
  }

  // MARK: Endpoints

  /// The registry's own endpoint and URL prefix for a repository: "http://127.0.0.1:5000/v2/x".
  func repositoryURL(_ endpoint: RegistryEndpoint, _ path: String) -> String {
    endpoint.baseURL + "/v2/" + path
  }

  /// Where to pull from: mirrors first, then the registry itself.
  func pullEndpoints(for host: String) -> [RegistryEndpoint] {
    let hostConfig = config.hostConfig(for: host)
    return hostConfig.mirrors + [hostConfig.endpoint]
  }

  /// Runs `body` against each pull endpoint in turn until one succeeds; the registry's own
  /// error is the one thrown. `mayFallBack` says whether a failure still allows the next.
  func withPullEndpoints<T>(
    host: String, _ body: (RegistryEndpoint, RequestContextHost) async throws -> T,
    mayFallBack: () -> Bool = { true }
  ) async throws -> T {
    let endpoints = pullEndpoints(for: host)
    for (index, endpoint) in endpoints.enumerated() {
      let isMirror = index < endpoints.count - 1
      do {
        return try await body(endpoint, isMirror ? endpoint.host : host)
      } catch {
        guard isMirror, !Self.isCancellation(error), mayFallBack() else { throw error }
        logger.info("mirror failed, trying the next endpoint", metadata: ["mirror": "\(endpoint)", "error": "\(error)"])
      }
    }
    throw BerthError(.internalError, "no endpoint for \(host)")
  }
}

/// The host name that error messages use for an endpoint (the reference's domain, or a
/// mirror's host).
typealias RequestContextHost = String
