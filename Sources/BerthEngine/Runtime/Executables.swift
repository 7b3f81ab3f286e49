import BerthOS
import Foundation

/// Berth's helper programs (berth-runtime, berth-monitor, berth-init) are installed next to
/// `berth` itself; PATH is the fallback.
public enum Executables {
  /// The running executable (`berth`), and its directory.
  static let ownPath: String? = try? FS.readLink("/proc/self/exe")
  static let ownDirectory: String? = ownPath.map(Path.dirname)

  /// A helper program next to `berth`, else in PATH; nil when neither has it.
  public static func find(_ name: String) -> String? {
    if let environmentOverride = ProcessInfo.processInfo.environment["BERTH_" + name.uppercased().replacingOccurrences(of: "-", with: "_")],
      !environmentOverride.isEmpty
    {
      return environmentOverride
    }
    if let directory = ownDirectory, access(directory + "/" + name, X_OK) == 0 { return directory + "/" + name }
    return inPath(name)
  }

  /// The first executable `name` in PATH.
  public static func inPath(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    for directory in path.split(separator: ":") where access(directory + "/" + name, X_OK) == 0 {
      return directory + "/" + name
    }
    return nil
  }

  /// A helper program that must be there.
  static func require(_ name: String) throws -> String {
    guard let path = find(name) else {
      throw BerthError(.notFound, "\(name) is not installed next to berth or in PATH; build the package (swift build) or install it")
    }
    return path
  }
}

/// The OCI runtime a container runs with: `--runtime NAME` (berth-runtime, runc, crun, … in
/// PATH) or an absolute path; Berth's own berth-runtime by default.
public struct RuntimeChoice: Sendable, Equatable {
  /// What `inspect` shows as HostConfig.Runtime; it also names the runtime's state directory.
  public var name: String
  public var path: String

  public static let defaultName = "berth-runtime"

  public static func resolve(_ requested: String?) throws -> RuntimeChoice {
    let name = requested ?? defaultName
    if name.hasPrefix("/") {
      guard access(name, X_OK) == 0 else {
        throw BerthError(.invalidArgument, "unknown or invalid runtime name: \(name) (not an executable file)")
      }
      return RuntimeChoice(name: Path.basename(name), path: name)
    }
    guard !name.isEmpty, !name.contains("/"), let path = name == defaultName ? Executables.find(name) : Executables.inPath(name) else {
      throw BerthError(.invalidArgument, "unknown or invalid runtime name: \(name)")
    }
    return RuntimeChoice(name: name, path: path)
  }
}
