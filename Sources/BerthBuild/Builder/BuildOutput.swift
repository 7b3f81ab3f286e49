import BerthOS
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The build's progress on stdout, Docker-classic style ("STEP 2/7: RUN make", " ---> Using
/// cache"), and where RUN steps write: the terminal, or with `-q` a file that is shown only
/// when the step fails.
final class BuildOutput: @unchecked Sendable {
  let quiet: Bool

  init(quiet: Bool) {
    self.quiet = quiet
  }

  func line(_ text: String) {
    guard !quiet else { return }
    try? writeAllBytes(1, Array((text + "\n").utf8))
  }

  /// Gives `body` the descriptors a step's command writes to; with `-q`, what it wrote is
  /// returned (for the error message) instead of shown.
  func withStepOutput<T>(directory: String, _ body: ((stdout: Int32, stderr: Int32)) throws -> T) throws -> (T, captured: String) {
    guard quiet else { return (try body((1, 2)), "") }
    let path = directory + "/output"
    let fd = try OwnedFD.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
    let result = try body((fd.raw, fd.raw))
    let text = (try? FS.readText(path)) ?? ""
    return (result, String(text.suffix(4000)))
  }

  static func seconds(since start: UInt64) -> String {
    String(format: "%.2fs", Double(Clock.monotonicNanoseconds() - start) / 1e9)
  }
}
