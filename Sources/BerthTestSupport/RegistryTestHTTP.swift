import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A request as a ``RegistryTestServer`` received it.
public struct RegistryTestRequest: Sendable {
  public var method: String
  /// The request target as sent: "/v2/x/manifests/latest?foo=1".
  public var uri: String
  public var headers: [(name: String, value: String)]
  public var body: [UInt8]

  public init(method: String, uri: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
    self.method = method
    self.uri = uri
    self.headers = headers
    self.body = body
  }

  /// The path without the query.
  public var path: String {
    uri.firstIndex(of: "?").map { String(uri[..<$0]) } ?? uri
  }

  /// The query parameters in order, percent-decoded ("scope" may repeat).
  public var query: [(name: String, value: String)] {
    guard let mark = uri.firstIndex(of: "?") else { return [] }
    return uri[uri.index(after: mark)...].split(separator: "&").map { pair in
      let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      return (RegistrySupport.percentDecode(String(parts[0])),
              parts.count > 1 ? RegistrySupport.percentDecode(String(parts[1])) : "")
    }
  }

  /// The first query parameter named `name`.
  public func queryValue(_ name: String) -> String? {
    query.first(where: { $0.name == name })?.value
  }

  /// The first header named `name` (case-insensitive).
  public func header(_ name: String) -> String? {
    headers.first(where: { $0.name.lowercased() == name.lowercased() })?.value
  }
}

/// What a ``RegistryTestServer`` answers.
public struct RegistryTestResponse: Sendable {
  public var status: Int
  public var headers: [(name: String, value: String)]
  public var body: [UInt8]
  /// Announce this Content-Length instead of the body's, send the body, then close the
  /// connection (a truncated response when larger).
  public var announcedLength: Int?
  /// Wait this long before answering (a slow registry).
  public var delay: Duration?
  /// Close the connection after this response.
  public var close: Bool
  /// Send the body with chunked transfer encoding (no Content-Length).
  public var chunked: Bool

  public init(
    status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = [], announcedLength: Int? = nil,
    delay: Duration? = nil, close: Bool = false, chunked: Bool = false
  ) {
    self.status = status
    self.headers = headers
    self.body = body
    self.announcedLength = announcedLength
    self.delay = delay
    self.close = close
    self.chunked = chunked
  }

  /// A JSON answer.
  public static func json(_ status: Int, _ text: String, headers: [(name: String, value: String)] = []) -> Self {
    RegistryTestResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8))
  }

  /// A distribution error body: `{"errors":[{"code":…,"message":…}]}`.
  public static func registryError(_ status: Int, code: String, message: String, headers: [(name: String, value: String)] = []) -> Self {
    json(status, #"{"errors":[{"code":"\#(code)","message":"\#(message)","detail":null}]}"#, headers: headers)
  }
}

/// A small HTTP/1.1 server on a loopback port (NIO), answering each request with a handler.
/// The base of ``MisbehavingRegistry`` and of ``RegistryFixture``'s token service.
public final class RegistryTestServer: Sendable {
  public typealias Handler = @Sendable (RegistryTestRequest) async -> RegistryTestResponse

  /// "127.0.0.1:PORT".
  public let host: String
  public let port: Int
  private let serverChannel: any Channel
  private let task: Task<Void, Never>

  private init(host: String, port: Int, serverChannel: any Channel, task: Task<Void, Never>) {
    self.host = host
    self.port = port
    self.serverChannel = serverChannel
    self.task = task
  }

  /// "http://127.0.0.1:PORT".
  public var url: String { "http://" + host }

  /// Starts listening on 127.0.0.1 and an ephemeral port.
  public static func start(handler: @escaping Handler) async throws -> RegistryTestServer {
    let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .bind(host: "127.0.0.1", port: 0) { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
          return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
        }
      }
    let port = server.channel.localAddress?.port ?? 0
    let channel = server.channel
    let task = Task {
      do {
        try await server.executeThenClose { inbound in
          try await withThrowingDiscardingTaskGroup { group in
            for try await connection in inbound {
              group.addTask { await serve(connection, handler: handler) }
            }
          }
        }
      } catch {
        // Stopped.
      }
    }
    return RegistryTestServer(host: "127.0.0.1:\(port)", port: port, serverChannel: channel, task: task)
  }

  /// Stops listening and drops open connections.
  public func stop() async {
    try? await serverChannel.close()
    task.cancel()
    await task.value
  }

  private static func serve(
    _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, handler: Handler
  ) async {
    try? await connection.executeThenClose { inbound, outbound in
      var head: HTTPRequestHead?
      var body: [UInt8] = []
      for try await part in inbound {
        switch part {
        case .head(let requestHead):
          head = requestHead
          body = []
        case .body(let buffer):
          body += buffer.readableBytesView
        case .end:
          guard let requestHead = head else { continue }
          let request = RegistryTestRequest(
            method: requestHead.method.rawValue, uri: requestHead.uri,
            headers: requestHead.headers.map { ($0.name, $0.value) }, body: body)
          let response = await handler(request)
          if let delay = response.delay { try await Task.sleep(for: delay) }
          var headers = HTTPHeaders(response.headers.map { ($0.name, $0.value) })
          let length = response.announcedLength ?? response.body.count
          if response.chunked {
            headers.remove(name: "Content-Length")
            headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
          } else if !headers.contains(name: "Content-Length") {
            headers.add(name: "Content-Length", value: String(length))
          }
          if response.close || response.announcedLength != nil { headers.replaceOrAdd(name: "Connection", value: "close") }
          let status = HTTPResponseStatus(statusCode: response.status)
          let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
          let hasBody = requestHead.method != .HEAD && !response.body.isEmpty
          if let announced = response.announcedLength, announced != response.body.count {
            // Send what there is, wait until it has left, then close under the client: a
            // truncated response.
            let channel = connection.channel
            try await channel.writeAndFlush(HTTPServerResponsePart.head(head)).get()
            try await channel.writeAndFlush(
              HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: hasBody ? response.body : [])))).get()
            return
          }
          try await outbound.write(.head(head))
          if hasBody {
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
          }
          try await outbound.write(.end(nil))
          if response.close { return }
        }
      }
    }
  }
}

/// A minimal HTTP/1.1 client (one connection per request, plain HTTP): lets fixtures talk to
/// registries without sharing code with the client under test.
public enum RegistryTestHTTP {
  public struct Response: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// The first header named `name` (case-insensitive).
    public func header(_ name: String) -> String? {
      headers.first(where: { $0.name.lowercased() == name.lowercased() })?.value
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
  }

  /// Sends one request to an `http://host:port/...` URL and reads the whole answer.
  public static func request(
    _ method: String, _ url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []
  ) async throws -> Response {
    guard url.hasPrefix("http://") else { throw RegistrySupport.failure("only http:// URLs: \(url)") }
    let rest = url.dropFirst("http://".count)
    let slash = rest.firstIndex(of: "/") ?? rest.endIndex
    let authority = String(rest[..<slash])
    let target = slash == rest.endIndex ? "/" : String(rest[slash...])
    guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]) else {
      throw RegistrySupport.failure("URL without a port: \(url)")
    }
    let hostName = String(authority[..<colon])

    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connect(host: hostName, port: port) { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHTTPClientHandlers()
          return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
        }
      }
    return try await channel.executeThenClose { inbound, outbound in
      var requestHeaders = HTTPHeaders(headers.map { ($0.name, $0.value) })
      requestHeaders.replaceOrAdd(name: "Host", value: authority)
      requestHeaders.replaceOrAdd(name: "Connection", value: "close")
      if !requestHeaders.contains(name: "Content-Length") {
        requestHeaders.add(name: "Content-Length", value: String(body.count))
      }
      let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: target, headers: requestHeaders)
      // A server may answer and close before the last write is flushed (Connection: close):
      // a write error counts only when no answer arrives.
      var writeError: (any Error)?
      do {
        var parts: [HTTPClientRequestPart] = [.head(head)]
        if !body.isEmpty { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
        parts.append(.end(nil))
        try await outbound.write(contentsOf: parts)
      } catch {
        writeError = error
      }

      var response = Response(status: 0, headers: [], body: [])
      do {
        for try await part in inbound {
          switch part {
          case .head(let responseHead):
            response.status = Int(responseHead.status.code)
            response.headers = responseHead.headers.map { ($0.name, $0.value) }
          case .body(let buffer):
            response.body += buffer.readableBytesView
          case .end:
            return response
          }
        }
      } catch {
        throw writeError ?? error
      }
      if let writeError { throw writeError }
      throw RegistrySupport.failure("\(method) \(url): the connection closed before a whole answer")
    }
  }
}
