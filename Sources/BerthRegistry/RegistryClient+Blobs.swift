import AsyncHTTPClient
import BerthOCI
import BerthOS
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

extension RegistryClient {
  /// Streams a blob to `consumer`, chunk by chunk as it arrives, and verifies its size and
  /// sha256 at the end.
  ///
  /// When the connection breaks midway the download resumes where it stopped (a `Range`
  /// request; if the registry ignores it, the bytes already delivered are skipped), so the
  /// consumer sees every byte exactly once, in order. The consumer's own errors end the
  /// download and are rethrown as they are.
  ///
  /// - Throws: `.digestMismatch` when the content does not hash to `digest` (the consumer has
  ///   then seen the wrong bytes: discard them); `.truncated` when the blob ends before
  ///   `expectedSize` or runs past it; `.notFound`, `.unauthorized`, … from the registry.
  public func blob(
    repository: ImageReference, digest: Digest, expectedSize: Int64?,
    consumer: @Sendable (ByteBuffer) async throws -> Void
  ) async throws {
    try await streamBlob(repository: repository, digest: digest, expectedSize: expectedSize, consumer: consumer)
  }

  /// A whole (small) blob in memory, verified: for configs. Refuses blobs larger than
  /// `maximumSize`.
  public func blobBytes(
    repository: ImageReference, digest: Digest, expectedSize: Int64? = nil, maximumSize: Int = 64 << 20
  ) async throws -> [UInt8] {
    if let expectedSize, expectedSize > Int64(maximumSize) {
      throw BerthError(.invalidArgument,
        "blob \(digest) of \(repository.name) is \(expectedSize) bytes, more than the \(maximumSize) this read takes in memory")
    }
    let collected = Mutex<[UInt8]>([])
    try await streamBlob(repository: repository, digest: digest, expectedSize: expectedSize) { chunk in
      let tooLarge = collected.withLock { bytes -> Bool in
        bytes += chunk.readableBytesView
        return bytes.count > maximumSize
      }
      if tooLarge {
        throw BerthError(.invalidArgument,
          "blob \(digest) of \(repository.name) is more than the \(maximumSize) bytes this read takes in memory")
      }
    }
    return collected.withLock { $0 }
  }

  /// The size of a blob if the repository has it (HEAD), nil if not.
  public func blobExists(repository: ImageReference, digest: Digest) async throws -> Int64? {
    try await withPullEndpoints(host: repository.domain) { endpoint, host in
      try await blobExists(endpoint: endpoint, host: host, repository: repository, digest: digest,
                           scopes: [Self.pullScope(repository.path)])
    }
  }

  func blobExists(
    endpoint: RegistryEndpoint, host: String, repository: ImageReference, digest: Digest, scopes: [String]
  ) async throws -> Int64? {
    let context = RequestContext(host: host, repository: repository.path, what: .blob, reference: digest.description)
    let request = RegistryRequest(
      .HEAD, endpoint: endpoint, url: repositoryURL(endpoint, repository.path) + "/blobs/" + digest.description,
      context: context, scopes: scopes)
    let response = try await send(request)
    if response.status == .notFound {
      await Self.discard(response)
      return nil
    }
    try await expect(response, [200], context)
    await Self.discard(response)
    return response.headers.first(name: "Content-Length").flatMap { Int64($0) } ?? -1
  }

  /// An error the consumer threw, carried out of the download loop untouched.
  private struct ConsumerFailure: Error {
    var error: any Error
  }

  /// Progress of one download, shared by its attempts.
  private struct Progress {
    var hasher = SHA256Hasher()
    var received: Int64 = 0
  }

  func streamBlob(
    repository: ImageReference, digest: Digest, expectedSize: Int64?,
    consumer: @Sendable (ByteBuffer) async throws -> Void
  ) async throws {
    guard digest.algorithm == "sha256" else {
      throw BerthError(.unsupported, "blob digest \(digest) of \(repository.name): only sha256 digests are supported")
    }
    var progress = Progress()
    do {
      try await withPullEndpoints(host: repository.domain, { endpoint, host in
        try await download(endpoint: endpoint, host: host, repository: repository, digest: digest,
                           expectedSize: expectedSize, progress: &progress, consumer: consumer)
      }, mayFallBack: { progress.received == 0 })
    } catch let failure as ConsumerFailure {
      throw failure.error
    }
  }

  private func download(
    endpoint: RegistryEndpoint, host: String, repository: ImageReference, digest: Digest, expectedSize: Int64?,
    progress: inout Progress, consumer: @Sendable (ByteBuffer) async throws -> Void
  ) async throws {
    let context = RequestContext(host: host, repository: repository.path, what: .blob, reference: digest.description)
    let what = "blob \(digest) from \(context.repositoryName)"
    let url = repositoryURL(endpoint, repository.path) + "/blobs/" + digest.description
    let attempts = options.retry.maxAttempts
    var attempt = 0
    var lastError = ""

    while true {
      attempt += 1
      var request = RegistryRequest(.GET, endpoint: endpoint, url: url, context: context, scopes: [Self.pullScope(repository.path)])
      if progress.received > 0 {
        request.headers.add(name: "Range", value: "bytes=\(progress.received)-")
      }
      let response = try await send(request)

      // How many bytes of this answer were delivered already.
      var skip: Int64 = 0
      switch response.status.code {
      case 200:
        skip = progress.received
      case 206 where progress.received > 0:
        let start = Self.contentRangeStart(response.headers.first(name: "Content-Range"))
        guard let start, start <= progress.received else {
          await Self.discard(response)
          throw BerthError(.registry, "\(what): the registry answered the resumed download with an unusable Content-Range")
        }
        skip = progress.received - start
      default:
        try await expect(response, [200], context)
      }
      if let expectedSize, let length = response.headers.first(name: "Content-Length").flatMap({ Int64($0) }),
         response.status.code == 200, length != expectedSize {
        await Self.discard(response)
        throw BerthError(.truncated,
          "\(what): the registry sends \(length) bytes, but the descriptor says the blob is \(expectedSize) bytes")
      }

      do {
        for try await var chunk in response.body {
          if skip > 0 {
            let dropped = Int(min(skip, Int64(chunk.readableBytes)))
            chunk.moveReaderIndex(forwardBy: dropped)
            skip -= Int64(dropped)
            if chunk.readableBytes == 0 { continue }
          }
          if let expectedSize, progress.received + Int64(chunk.readableBytes) > expectedSize {
            throw BerthError(.truncated, "\(what) is larger than the \(expectedSize) bytes its descriptor announces")
          }
          progress.hasher.update(chunk)
          progress.received += Int64(chunk.readableBytes)
          do {
            try await consumer(chunk)
          } catch {
            throw ConsumerFailure(error: error)
          }
        }
      } catch let error as BerthError {
        throw error
      } catch let failure as ConsumerFailure {
        throw failure
      } catch {
        if Self.isCancellation(error) { throw error }
        // The connection broke: resume after the bytes received.
        lastError = String(describing: error)
        if attempt < attempts {
          logger.debug("blob download broke off, resuming", metadata: [
            "blob": "\(digest)", "received": "\(progress.received)", "error": "\(lastError)",
          ])
          try await Task.sleep(for: options.retry.delay(after: attempt))
          continue
        }
        let of = expectedSize.map { " of \($0)" } ?? ""
        throw BerthError(.truncated,
          "\(what) is truncated: the connection broke after \(progress.received)\(of) bytes, \(attempts) times (\(lastError))")
      }
      break
    }

    if let expectedSize, progress.received != expectedSize {
      throw BerthError(.truncated, "\(what) is truncated: it ended after \(progress.received) of \(expectedSize) bytes")
    }
    let actual = Digest(algorithm: "sha256", encoded: progress.hasher.finalizeHex())
    if actual != digest {
      throw BerthError(.digestMismatch,
        "digest mismatch: \(what) has digest \(actual) (\(progress.received) bytes), not the \(digest) asked for")
    }
  }

  /// The first byte of `Content-Range: bytes 100-199/200`.
  static func contentRangeStart(_ header: String?) -> Int64? {
    guard var text = header?.trimmingCharacters(in: .whitespaces) else { return nil }
    if text.hasPrefix("bytes ") { text.removeFirst(6) }
    guard let dash = text.firstIndex(of: "-") else { return nil }
    return Int64(text[..<dash].trimmingCharacters(in: .whitespaces))
  }
}
