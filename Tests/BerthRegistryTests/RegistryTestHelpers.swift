import BerthOCI
import BerthOS
import BerthRegistry
import BerthTestSupport
import Foundation
import NIOCore
import Testing

extension Trait where Self == ConditionTrait {
  /// Runs the test only where the registry fixture can start (docker-registry installed,
  /// root); the skip message says which is missing.
  static var registryAvailable: Self {
    .enabled(if: RegistryFixture.unavailableReason == nil, Comment(rawValue: RegistryFixture.unavailableReason ?? ""))
  }

  /// Runs the test only where skopeo is installed (and the registry fixture can start).
  static var skopeoAvailable: Self {
    let reason = RegistryFixture.unavailableReason ?? (RegistrySupport.which("skopeo") == nil ? "skopeo is not installed" : nil)
    return .enabled(if: reason == nil, Comment(rawValue: reason ?? ""))
  }
}

/// Retries that do not slow the tests down.
let fastRetry = RegistryClient.RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(5), maxDelay: .milliseconds(20))

/// A temporary directory removed after `body`.
@discardableResult
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
  let directory = try RegistrySupport.makeTemporaryDirectory(prefix: "berth-registry-test")
  defer { try? FS.removeTree(directory) }
  return try await body(directory)
}

/// A client with its own (empty, or given) credential file and no system configuration.
@discardableResult
func withClient<T>(
  config: RegistriesConfig = RegistriesConfig(), credentials: [String: RegistryCredentials] = [:],
  options: RegistryClient.Options = RegistryClient.Options(retry: fastRetry),
  _ body: (RegistryClient) async throws -> T
) async throws -> T {
  try await withTemporaryDirectory { directory in
    let store = CredentialStore(path: directory + "/config.json")
    for (host, credential) in credentials { try store.store(credential, for: host) }
    let client = RegistryClient(config: config, credentials: store, options: options)
    do {
      let result = try await body(client)
      try await client.shutdown()
      return result
    } catch {
      try? await client.shutdown()
      throw error
    }
  }
}

/// Runs `body` and checks it fails with a `BerthError` of `code` whose message holds every
/// one of `words`; returns the error.
@discardableResult
func expectRegistryError(
  _ code: BerthError.Code, _ words: [String], sourceLocation: SourceLocation = #_sourceLocation,
  _ body: () async throws -> Void
) async -> BerthError? {
  do {
    try await body()
    Issue.record("expected a \(code) error mentioning \(words), but it succeeded", sourceLocation: sourceLocation)
    return nil
  } catch let error as BerthError {
    #expect(error.code == code, "wrong code for: \(error.message)", sourceLocation: sourceLocation)
    for word in words {
      #expect(error.message.contains(word), "\"\(word)\" missing from: \(error.message)", sourceLocation: sourceLocation)
    }
    return error
  } catch {
    Issue.record("expected a BerthError \(code), got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    return nil
  }
}

/// Downloads a blob through the streaming API, returning the bytes and the number of chunks.
func download(
  _ client: RegistryClient, _ repository: ImageReference, _ digest: String, size: Int64?
) async throws -> (bytes: [UInt8], chunks: Int) {
  let box = ByteCollector()
  try await client.blob(repository: repository, digest: try Digest(parsing: digest), expectedSize: size) { chunk in
    box.append(chunk)
  }
  return box.result
}

/// Collects chunks from a @Sendable consumer.
final class ByteCollector: @unchecked Sendable {
  private let lock = NSLock()
  private var bytes: [UInt8] = []
  private var chunks = 0

  func append(_ buffer: ByteBuffer) {
    lock.lock()
    bytes += buffer.readableBytesView
    chunks += 1
    lock.unlock()
  }

  var result: (bytes: [UInt8], chunks: Int) {
    lock.lock()
    defer { lock.unlock() }
    return (bytes, chunks)
  }
}

extension ImageReference {
  /// Parses a reference in a test (a failure is a test failure).
  static func make(_ text: String) throws -> ImageReference {
    try ImageReference(parsing: text)
  }
}

