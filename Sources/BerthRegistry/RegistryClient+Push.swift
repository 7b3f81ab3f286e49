import AsyncHTTPClient
import BerthOCI
import BerthOS
import NIOCore
import NIOHTTP1

/// How ``RegistryClient/pushBlob(repository:digest:size:mountFrom:data:)`` got the blob
/// into the repository.
public enum BlobUploadResult: Sendable, Equatable {
  /// The repository had it already; nothing was sent.
  case alreadyExists
  /// The registry linked it from the `mountFrom` repository; nothing was sent.
  case mounted
  /// The bytes were uploaded.
  case uploaded
}

extension RegistryClient {
  /// Pushes a blob: nothing if the repository has it; a cross-repository mount when
  /// `mountFrom` (a repository of the same registry) has it; else an upload, in one PUT up to
  /// ``Options/chunkSize`` and in PATCH chunks of that size beyond. The bytes come from
  /// `data`, read piece by piece; an upload that fails is restarted (up to the retry policy's
  /// attempts). The registry verifies the digest; a source whose bytes do not match fails
  /// with `.digestMismatch`.
  ///
  /// - Returns: whether the registry mounted the blob from `mountFrom` (see ``pushBlob(repository:digest:size:mountFrom:data:)``
  ///   for the full outcome).
  @discardableResult
  public func uploadBlob(
    repository: ImageReference, digest: Digest, size: Int64, mountFrom: ImageReference? = nil, data: some BlobSource
  ) async throws -> Bool {
    try await pushBlob(repository: repository, digest: digest, size: size, mountFrom: mountFrom, data: data) == .mounted
  }

  /// ``uploadBlob(repository:digest:size:mountFrom:data:)``, saying what happened: the blob
  /// was there already, was mounted, or was uploaded.
  @discardableResult
  public func pushBlob(
    repository: ImageReference, digest: Digest, size: Int64, mountFrom: ImageReference? = nil, data: some BlobSource
  ) async throws -> BlobUploadResult {
    let endpoint = config.hostConfig(for: repository.domain).endpoint
    let host = repository.domain
    let context = RequestContext(host: host, repository: repository.path, what: .upload, reference: digest.description)
    var scopes = [Self.pushScope(repository.path)]
    let mountSource = mountFrom.flatMap { $0.domain == repository.domain && $0.path != repository.path ? $0.path : nil }
    if let mountSource { scopes.append(Self.pullScope(mountSource)) }

    if let existing = try await blobExists(endpoint: endpoint, host: host, repository: repository, digest: digest, scopes: scopes),
       existing == size || existing < 0 {
      return .alreadyExists
    }

    let attempts = options.retry.maxAttempts
    var attempt = 0
    while true {
      attempt += 1
      do {
        return try await uploadOnce(
          endpoint: endpoint, repository: repository, digest: digest, size: size, mountSource: mountSource,
          data: data, scopes: scopes, context: context)
      } catch let error as BerthError where attempt < attempts && Self.isRetryable(error) {
        logger.debug("blob upload failed, starting over", metadata: [
          "blob": "\(digest)", "error": "\(error)", "attempt": "\(attempt)",
        ])
        try await Task.sleep(for: options.retry.delay(after: attempt))
      }
    }
  }

  static func isRetryable(_ error: BerthError) -> Bool {
    [.unreachable, .registryUnavailable, .tooManyRequests].contains(error.code)
  }

  private func uploadOnce(
    endpoint: RegistryEndpoint, repository: ImageReference, digest: Digest, size: Int64, mountSource: String?,
    data: some BlobSource, scopes: [String], context: RequestContext
  ) async throws -> BlobUploadResult {
    // Start the upload session, or mount.
    var startURL = repositoryURL(endpoint, repository.path) + "/blobs/uploads/"
    if let mountSource {
      startURL = Self.appendingQuery(startURL, [("mount", digest.description), ("from", mountSource)])
    }
    var start = RegistryRequest(.POST, endpoint: endpoint, url: startURL, context: context, scopes: scopes)
    start.headers.add(name: "Content-Length", value: "0")
    let started = try await send(start)
    if started.status == .created && mountSource != nil {
      await Self.discard(started)
      return .mounted
    }
    try await expect(started, [202], context)
    await Self.discard(started)
    guard let firstLocation = started.headers.first(name: "Location") else {
      throw BerthError(.registry, "\(context.operation): the registry started an upload without a Location")
    }
    var location = Self.resolve(firstLocation, against: startURL)

    let chunkSize = options.chunkSize
    if size > Int64(chunkSize) {
      var offset: Int64 = 0
      while offset < size {
        let end = min(offset + Int64(chunkSize), size)
        var patch = RegistryRequest(.PATCH, endpoint: endpoint, url: location, context: context, scopes: scopes)
        patch.headers.add(name: "Content-Type", value: "application/octet-stream")
        patch.headers.add(name: "Content-Range", value: "\(offset)-\(end - 1)")
        patch.body = Self.body(data, from: offset, to: end)
        patch.retries = false
        patch.timeout = nil
        let answered = try await send(patch)
        try await expectUpload(answered, [202], context)
        await Self.discard(answered)
        if let next = answered.headers.first(name: "Location") { location = Self.resolve(next, against: location) }
        offset = end
      }
    }

    var put = RegistryRequest(
      .PUT, endpoint: endpoint, url: Self.appendingQuery(location, [("digest", digest.description)]),
      context: context, scopes: scopes)
    put.headers.add(name: "Content-Type", value: "application/octet-stream")
    if size > Int64(chunkSize) {
      put.headers.add(name: "Content-Length", value: "0")
    } else {
      put.body = Self.body(data, from: 0, to: size)
    }
    put.retries = false
    let finished = try await send(put)
    try await expectUpload(finished, [201], context)
    await Self.discard(finished)
    if let announced = finished.headers.first(name: "Docker-Content-Digest").flatMap({ try? Digest(parsing: $0) }),
       announced != digest {
      throw BerthError(.digestMismatch,
        "digest mismatch: \(context.operation): the registry stored the blob as \(announced)")
    }
    return .uploaded
  }

  /// `[start, end)` of the source as a request body of known length.
  static func body(_ data: some BlobSource, from start: Int64, to end: Int64) -> @Sendable () -> HTTPClientRequest.Body {
    let source: any BlobSource = data
    return {
      .stream(BlobSourceRange(source: source, start: start, end: end, pieceSize: 1 << 20), length: .known(end - start))
    }
  }

  /// ``expect(_:_:_:)``, with the registry's verdict on bad content as `.digestMismatch`.
  func expectUpload(_ response: HTTPClientResponse, _ expected: Set<UInt>, _ context: RequestContext) async throws {
    if expected.contains(response.status.code) { return }
    let body = await Self.readBody(response, limit: 64 << 10)
    let details = RegistryErrorDetail.parse(body)
    if response.status == .badRequest,
       let detail = details.first(where: { $0.code == "DIGEST_INVALID" || $0.code == "SIZE_INVALID" }) {
      throw BerthError(.digestMismatch,
        "digest mismatch: \(context.operation): the registry found that the bytes sent do not match (\(detail.code): \(detail.message ?? ""))")
    }
    throw BerthError.registryResponse(
      status: Int(response.status.code), body: body, context: context, retryAfter: response.headers.first(name: "Retry-After"))
  }

  /// Pushes a manifest or index under `reference` (a tag, or its digest) and returns its
  /// digest. The blobs and manifests it refers to must be in the repository already.
  @discardableResult
  public func putManifest(repository: ImageReference, reference: String, bytes: [UInt8], mediaType: String) async throws -> Digest {
    let digest = Digest(algorithm: "sha256", encoded: SHA256Hasher.hex(of: bytes))
    if reference.contains(":") {
      let named: Digest
      do { named = try Digest(parsing: reference) } catch {
        throw BerthError(.invalidArgument, "push manifest to \(repository.name): \(error)")
      }
      if named != digest {
        throw BerthError(.digestMismatch,
          "digest mismatch: push manifest to \(repository.name)@\(named): the manifest's digest is \(digest)")
      }
    } else {
      do { _ = try repository.withTag(reference) } catch {
        throw BerthError(.invalidArgument, "push manifest: \(error)")
      }
    }
    let endpoint = config.hostConfig(for: repository.domain).endpoint
    let context = RequestContext(host: repository.domain, repository: repository.path, what: .manifestUpload, reference: reference)
    var request = RegistryRequest(
      .PUT, endpoint: endpoint, url: repositoryURL(endpoint, repository.path) + "/manifests/" + reference,
      context: context, scopes: [Self.pushScope(repository.path)])
    request.headers.add(name: "Content-Type", value: mediaType)
    request.body = { .bytes(ByteBuffer(bytes: bytes)) }
    let response = try await send(request)
    try await expect(response, [201, 200], context)
    await Self.discard(response)
    if let announced = response.headers.first(name: "Docker-Content-Digest").flatMap({ try? Digest(parsing: $0) }),
       announced.algorithm == "sha256", announced != digest {
      throw BerthError(.digestMismatch,
        "digest mismatch: \(context.operation): the registry stored the manifest as \(announced), not \(digest)")
    }
    return digest
  }

  /// Checks credentials against a registry (GET /v2/ through its auth flow), without storing
  /// them: throws `.unauthorized` when the registry refuses them.
  public func checkLogin(host: String, username: String, password: String) async throws {
    let endpoint = config.hostConfig(for: host).endpoint
    let context = RequestContext(host: host, what: .login)
    var request = RegistryRequest(.GET, endpoint: endpoint, url: endpoint.baseURL + "/v2/", context: context)
    request.authorization = .registryWith(RegistryCredentials(username: username, password: password))
    let response = try await send(request)
    try await expect(response, [200], context)
    await Self.discard(response)
  }
}
