import AsyncHTTPClient
import BerthOCI
import BerthOS
import Logging
import NIOCore
import Synchronization

/// A client of the distribution spec (v2) registry API: manifests, blobs, pushes, login.
///
/// One client serves many concurrent requests over one `HTTPClient` (a connection pool of
/// several connections per host). It handles authentication (bearer tokens, cached per host
/// and scope until they expire; basic credentials), retries with exponential back-off
/// (connection errors, 429, 500, 502, 503, 504; `Retry-After` honored), redirects (without
/// sending credentials to another host), mirrors (for pulls) and plain HTTP for loopback and
/// insecure registries (see ``RegistriesConfig``).
///
/// Every error is a `BerthError` whose message names the registry, the repository and what
/// went wrong; codes: `.notFound`, `.unauthorized`, `.denied`, `.tooManyRequests`,
/// `.registryUnavailable`, `.unreachable`, `.digestMismatch`, `.truncated`,
/// `.malformedManifest`, `.unsupportedManifest`, `.registry`.
public final class RegistryClient: Sendable {
  /// Tuning knobs; the defaults suit real registries.
  public struct Options: Sendable {
    /// Retries of failed requests.
    public var retry: RetryPolicy
    /// Blobs up to this size are uploaded in one PUT; larger ones in PATCH chunks of this size.
    public var chunkSize: Int
    /// The largest manifest accepted (4 MiB, as containerd).
    public var maximumManifestSize: Int
    /// How long a request without a streamed body (manifests, tokens, HEAD) may take.
    public var requestTimeout: TimeAmount
    /// For an HTTPClient the registry client creates: how long the connection may stay
    /// silent while a response is awaited or streamed.
    public var readTimeout: TimeAmount
    /// For an HTTPClient the registry client creates: the connect timeout.
    public var connectTimeout: TimeAmount
    /// Sent as `User-Agent`.
    public var userAgent: String

    public init(
      retry: RetryPolicy = RetryPolicy(), chunkSize: Int = 8 << 20, maximumManifestSize: Int = 4 << 20,
      requestTimeout: TimeAmount = .seconds(120), readTimeout: TimeAmount = .seconds(60),
      connectTimeout: TimeAmount = .seconds(10), userAgent: String = "berth/0.1"
    ) {
      self.retry = retry
      self.chunkSize = max(chunkSize, 1)
      self.maximumManifestSize = maximumManifestSize
      self.requestTimeout = requestTimeout
      self.readTimeout = readTimeout
      self.connectTimeout = connectTimeout
      self.userAgent = userAgent
    }
  }

  /// How requests are retried: `maxAttempts` in all, waiting `initialDelay`, then twice as
  /// long each time up to `maxDelay`; a `Retry-After` up to `maxRetryAfter` is waited instead.
  public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var initialDelay: Duration
    public var maxDelay: Duration
    public var maxRetryAfter: Duration

    public init(
      maxAttempts: Int = 3, initialDelay: Duration = .milliseconds(200), maxDelay: Duration = .milliseconds(1600),
      maxRetryAfter: Duration = .seconds(30)
    ) {
      self.maxAttempts = max(maxAttempts, 1)
      self.initialDelay = initialDelay
      self.maxDelay = maxDelay
      self.maxRetryAfter = maxRetryAfter
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 1).
    func delay(after attempt: Int) -> Duration {
      var delay = initialDelay
      for _ in 1..<max(attempt, 1) {
        delay = delay * 2
        if delay >= maxDelay { return maxDelay }
      }
      return min(delay, maxDelay)
    }
  }

  public let config: RegistriesConfig
  public let credentials: CredentialStore
  public let options: Options
  let http: HTTPClient
  let ownsHTTPClient: Bool
  let logger: Logger
  let state = Mutex(AuthState())

  /// - Parameters:
  ///   - config: plain-HTTP hosts and mirrors; nil reads ``RegistriesConfig/load(path:environment:)``
  ///     (a file that cannot be read or parsed is logged as a warning and the defaults apply).
  ///   - credentials: where logins are kept.
  ///   - httpClient: a shared client, left running by ``shutdown()``; nil makes one (see
  ///     ``makeHTTPClient(options:)``) that ``shutdown()`` stops. A shared client should not
  ///     follow redirects itself (the registry client follows them, dropping credentials when
  ///     the host changes).
  ///   - options: retries, chunk size, timeouts.
  public init(
    config: RegistriesConfig? = nil, credentials: CredentialStore = .default, httpClient: HTTPClient? = nil,
    options: Options = Options(), logger: Logger = Logger(label: "berth.registry")
  ) {
    if let config {
      self.config = config
    } else {
      do {
        self.config = try RegistriesConfig.load()
      } catch {
        logger.warning("ignoring the registries configuration: \(error)")
        self.config = RegistriesConfig()
      }
    }
    self.credentials = credentials
    self.options = options
    self.logger = logger
    if let httpClient {
      http = httpClient
      ownsHTTPClient = false
    } else {
      http = Self.makeHTTPClient(options: options)
      ownsHTTPClient = true
    }
  }

  /// An HTTPClient set up for registries: several connections per host, no automatic
  /// redirects, no connection retries of its own (the registry client retries), no
  /// decompression (digests cover the bytes as sent).
  public static func makeHTTPClient(options: Options = Options()) -> HTTPClient {
    var configuration = HTTPClient.Configuration()
    configuration.redirectConfiguration = .disallow
    configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 16
    configuration.connectionPool.retryConnectionEstablishment = false
    configuration.timeout = HTTPClient.Configuration.Timeout(connect: options.connectTimeout, read: options.readTimeout)
    configuration.decompression = .disabled
    return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
  }

  /// Stops the HTTPClient if this registry client made it.
  public func shutdown() async throws {
    if ownsHTTPClient { try await http.shutdown() }
  }

  /// Forgets the cached credentials and tokens of `host` (after `login` or `logout`).
  public func forgetCachedAuth(host: String) {
    let apiHost = config.hostConfig(for: host).apiHost
    state.withLock { state in
      state.credentials[apiHost] = nil
      state.credentials[host] = nil
      state.tokens = state.tokens.filter { !$0.key.hasPrefix(apiHost + "|") }
    }
  }

  /// How `host` is reached (scheme, API host, mirrors).
  public func hostConfig(for host: String) -> RegistryHostConfig {
    config.hostConfig(for: host)
  }
}

/// What the client remembers between requests.
struct AuthState {
  /// The scheme each API host asked for in its last 401.
  var schemes: [String: HostAuthScheme] = [:]
  /// Bearer tokens by "host|scopes".
  var tokens: [String: CachedToken] = [:]
  /// Token requests under way, so concurrent requests share one.
  var pendingTokens: [String: Task<CachedToken, any Error>] = [:]
  /// Credentials looked up per host (the outer nil: not looked up yet).
  var credentials: [String: RegistryCredentials?] = [:]
}

enum HostAuthScheme: Sendable, Equatable {
  case basic
  case bearer(realm: String, service: String?)
}

struct CachedToken: Sendable {
  var token: String
  var expires: ContinuousClock.Instant

  var isValid: Bool { ContinuousClock.now < expires }
}
