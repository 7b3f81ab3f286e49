import BerthOCI
import BerthOS
import BerthRegistry
import BerthTestSupport
import Foundation
import NIOCore
import Testing

/// Failures a real registry does not produce on demand, from a scripted server.
@Suite("Registry errors, retries and redirects")
struct MisbehavingRegistryTests {
  static let image: TestImage = {
    do { return try TestImage.random(layerSizes: [100_000], seed: 11) } catch { fatalError("test image: \(error)") }
  }()

  static var layer: TestImage.Layer { image.layers[0] }

  /// A registry serving `image` as "x:latest", and a client for it.
  static func withServedImage(
    options: RegistryClient.Options = RegistryClient.Options(retry: fastRetry),
    _ body: (MisbehavingRegistry, RegistryClient, ImageReference) async throws -> Void
  ) async throws {
    try await withMisbehavingRegistry { registry in
      registry.serve(image, repository: "x", tag: "latest")
      try await withClient(options: options) { client in
        try await body(registry, client, try ImageReference.make(registry.host + "/x:latest"))
      }
    }
  }

  var manifestPath: String { "/v2/x/manifests/latest" }
  var blobPath: String { "/v2/x/blobs/\(Self.layer.digest)" }

  // MARK: Status codes

  @Test func wellBehavedBaseline() async throws {
    try await Self.withServedImage { registry, client, ref in
      #expect(try await client.manifest(ref).bytes == Self.image.manifest)
      let (bytes, _) = try await download(client, ref, Self.layer.digest, size: Self.layer.size)
      #expect(bytes == Self.layer.blob)
      #expect(registry.requests(to: manifestPath).first?.header("Accept")?.contains(MediaType.ociIndex) == true)
    }
  }

  @Test func unauthorizedWithoutChallenge() async throws {
    try await Self.withServedImage { registry, client, ref in
      registry.on("GET", manifestPath, always: .registryError(401, code: "UNAUTHORIZED", message: "authentication required"))
      await expectRegistryError(.unauthorized, ["unauthorized", "authentication required", "berth login \(registry.host)"]) {
        _ = try await client.manifest(ref)
      }
    }
  }

  @Test func basicChallengeWithoutCredentials() async throws {
    try await Self.withServedImage { registry, client, ref in
      registry.on("GET", manifestPath, always: RegistryTestResponse(status: 401, headers: [("WWW-Authenticate", #"Basic realm="test""#)]))
      await expectRegistryError(.unauthorized, ["authentication required", "berth login \(registry.host)", "\(registry.host)/x:latest"]) {
        _ = try await client.manifest(ref)
      }
      #expect(registry.requests(to: manifestPath).count == 1, "no retry without credentials")
    }
  }

  @Test func forbiddenIsDenied() async throws {
    try await Self.withServedImage { registry, client, ref in
      registry.on("GET", manifestPath, always: .registryError(403, code: "DENIED", message: "requested access to the resource is denied"))
      await expectRegistryError(.denied, ["denied", "\(registry.host)/x", "403", "requested access to the resource is denied"]) {
        _ = try await client.manifest(ref)
      }
    }
  }

  @Test func notFoundNamesTheManifestOrRepository() async throws {
    try await Self.withServedImage { registry, client, _ in
      registry.on("GET", "/v2/x/manifests/nope", always: .registryError(404, code: "MANIFEST_UNKNOWN", message: "manifest unknown"))
      registry.on("GET", "/v2/gone/manifests/1", always: .registryError(404, code: "NAME_UNKNOWN", message: "repository name not known to registry"))
      await expectRegistryError(.notFound, ["manifest for \(registry.host)/x:nope not found"]) {
        _ = try await client.manifest(try .make(registry.host + "/x:nope"))
      }
      await expectRegistryError(.notFound, ["repository \(registry.host)/gone not found"]) {
        _ = try await client.manifest(try .make(registry.host + "/gone:1"))
      }
    }
  }

  @Test func tooManyRequestsHonorsRetryAfter() async throws {
    try await Self.withServedImage { registry, client, ref in
      let slowDown = RegistryTestResponse.registryError(429, code: "TOOMANYREQUESTS", message: "slow down", headers: [("Retry-After", "1")])
      registry.on("GET", manifestPath) { _, call in call == 1 ? slowDown : nil }
      let fetched = try await client.manifest(ref)
      #expect(fetched.bytes == Self.image.manifest)
      let requests = registry.requests(to: manifestPath)
      #expect(requests.count == 2)
    }
  }

  @Test func tooManyRequestsUntilAttemptsRunOut() async throws {
    try await Self.withServedImage { registry, client, ref in
      registry.on("GET", manifestPath, always: .registryError(429, code: "TOOMANYREQUESTS", message: "slow down"))
      await expectRegistryError(.tooManyRequests, ["too many requests: the registry rate-limits; try again later"]) {
        _ = try await client.manifest(ref)
      }
      #expect(registry.requests(to: manifestPath).count == 3)
    }
  }

  @Test func retryAfterBeyondThePolicyIsReportedWithoutWaiting() async throws {
    try await Self.withServedImage { registry, client, ref in
      registry.on("GET", manifestPath, always: .registryError(429, code: "TOOMANYREQUESTS", message: "later", headers: [("Retry-After", "3600")]))
      await expectRegistryError(.tooManyRequests, ["too many requests", "3600"]) {
        _ = try await client.manifest(ref)
      }
      #expect(registry.requests(to: manifestPath).count == 1)
    }
  }

  @Test func serviceUnavailableTwiceThenSuccess() async throws {
    try await Self.withServedImage { registry, client, ref in
      registry.on("GET", blobPath) { _, call in
        call <= 2 ? .registryError(503, code: "UNAVAILABLE", message: "busy") : nil
      }
      let (bytes, _) = try await download(client, ref, Self.layer.digest, size: Self.layer.size)
      #expect(bytes == Self.layer.blob)
      #expect(registry.requests(to: blobPath).count == 3)
    }
  }

  @Test(arguments: [500, 502, 503, 504])
  func serverErrorsAreRetriedThenReported(status: Int) async throws {
    try await Self.withServedImage { registry, client, ref in
      registry.on("GET", manifestPath, always: .registryError(status, code: "UNKNOWN", message: "boom"))
      await expectRegistryError(.registryUnavailable, [registry.host, "HTTP \(status)", "boom"]) {
        _ = try await client.manifest(ref)
      }
      #expect(registry.requests(to: manifestPath).count == 3)
    }
  }

  @Test func otherClientErrorsAreNotRetried() async throws {
    try await Self.withServedImage { registry, client, ref in
      registry.on("GET", manifestPath, always: .registryError(400, code: "MANIFEST_INVALID", message: "bad"))
      await expectRegistryError(.registry, ["HTTP 400", "MANIFEST_INVALID"]) {
        _ = try await client.manifest(ref)
      }
      #expect(registry.requests(to: manifestPath).count == 1)
    }
  }

  // MARK: Content

  @Test func blobWithWrongContentIsADigestMismatch() async throws {
    try await Self.withServedImage { registry, client, ref in
      var wrong = Self.layer.blob
      wrong[10] ^= 0xff
      registry.on("GET", blobPath, always: MisbehavingRegistry.blob(wrong, digest: Self.layer.digest))
      await expectRegistryError(.digestMismatch, ["digest mismatch", Self.layer.digest, "\(registry.host)/x"]) {
        _ = try await download(client, ref, Self.layer.digest, size: Self.layer.size)
      }
    }
  }

  @Test func manifestByDigestWithWrongContent() async throws {
    try await Self.withServedImage { registry, client, ref in
      let other = try TestImage.random(layerSizes: [10], seed: 99)
      registry.on("GET", "/v2/x/manifests/\(Self.image.manifestDigest)",
                  always: MisbehavingRegistry.manifest(other.manifest, mediaType: MediaType.ociManifest, digest: Self.image.manifestDigest))
      await expectRegistryError(.digestMismatch, ["digest mismatch", Self.image.manifestDigest]) {
        _ = try await client.manifest(repository: ref, digest: try Digest(parsing: Self.image.manifestDigest))
      }
    }
  }

  @Test func manifestWithWrongDockerContentDigest() async throws {
    try await Self.withServedImage { registry, client, ref in
      registry.on("GET", manifestPath, always: MisbehavingRegistry.manifest(
        Self.image.manifest, mediaType: MediaType.ociManifest, digest: "sha256:" + String(repeating: "e", count: 64)))
      await expectRegistryError(.digestMismatch, ["digest mismatch", "announced", "sha256:eeee"]) {
        _ = try await client.manifest(ref)
      }
    }
  }

  @Test func truncatedBlobIsResumedWithRange() async throws {
    try await Self.withServedImage { registry, client, ref in
      let blob = Self.layer.blob
      registry.on("GET", blobPath) { _, call in
        call == 1
          ? RegistryTestResponse(status: 200, headers: [("Content-Type", "application/octet-stream")],
                                 body: Array(blob.prefix(40_000)), announcedLength: blob.count)
          : nil
      }
      let (bytes, _) = try await download(client, ref, Self.layer.digest, size: Self.layer.size)
      #expect(bytes == blob)
      let requests = registry.requests(to: blobPath)
      #expect(requests.count == 2)
      // The retry asks for the rest: from the bytes the consumer got, at most the 40000 sent
      // (the HTTP client may drop what it buffered when the connection breaks).
      if let range = requests.last?.header("Range") {
        let offset = Int(range.dropFirst("bytes=".count).dropLast())
        #expect(range.hasPrefix("bytes=") && range.hasSuffix("-"))
        #expect(offset.map { $0 > 0 && $0 <= 40_000 } == true, "\(range)")
      }
    }
  }

  @Test func resumeWorksWhenTheRegistryIgnoresRange() async throws {
    try await Self.withServedImage { registry, client, ref in
      let blob = Self.layer.blob
      registry.on("GET", blobPath) { _, call in
        call == 1
          ? RegistryTestResponse(status: 200, body: Array(blob.prefix(30_000)), announcedLength: blob.count)
          : MisbehavingRegistry.blob(blob)  // 200 with the whole blob
      }
      let (bytes, _) = try await download(client, ref, Self.layer.digest, size: Self.layer.size)
      #expect(bytes == blob, "the bytes already delivered are skipped, not repeated")
    }
  }

  @Test func blobTruncatedEveryTime() async throws {
    try await Self.withServedImage { registry, client, ref in
      let blob = Self.layer.blob
      registry.on("GET", blobPath, always: RegistryTestResponse(status: 200, body: Array(blob.prefix(1000)), announcedLength: blob.count))
      await expectRegistryError(.truncated, ["truncated", Self.layer.digest, "\(registry.host)/x"]) {
        _ = try await download(client, ref, Self.layer.digest, size: Self.layer.size)
      }
    }
  }

  @Test func blobShorterOrLongerThanItsDescriptor() async throws {
    try await Self.withServedImage { registry, client, ref in
      await expectRegistryError(.truncated, ["descriptor says the blob is \(Self.layer.size + 1) bytes"]) {
        _ = try await download(client, ref, Self.layer.digest, size: Self.layer.size + 1)
      }
      // Without a Content-Length (chunked answers), the size is checked as bytes come.
      await expectRegistryError(.truncated, ["larger than the 10 bytes"]) {
        registry.on("GET", blobPath, always: RegistryTestResponse(status: 200, body: Self.layer.blob, chunked: true))
        let collector = ByteCollector()
        try await client.blob(repository: ref, digest: try Digest(parsing: Self.layer.digest), expectedSize: 10) { chunk in
          collector.append(chunk)
        }
      }
    }
  }

  @Test func consumerErrorsPassThrough() async throws {
    struct Stop: Error {}
    try await Self.withServedImage { registry, client, ref in
      do {
        try await client.blob(repository: ref, digest: try Digest(parsing: Self.layer.digest), expectedSize: Self.layer.size) { _ in
          throw Stop()
        }
        Issue.record("the consumer's error was swallowed")
      } catch is Stop {
        #expect(registry.requests(to: blobPath).count == 1)
      }
    }
  }

  static let malformedManifests: [(body: String, words: [String])] = [
    (#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
     ["malformed manifest", "sent it as application/vnd.oci.image.manifest.v1+json", "mediaType field says application/vnd.oci.image.index.v1+json"]),
    ("{not json", ["malformed manifest", "not valid JSON"]),
    (#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:abc","size":1},"layers":[]}"#,
     ["malformed manifest", "config.digest"]),
    (#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:\#(String(repeating: "a", count: 64))","size":1},"layers":[{"mediaType":"y","digest":"sha256:\#(String(repeating: "b", count: 64))","size":"12"}]}"#,
     ["malformed manifest", "layers[0].size"]),
    (#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"y","size":3}]}"#,
     ["malformed manifest", "manifests[0]: missing required field \"digest\""]),
    (#"{"schemaVersion":3,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#,
     ["malformed manifest", "schemaVersion"]),
  ]

  @Test(arguments: malformedManifests)
  func malformedManifestNamesTheField(body: String, words: [String]) async throws {
    try await Self.withServedImage { registry, client, ref in
      // Served as what the document says it is (an OCI manifest otherwise).
      let type = body.contains(MediaType.ociIndex) && !words.contains(where: { $0.hasPrefix("sent it as") })
        ? MediaType.ociIndex : MediaType.ociManifest
      registry.on("GET", manifestPath, always: MisbehavingRegistry.manifest(Array(body.utf8), mediaType: type))
      await expectRegistryError(.malformedManifest, words + ["\(registry.host)/x:latest"]) {
        _ = try await client.manifest(ref)
      }
    }
  }

  @Test func schema1IsRefusedWithAClearMessage() async throws {
    try await Self.withServedImage { registry, client, ref in
      let schema1 = #"{"schemaVersion":1,"name":"x","tag":"latest","architecture":"amd64","fsLayers":[],"history":[]}"#
      registry.on("GET", manifestPath, always: MisbehavingRegistry.manifest(Array(schema1.utf8), mediaType: MediaType.dockerSchema1Signed))
      await expectRegistryError(.unsupportedManifest, [
        "\(registry.host)/x:latest uses the Docker schema 1 manifest format, which Berth does not support; re-push the image with a current client",
      ]) {
        _ = try await client.manifest(ref)
      }
    }
  }

  @Test func genericContentTypeIsSniffed() async throws {
    try await Self.withServedImage { registry, client, ref in
      registry.on("GET", manifestPath, always: MisbehavingRegistry.manifest(Self.image.manifest, mediaType: "application/json"))
      let fetched = try await client.manifest(ref)
      #expect(fetched.mediaType == MediaType.ociManifest)
      #expect(fetched.manifest != nil)
    }
  }

  // MARK: Connections

  @Test func unreachableRegistry() async throws {
    // A port that was just free: bind, note, close.
    let registry = try await MisbehavingRegistry.start()
    let host = registry.host
    await registry.stop()
    try await withClient { client in
      await expectRegistryError(.unreachable, ["cannot reach the registry at \(host): connection refused"]) {
        _ = try await client.manifest(try .make(host + "/x:latest"))
      }
    }
  }

  @Test func slowRegistryTimesOut() async throws {
    var options = RegistryClient.Options(retry: RegistryClient.RetryPolicy(maxAttempts: 1))
    options.readTimeout = .milliseconds(200)
    try await Self.withServedImage(options: options) { registry, client, ref in
      registry.on("GET", manifestPath, always: RegistryTestResponse(status: 200, body: Self.image.manifest, delay: .seconds(5)))
      await expectRegistryError(.unreachable, ["cannot reach the registry at \(registry.host)", "timeout"]) {
        _ = try await client.manifest(ref)
      }
    }
  }

  @Test func redirectedBlobGetsNoCredentialsOnAnotherHost() async throws {
    try await withMisbehavingRegistry { registry in
      let blob = Self.layer.blob
      let port = registry.port
      registry.on("GET", blobPath) { request, _ in
        guard request.header("Authorization") != nil else {
          return RegistryTestResponse(status: 401, headers: [("WWW-Authenticate", #"Basic realm="r""#)])
        }
        // Storage on "another host": the same server reached as localhost.
        return RegistryTestResponse(status: 307, headers: [("Location", "http://localhost:\(port)/storage/blob?sig=1")])
      }
      registry.on("GET", "/storage/blob", always: MisbehavingRegistry.blob(blob))
      try await withClient(credentials: [registry.host: RegistryCredentials(username: "u", password: "p")]) { client in
        let (bytes, _) = try await download(client, try .make(registry.host + "/x"), Self.layer.digest, size: Self.layer.size)
        #expect(bytes == blob)
      }
      let storage = registry.requests(to: "/storage/blob")
      #expect(storage.count == 1)
      #expect(storage.first?.header("Authorization") == nil)
      #expect(storage.first?.header("Host")?.hasPrefix("localhost") == true)
      #expect(registry.requests(to: blobPath).last?.header("Authorization")?.hasPrefix("Basic ") == true)
    }
  }

  // MARK: Tokens

  @Test func bearerFlowWithAccessTokenAndCaching() async throws {
    try await withMisbehavingRegistry { registry in
      let realm = "http://\(registry.host)/auth/token"
      registry.serve(Self.image, repository: "x")
      for path in [manifestPath, blobPath, "/v2/x/blobs/\(Self.image.configDigest)"] {
        registry.on(nil, path) { request, _ in
          request.header("Authorization") == "Bearer tok-1" ? nil : RegistryTestResponse(status: 401, headers: [
            ("WWW-Authenticate", #"Bearer realm="\#(realm)",service="fake",scope="repository:x:pull""#),
          ])
        }
      }
      registry.on("GET", "/auth/token", always: .json(200, #"{"access_token":"tok-1","expires_in":300}"#))
      try await withClient(credentials: [registry.host: RegistryCredentials(username: "me", password: "pw")]) { client in
        let ref = try ImageReference.make(registry.host + "/x:latest")
        #expect(try await client.manifest(ref).bytes == Self.image.manifest)
        try await withThrowingTaskGroup(of: Void.self) { group in
          for _ in 0..<10 {
            group.addTask { _ = try await download(client, ref, Self.layer.digest, size: Self.layer.size) }
          }
          try await group.waitForAll()
        }
        _ = try await client.blobBytes(repository: ref, digest: try Digest(parsing: Self.image.configDigest))
      }
      let tokenRequests = registry.requests(to: "/auth/token")
      #expect(tokenRequests.count == 1)
      let request = try #require(tokenRequests.first)
      #expect(request.queryValue("service") == "fake")
      #expect(request.queryValue("scope") == "repository:x:pull")
      let basic = "Basic " + Data("me:pw".utf8).base64EncodedString()
      #expect(request.header("Authorization") == basic)
    }
  }

  @Test func expiredTokenIsRenewed() async throws {
    try await withMisbehavingRegistry { registry in
      let realm = "http://\(registry.host)/token"
      registry.serve(Self.image, repository: "x")
      // The registry accepts only the newest token; the service hands out a new one each time.
      registry.on("GET", "/token") { _, call in .json(200, #"{"token":"t\#(call)"}"#) }
      registry.on("GET", manifestPath) { request, _ in
        let tokens = registry.requests(to: "/token").count
        return request.header("Authorization") == "Bearer t\(tokens)" && tokens > 0
          ? nil
          : RegistryTestResponse(status: 401, headers: [("WWW-Authenticate", #"Bearer realm="\#(realm)",service="s""#)])
      }
      try await withClient { client in
        let ref = try ImageReference.make(registry.host + "/x:latest")
        _ = try await client.manifest(ref)
        // Revoke t1 by issuing t2 behind the client's back.
        _ = try await RegistryTestHTTP.request("GET", realm)
        _ = try await client.manifest(ref)
      }
      #expect(registry.requests(to: "/token").count == 3)
      #expect(registry.requests(to: manifestPath).compactMap { $0.header("Authorization") }.last == "Bearer t3")
    }
  }

  @Test func tokenServiceRefusingCredentials() async throws {
    try await withMisbehavingRegistry { registry in
      let realm = "http://\(registry.host)/token"
      registry.on("GET", manifestPath, always: RegistryTestResponse(status: 401, headers: [("WWW-Authenticate", #"Bearer realm="\#(realm)""#)]))
      registry.on("GET", "/token", always: .registryError(401, code: "UNAUTHORIZED", message: "bad credentials"))
      try await withClient(credentials: [registry.host: RegistryCredentials(username: "eve", password: "x")]) { client in
        await expectRegistryError(.unauthorized, ["incorrect username or password", "\"eve\"", "berth login \(registry.host)"]) {
          _ = try await client.manifest(try .make(registry.host + "/x:latest"))
        }
      }
    }
  }

  @Test func identityTokenIsExchangedWithARefreshTokenGrant() async throws {
    try await withMisbehavingRegistry { registry in
      let realm = "http://\(registry.host)/oauth/token"
      registry.serve(Self.image, repository: "x")
      registry.on("GET", manifestPath) { request, _ in
        request.header("Authorization") == "Bearer from-refresh" ? nil : RegistryTestResponse(status: 401, headers: [
          ("WWW-Authenticate", #"Bearer realm="\#(realm)",service="svc",scope="repository:x:pull""#),
        ])
      }
      registry.on("POST", "/oauth/token") { request, _ in
        let form = RegistryTestRequest(method: "POST", uri: "/?" + String(decoding: request.body, as: UTF8.self))
        let good = form.queryValue("grant_type") == "refresh_token" && form.queryValue("refresh_token") == "id-token-1"
          && form.queryValue("service") == "svc" && form.queryValue("scope") == "repository:x:pull"
          && request.header("Content-Type") == "application/x-www-form-urlencoded"
        return good ? .json(200, #"{"access_token":"from-refresh","expires_in":60}"#) : .json(400, #"{"error":"invalid_request"}"#)
      }
      let credentials = RegistryCredentials(username: "<token>", password: "", identityToken: "id-token-1")
      try await withClient(credentials: [registry.host: credentials]) { client in
        let fetched = try await client.manifest(try .make(registry.host + "/x:latest"))
        #expect(fetched.bytes == Self.image.manifest)
      }
      #expect(registry.requests(to: "/oauth/token", method: "POST").count == 1)
    }
  }

  /// A name for 127.0.0.1 that is not a loopback name by Berth's rules (so HTTPS is used).
  static let nonLoopbackNameOfThisHost: String? = {
    guard let hosts = try? String(contentsOfFile: "/etc/hosts", encoding: .utf8) else { return nil }
    for line in hosts.split(separator: "\n") {
      let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard fields.first == "127.0.0.1" else { continue }
      if let name = fields.dropFirst().first(where: { !RegistriesConfig.isLoopback(String($0)) && !$0.contains("localhost") }) {
        return String(name)
      }
    }
    return nil
  }()

  @Test(.enabled(if: nonLoopbackNameOfThisHost != nil, "no name for 127.0.0.1 in /etc/hosts besides localhost"))
  func httpsToAPlainHTTPRegistrySuggestsInsecure() async throws {
    let name = try #require(Self.nonLoopbackNameOfThisHost)
    try await withMisbehavingRegistry { registry in
      let host = "\(name):\(registry.port)"
      try await withClient { client in
        await expectRegistryError(.unreachable, ["cannot reach the registry at \(host)", "TLS", "\"insecure\"", "registries.json"]) {
          _ = try await client.manifest(try .make(host + "/x:latest"))
        }
      }
      // With the host in "insecure", plain HTTP works.
      registry.serve(Self.image, repository: "x")
      try await withClient(config: RegistriesConfig(insecure: [host])) { client in
        let fetched = try await client.manifest(try .make(host + "/x:latest"))
        #expect(fetched.bytes == Self.image.manifest)
      }
    }
  }

  // MARK: Push

  @Test func uploadRestartsAfterAServerError() async throws {
    try await withMisbehavingRegistry { registry in
      let blob = Array("hello, registry".utf8)
      let digest = RegistrySupport.sha256(blob)
      registry.on("HEAD", "/v2/up/blobs/\(digest)", always: .registryError(404, code: "BLOB_UNKNOWN", message: "unknown"))
      registry.on("POST", "/v2/up/blobs/uploads/") { _, call in
        RegistryTestResponse(status: 202, headers: [("Location", "/v2/up/blobs/uploads/session-\(call)?_state=abc")])
      }
      registry.on("PUT", "/v2/up/blobs/uploads/session-1", always: .registryError(503, code: "UNAVAILABLE", message: "try again"))
      registry.on("PUT", "/v2/up/blobs/uploads/session-2") { request, _ in
        request.queryValue("digest") == digest && request.queryValue("_state") == "abc" && request.body == blob
          ? RegistryTestResponse(status: 201, headers: [("Docker-Content-Digest", digest)])
          : .registryError(400, code: "DIGEST_INVALID", message: "wrong")
      }
      try await withClient { client in
        let result = try await client.pushBlob(
          repository: try .make(registry.host + "/up"), digest: try Digest(parsing: digest), size: Int64(blob.count),
          data: BytesBlobSource(blob))
        #expect(result == .uploaded)
      }
      #expect(registry.requests(to: "/v2/up/blobs/uploads/", method: "POST").count == 2)
    }
  }

  @Test func chunkedUploadSendsContentRanges() async throws {
    try await withMisbehavingRegistry { registry in
      let blob = (0..<2500).map { UInt8(truncatingIfNeeded: $0 * 7) }
      let digest = RegistrySupport.sha256(blob)
      let received = ByteCollector()
      registry.on("POST", "/v2/up/blobs/uploads/", always: RegistryTestResponse(status: 202, headers: [("Location", "/upload/1")]))
      registry.on("PATCH", "/upload/1") { request, call in
        received.append(ByteBuffer(bytes: request.body))
        return RegistryTestResponse(status: 202, headers: [("Location", "/upload/1"), ("Range", "0-\(call * 1000 - 1)")])
      }
      registry.on("PUT", "/upload/1") { request, _ in
        RegistryTestResponse(status: request.body.isEmpty && request.queryValue("digest") == digest ? 201 : 400)
      }
      var options = RegistryClient.Options(retry: fastRetry)
      options.chunkSize = 1000
      try await withClient(options: options) { client in
        try await client.uploadBlob(
          repository: try .make(registry.host + "/up"), digest: try Digest(parsing: digest), size: Int64(blob.count),
          data: BytesBlobSource(blob))
      }
      let patches = registry.requests(to: "/upload/1", method: "PATCH")
      #expect(patches.map { $0.header("Content-Range") } == ["0-999", "1000-1999", "2000-2499"])
      #expect(patches.allSatisfy { $0.header("Content-Type") == "application/octet-stream" })
      #expect(received.result.bytes == blob)
    }
  }
}
