#if canImport(Glibc)
import Glibc
#endif

/// Lexical path operations (no file system access).
public enum Path {
  /// Joins components with single slashes; an absolute later component does not reset the
  /// result (unlike many path APIs): `join("/rootfs", "/etc")` is "/rootfs/etc". An empty base
  /// gives a relative result: `join("", "etc")` is "etc".
  public static func join(_ base: String, _ rest: String...) -> String {
    var result = base
    for part in rest {
      let trimmed = part.drop { $0 == "/" }
      if trimmed.isEmpty { continue }
      if result.isEmpty {
        result = String(trimmed)
      } else {
        while result.count > 1 && result.hasSuffix("/") { result.removeLast() }
        result += result.hasSuffix("/") ? trimmed : "/" + trimmed
      }
    }
    return result
  }

  /// Removes ".", "..", repeated and trailing slashes. ".." at the root stays at the root, so
  /// the result of cleaning an absolute path never leaves "/".
  public static func clean(_ path: String) -> String {
    // Works on bytes: Character iteration (grapheme breaking) made this show in profiles.
    let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
    let bytes = Array(path.utf8)
    let absolute = bytes.first == slash
    var parts: [ArraySlice<UInt8>] = []
    for part in bytes.split(separator: slash) {
      if part.count == 1 && part.first == dot { continue }
      if part.count == 2 && part.first == dot && part.last == dot {
        if let last = parts.last, !(last.count == 2 && last.first == dot && last.last == dot) {
          parts.removeLast()
        } else if !absolute {
          parts.append(part)
        }
        continue
      }
      parts.append(part)
    }
    var result: [UInt8] = absolute ? [slash] : []
    result.reserveCapacity(bytes.count)
    for (index, part) in parts.enumerated() {
      if index > 0 { result.append(slash) }
      result.append(contentsOf: part)
    }
    if result.isEmpty { return "." }
    return String(decoding: result, as: UTF8.self)
  }

  public static func dirname(_ path: String) -> String {
    let cleaned = clean(path)
    let utf8 = cleaned.utf8
    guard let slash = utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
    if slash == utf8.startIndex { return "/" }
    return String(Substring(utf8[..<slash]))
  }

  public static func basename(_ path: String) -> String {
    let cleaned = clean(path)
    let utf8 = cleaned.utf8
    guard let slash = utf8.lastIndex(of: UInt8(ascii: "/")) else { return cleaned }
    let name = utf8[utf8.index(after: slash)...]
    return name.isEmpty ? "/" : String(Substring(name))
  }

  /// An absolute path for `path` against the working directory, cleaned.
  public static func absolute(_ path: String) -> String {
    if path.hasPrefix("/") { return clean(path) }
    guard let cwd = getcwd(nil, 0) else { return clean(path) }
    defer { free(cwd) }
    return clean(join(String(cString: cwd), path))
  }
}
