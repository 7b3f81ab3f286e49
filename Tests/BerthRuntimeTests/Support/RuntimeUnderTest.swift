import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The OCI runtime binary these tests drive.
///
/// `BERTH_TEST_RUNTIME=/usr/sbin/runc` points the suite at a reference runtime (that is how every
/// test was validated); without it the suite tests the `berth-runtime` built next to the test
/// bundle (`.build/<triple>/debug/berth-runtime`).
struct RuntimeUnderTest: Sendable {
  /// Absolute path of the binary.
  let path: String
  /// True when the binary is a reference runtime (runc), not berth-runtime: tests of Berth-only
  /// behaviour (exact error wording, features runc 1.1 lacks) are skipped.
  let isReference: Bool
  /// Why the binary cannot be used, if it cannot.
  let problem: String?

  static let shared = RuntimeUnderTest.locate()

  /// A short name for messages: "runc" or "berth-runtime".
  var name: String { (path as NSString).lastPathComponent }

  private static func locate() -> RuntimeUnderTest {
    if let override = ProcessInfo.processInfo.environment["BERTH_TEST_RUNTIME"], !override.isEmpty {
      let name = (override as NSString).lastPathComponent
      let problem =
        access(override, X_OK) == 0
        ? nil : "BERTH_TEST_RUNTIME=\(override) is not an executable file"
      return RuntimeUnderTest(path: override, isReference: !name.hasPrefix("berth"), problem: problem)
    }
    let products = buildProductsDirectory()
    let candidate = products + "/berth-runtime"
    let problem =
      access(candidate, X_OK) == 0
      ? nil
      : "berth-runtime not found at \(candidate): run `swift build` first "
        + "(or set BERTH_TEST_RUNTIME=/usr/sbin/runc to validate the suite against runc)"
    return RuntimeUnderTest(path: candidate, isReference: false, problem: problem)
  }

  /// The directory holding the test bundle, which SwiftPM shares with the package's executables.
  private static func buildProductsDirectory() -> String {
    var candidates: [String] = []
    if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
      candidates.append(exe)
    }
    candidates.append(contentsOf: CommandLine.arguments.prefix(1))
    candidates.append(Bundle.main.bundlePath)
    for candidate in candidates {
      // `.../debug/berthPackageTests.xctest` (a file on Linux) or a path inside an .xctest bundle.
      var url = URL(fileURLWithPath: candidate)
      while url.pathComponents.count > 1 {
        if url.pathExtension == "xctest" {
          return url.deletingLastPathComponent().path
        }
        url = url.deletingLastPathComponent()
      }
      let dir = URL(fileURLWithPath: candidate).deletingLastPathComponent().path
      if access(dir + "/berth-runtime", X_OK) == 0 { return dir }
    }
    return URL(fileURLWithPath: candidates.first ?? ".").deletingLastPathComponent().path
  }
}

/// Facts about the machine the tests run on.
enum TestHost {
  static let isRoot = geteuid() == 0
}
