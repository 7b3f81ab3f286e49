import BerthOS
import Testing

@testable import BerthBuild

/// Parses `FROM busybox` + `body` and returns the instruction after FROM.
func parseStep(_ body: String, escape: String? = nil) throws -> Instruction {
  let prefix = escape.map { "# escape=\($0)\n" } ?? ""
  let file = try Dockerfile.parse(prefix + "FROM busybox\n" + body + "\n")
  let stage = try #require(file.stages.first)
  return try #require(stage.instructions.first)
}

/// The message of the BerthError `body` throws (fails the test when it does not throw one).
func parseError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
  do {
    let file = try Dockerfile.parse(text)
    Issue.record("parsed without error: \(file)", sourceLocation: sourceLocation)
    return ""
  } catch let error as BerthError {
    #expect(error.code == .invalidArgument, sourceLocation: sourceLocation)
    return error.message
  } catch {
    Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    return ""
  }
}
