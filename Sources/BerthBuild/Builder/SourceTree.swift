import BerthArchive
import BerthOS
import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where COPY and ADD take files from: the build context (less what .dockerignore excludes),
/// or the root filesystem of another stage or image (mounted read-only for the step).
///
/// Paths are relative to the tree's root, without a leading "/" ("" is the root). Symlinks in
/// a source path resolve inside the tree, as in a container: `COPY --from=b /bin/sh` follows
/// the image's /bin/sh link to the image's busybox, never to the host's.
struct SourceTree {
  let root: String
  /// Whether a path (relative, and whether it is a directory) is left out (.dockerignore).
  let excluded: (String, Bool) -> Bool

  /// One file, directory or symlink to copy.
  struct Entry {
    /// Relative to the tree's root.
    var path: String
    var info: stat
    var hostPath: String
    var type: mode_t { info.st_mode & S_IFMT }
  }

  /// The paths a COPY source names: one path, or every match of a glob (`*.txt`, `src/*/a`),
  /// sorted. Throws (naming the source) when nothing matches.
  func select(_ source: String) throws -> [String] {
    let relative = Self.relative(source)
    let components = relative.split(separator: "/").map(String.init)
    if !components.contains(where: Self.isPattern) {
      let resolved = try resolve(relative)
      guard let info = try? FS.lstatIfPresent(hostPath(resolved)),
        !excluded(resolved, (info.st_mode & S_IFMT) == S_IFDIR) || hasIncludedChildren(resolved, info: info)
      else { throw notFound(source) }
      return [resolved]
    }
    var matches = [""]
    for component in components {
      var next: [String] = []
      for parent in matches {
        if !Self.isPattern(component) {
          next.append(Self.join(parent, component))
          continue
        }
        guard FS.isDirectory(hostPath(parent)) else { continue }
        for name in ((try? FS.list(hostPath(parent))) ?? []).sorted() where fnmatch(component, name, FNM_PERIOD) == 0 {
          next.append(Self.join(parent, name))
        }
      }
      matches = next
    }
    let found = matches.filter { path in
      guard let info = try? FS.lstatIfPresent(hostPath(path)) else { return false }
      return !excluded(path, (info.st_mode & S_IFMT) == S_IFDIR) || hasIncludedChildren(path, info: info)
    }.sorted()
    if found.isEmpty { throw notFound(source) }
    return found
  }

  /// The path itself and, for a directory, everything below it that is not excluded, parents
  /// before children, names sorted.
  func entries(under path: String) throws -> [Entry] {
    var result: [Entry] = []
    func visit(_ relative: String) throws {
      let host = hostPath(relative)
      guard let info = try FS.lstatIfPresent(host) else { return }
      let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
      let index = result.count
      let keep = !excluded(relative, isDirectory)
      if keep { result.append(Entry(path: relative, info: info, hostPath: host)) }
      guard isDirectory else { return }
      let before = result.count
      for name in try FS.list(host).sorted() { try visit(Self.join(relative, name)) }
      // An excluded directory with re-included files (`!dir/keep`) is still made.
      if !keep && result.count > before { result.insert(Entry(path: relative, info: info, hostPath: host), at: index) }
    }
    try visit(path)
    return result
  }

  func hostPath(_ relative: String) -> String {
    relative.isEmpty ? root : root + "/" + relative
  }

  /// Follows symlinks in `relative` inside the tree (at most 40).
  func resolve(_ relative: String) throws -> String {
    var pending = relative.split(separator: "/").map(String.init)
    var done: [String] = []
    var hops = 0
    while !pending.isEmpty {
      let name = pending.removeFirst()
      if name == "." || name.isEmpty { continue }
      if name == ".." {
        if !done.isEmpty { done.removeLast() }
        continue
      }
      let candidate = (done + [name]).joined(separator: "/")
      guard let info = try FS.lstatIfPresent(hostPath(candidate)), (info.st_mode & S_IFMT) == S_IFLNK else {
        done.append(name)
        continue
      }
      hops += 1
      if hops > 40 { throw BerthError(.invalidArgument, "too many levels of symbolic links in \(relative)") }
      let target = try FS.readLink(hostPath(candidate))
      if target.hasPrefix("/") { done = [] }
      pending = target.split(separator: "/").map(String.init) + pending
    }
    return done.joined(separator: "/")
  }

  private func hasIncludedChildren(_ path: String, info: stat) -> Bool {
    guard (info.st_mode & S_IFMT) == S_IFDIR else { return false }
    return ((try? entries(under: path)) ?? []).contains { $0.path != path }
  }

  private func notFound(_ source: String) -> BerthError {
    BerthError(.notFound, "\(source): not found in the build context, or excluded by .dockerignore")
  }

  static func relative(_ path: String) -> String {
    let clean = Path.clean("/" + path)
    return clean == "/" ? "" : String(clean.dropFirst())
  }

  static func join(_ parent: String, _ name: String) -> String {
    parent.isEmpty ? name : parent + "/" + name
  }

  static func isPattern(_ component: String) -> Bool {
    component.contains { $0 == "*" || $0 == "?" || $0 == "[" }
  }
}

/// SHA-256 of a file's data, hex.
func fileDigest(_ path: String) throws -> String {
  let fd = try OwnedFD.open(path, O_RDONLY | O_NOFOLLOW)
  var hasher = SHA256()
  var buffer = [UInt8](repeating: 0, count: 1 << 20)
  while true {
    let n = buffer.withUnsafeMutableBytes { raw in retryOnInterrupt { read(fd.raw, raw.baseAddress, raw.count) } }
    if n < 0 { throw BerthError.system("read \(path)") }
    if n == 0 { break }
    hasher.update(data: buffer[0..<n])
  }
  return hexString(hasher.finalize())
}
