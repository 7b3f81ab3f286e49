import BerthOS
import BerthTestSupport
import Testing

/// One `docker-registry` shared by the tests of a suite (each test uses repositories of its
/// own), started before the suite's first test and stopped after its last, whatever happens.
enum SharedRegistry {
  @TaskLocal static var current: RegistryFixture?

  /// The suite's registry (a test failure when the suite lacks the trait).
  static func get(sourceLocation: SourceLocation = #_sourceLocation) throws -> RegistryFixture {
    try #require(current, "the suite needs the .sharedRegistry trait", sourceLocation: sourceLocation)
  }
}

struct SharedRegistryTrait: SuiteTrait, TestScoping {
  func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    if SharedRegistry.current != nil || RegistryFixture.unavailableReason != nil {
      try await function()
      return
    }
    let registry = try await RegistryFixture.start()
    do {
      try await SharedRegistry.$current.withValue(registry) { try await function() }
    } catch {
      await registry.stop()
      throw error
    }
    await registry.stop()
  }
}

extension Trait where Self == SharedRegistryTrait {
  /// Starts one registry fixture for the whole suite.
  static var sharedRegistry: Self { SharedRegistryTrait() }
}

/// A unique repository name for one test: "prefix-<random>".
func uniqueName(_ prefix: String) -> String {
  "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
}
