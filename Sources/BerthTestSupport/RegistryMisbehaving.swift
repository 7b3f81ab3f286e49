import BerthOCI
import Synchronization

/// A scriptable fake registry (NIO HTTP server on a loopback port) for the failures a real
/// registry will not produce on demand: error statuses, `Retry-After`, wrong digests,
/// truncated bodies, malformed manifests, slow answers, redirects.
///
/// Routes are tried newest first; a route answers nil to let older routes (and finally the
/// default: 200 for `GET /v2/`, 404 otherwise) answer. Each route gets how many times it was
/// called, counting from 1, so "503 twice, then the real answer" is:
///
/// ```swift
/// let registry = try await MisbehavingRegistry.start()
/// registry.serve(image, repository: "x", tag: "latest")        // a well-behaved baseline
/// registry.on("GET", "/v2/x/manifests/latest") { _, call in
///   call <= 2 ? .registryError(503, code: "UNAVAILABLE", message: "busy") : nil
/// }
/// ```
public final class MisbehavingRegistry: Sendable {
  /// A route: the request and the number of times this route was asked (1, 2, …); nil to
  /// pass the request on to older routes.
  public typealias Route = @Sendable (RegistryTestRequest, Int) async -> RegistryTestResponse?

  private struct Entry: Sendable {
    var method: String?
    var path: String
    var route: Route
    var calls: Int
  }

  private let routes = Mutex<[Entry]>([])
  private let log = Mutex<[RegistryTestRequest]>([])
  private let server = Mutex<RegistryTestServer?>(nil)

  private init() {}

  /// Starts the server on 127.0.0.1 and an ephemeral port.
  public static func start() async throws -> MisbehavingRegistry {
    let registry = MisbehavingRegistry()
    let server = try await RegistryTestServer.start { [registry] request in
      await registry.answer(request)
    }
    registry.server.withLock { $0 = server }
    return registry
  }

  /// "127.0.0.1:PORT".
  public var host: String { server.withLock { $0?.host } ?? "127.0.0.1:0" }
  /// "http://127.0.0.1:PORT".
  public var url: String { "http://" + host }
  /// The server's port.
  public var port: Int { server.withLock { $0?.port } ?? 0 }

  /// Every request so far, in order.
  public var requests: [RegistryTestRequest] { log.withLock { $0 } }

  /// The requests to `path` (without query), optionally with one method.
  public func requests(to path: String, method: String? = nil) -> [RegistryTestRequest] {
    requests.filter { $0.path == path && (method == nil || $0.method == method) }
  }

  /// Adds a route for `path` (exact, without the query) and `method` (nil: any).
  public func on(_ method: String?, _ path: String, _ route: @escaping Route) {
    routes.withLock { $0.append(Entry(method: method, path: path, route: route, calls: 0)) }
  }

  /// Adds a route that answers `response` every time.
  public func on(_ method: String?, _ path: String, always response: RegistryTestResponse) {
    on(method, path) { _, _ in response }
  }

  /// Routes that serve an image correctly: its manifest by tag and digest, its blobs (GET and
  /// HEAD, with Range support), with the right types and `Docker-Content-Digest`.
  public func serve(_ image: TestImage, repository: String, tag: String = "latest") {
    serveManifest(image.manifest, mediaType: image.manifestMediaType, repository: repository, references: [tag, image.manifestDigest])
    for (digest, bytes) in image.blobs { serveBlob(bytes, digest: digest, repository: repository) }
  }

  /// Routes for a manifest under each of `references` (tags or digests).
  public func serveManifest(_ bytes: [UInt8], mediaType: String, repository: String, references: [String]) {
    let digest = RegistrySupport.sha256(bytes)
    for reference in references {
      on(nil, "/v2/\(repository)/manifests/\(reference)") { request, _ in
        guard request.method == "GET" || request.method == "HEAD" else { return nil }
        return Self.manifest(bytes, mediaType: mediaType, digest: digest)
      }
    }
  }

  /// Routes for a blob (GET with `Range` support, HEAD).
  public func serveBlob(_ bytes: [UInt8], digest: String? = nil, repository: String) {
    let digest = digest ?? RegistrySupport.sha256(bytes)
    on(nil, "/v2/\(repository)/blobs/\(digest)") { request, _ in
      guard request.method == "GET" || request.method == "HEAD" else { return nil }
      return Self.blob(bytes, digest: digest, range: request.header("Range"))
    }
  }

  /// A manifest answer.
  public static func manifest(_ bytes: [UInt8], mediaType: String, digest: String? = nil) -> RegistryTestResponse {
    RegistryTestResponse(status: 200, headers: [
      ("Content-Type", mediaType), ("Docker-Content-Digest", digest ?? RegistrySupport.sha256(bytes)),
    ], body: bytes)
  }

  /// A blob answer; `range` ("bytes=N-") gives a 206 from byte N.
  public static func blob(_ bytes: [UInt8], digest: String? = nil, range: String? = nil) -> RegistryTestResponse {
    var headers: [(name: String, value: String)] = [
      ("Content-Type", "application/octet-stream"), ("Docker-Content-Digest", digest ?? RegistrySupport.sha256(bytes)),
    ]
    if let range, range.hasPrefix("bytes="), let dash = range.firstIndex(of: "-"),
       let start = Int(range[range.index(range.startIndex, offsetBy: 6)..<dash]), start < bytes.count {
      headers.append(("Content-Range", "bytes \(start)-\(bytes.count - 1)/\(bytes.count)"))
      return RegistryTestResponse(status: 206, headers: headers, body: Array(bytes[start...]))
    }
    return RegistryTestResponse(status: 200, headers: headers, body: bytes)
  }

  /// Stops the server.
  public func stop() async {
    let running = server.withLock { server -> RegistryTestServer? in
      defer { server = nil }
      return server
    }
    await running?.stop()
  }

  private func answer(_ request: RegistryTestRequest) async -> RegistryTestResponse {
    log.withLock { $0.append(request) }
    // Newest first; a route's count goes up when it is asked (routes are only appended, so
    // indices stay valid).
    let candidates = routes.withLock { entries in
      entries.indices.reversed().filter { index in
        entries[index].path == request.path && (entries[index].method == nil || entries[index].method == request.method)
      }
    }
    for index in candidates {
      let (route, calls) = routes.withLock { entries in
        entries[index].calls += 1
        return (entries[index].route, entries[index].calls)
      }
      if let response = await route(request, calls) { return response }
    }
    if request.path == "/v2/" || request.path == "/v2" {
      return .json(200, "{}", headers: [("Docker-Distribution-API-Version", "registry/2.0")])
    }
    return .registryError(404, code: "NOT_FOUND", message: "no route for \(request.method) \(request.path)")
  }
}

/// A ``MisbehavingRegistry`` stopped after `body`, whatever happens.
@discardableResult
public func withMisbehavingRegistry<T>(_ body: (MisbehavingRegistry) async throws -> T) async throws -> T {
  let registry = try await MisbehavingRegistry.start()
  do {
    let result = try await body(registry)
    await registry.stop()
    return result
  } catch {
    await registry.stop()
    throw error
  }
}
