import BerthOS
import Crypto
import Foundation

// No BerthOCI here: Crypto's `Digest` protocol and BerthOCI's `Digest` share a name.

/// Helpers of the registry fixtures (kept in one namespace: BerthTestSupport is shared).
public enum RegistrySupport {
  /// "sha256:<hex>" of `bytes`.
  public static func sha256(_ bytes: [UInt8]) -> String {
    "sha256:" + sha256Hex(bytes)
  }

  /// The lowercase hex SHA-256 of `bytes`.
  public static func sha256Hex(_ bytes: [UInt8]) -> String {
    SHA256.hash(data: bytes).map { byte in
      let digits = Array("0123456789abcdef")
      return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
    }.joined()
  }

  static func failure(_ message: String) -> BerthError {
    BerthError(.commandFailed, message)
  }

  static func percentDecode(_ text: String) -> String {
    let plus = text.replacingOccurrences(of: "+", with: " ")
    return plus.removingPercentEncoding ?? plus
  }

  /// Base64url without padding (JWT).
  static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
    Data(bytes).base64EncodedString()
      .replacingOccurrences(of: "+", with: "-")
      .replacingOccurrences(of: "/", with: "_")
      .replacingOccurrences(of: "=", with: "")
  }

  /// Runs a program to completion; throws with its stderr when it fails.
  @discardableResult
  public static func run(_ path: String, _ arguments: [String], input: [UInt8] = [], environment: [String: String]? = nil) throws -> [UInt8] {
    var env = environment ?? ProcessInfo.processInfo.environment
    if env["PATH"] == nil { env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }
    let result = try Subprocess.run(path, args: [path] + arguments, env: env.map { "\($0.key)=\($0.value)" }, input: input,
                                    timeoutNanoseconds: 300_000_000_000)
    guard result.status == .exited(0) else {
      let errorText = String(decoding: result.error, as: UTF8.self)
      throw failure("\(path) \(arguments.joined(separator: " ")) failed (\(result.status)): \(errorText)")
    }
    return result.output
  }

  /// A new empty directory under $TMPDIR (or /tmp).
  public static func makeTemporaryDirectory(prefix: String) throws -> String {
    let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
      guard let base = buffer.baseAddress else { return false }
      return mkdtemp(base) != nil
    }
    guard made else { throw BerthError.system("mkdtemp in \(base)") }
    return String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// The absolute path of a program in $PATH (or the usual directories), if any.
  public static func which(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let directories = path.split(separator: ":").map(String.init) + ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
    return directories.map { $0 + "/" + name }.first { access($0, X_OK) == 0 }
  }
}
