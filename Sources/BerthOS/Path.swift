#if canImport(Glibc)
import Glibc
#endif

/// Lexical path operations (no file system access).
public enum Path {
  /// Joins components with single slashes; an absolute later component does not reset the
  /// result (unlike many path APIs): `join("/rootfs", "/etc")` is "/rootfs/etc".
  public static func join(_ base: String, _ rest: String...) -> String {
    var result = base
    for part in rest where !part.isEmpty {
      if result.hasSuffix("/") {
        result += part.hasPrefix("/") ? String(part.dropFirst()) : part
      } else {
        result += part.hasPrefix("/") ? part : "/" + part
      }
    }
    return result
  }

  /// Removes ".", "..", repeated and trailing slashes. ".." at the root stays at the root, so
  /// the result of cleaning an absolute path never leaves "/".
  public static func clean(_ path: String) -> String {
    let absolute = path.hasPrefix("/")
    var parts: [Substring] = []
    for part in path.split(separator: "/", omittingEmptySubsequences: true) {
      if part == "." { continue }
      if part == ".." {
        if let last = parts.last, last != ".." {
          parts.removeLast()
        } else if !absolute {
          parts.append(part)
        }
        continue
      }
      parts.append(part)
    }
    let joined = parts.joined(separator: "/")
    if absolute { return "/" + joined }
    return joined.isEmpty ? "." : joined
  }

  public static func dirname(_ path: String) -> String {
    let cleaned = clean(path)
    guard let slash = cleaned.lastIndex(of: "/") else { return "." }
    if slash == cleaned.startIndex { return "/" }
    return String(cleaned[..<slash])
  }

  public static func basename(_ path: String) -> String {
    let cleaned = clean(path)
    guard let slash = cleaned.lastIndex(of: "/") else { return cleaned }
    let name = cleaned[cleaned.index(after: slash)...]
    return name.isEmpty ? "/" : String(name)
  }

  /// An absolute path for `path` against the working directory, cleaned.
  public static func absolute(_ path: String) -> String {
    if path.hasPrefix("/") { return clean(path) }
    guard let cwd = getcwd(nil, 0) else { return clean(path) }
    defer { free(cwd) }
    return clean(join(String(cString: cwd), path))
  }
}
