import BerthOS
import Foundation

/// Walks an overlay upper directory and reports what Docker reports for it: the changes
/// between the image's file system and the container's. Depth first, names in byte order
/// (Docker's own order varies from run to run); a whiteout (char device 0/0) is a deletion; a
/// path the image has is a change (a directory whose mode, size and mtime are the image's is
/// not, by itself); anything else is an addition. An opaque directory over one of the image
/// is a change, its new entries additions or changes, and the image's entries it hides
/// deletions. Every directory above a change is listed as changed, once, before it.
final class ChangeWalker {
  /// The upper directory and the image's layer directories, top first.
  let upper: String
  let lowers: [String]
  /// The runtime's mountpoints (``mountStubs()``), left out.
  private var stubs: Set<String> = []

  init(upper: String, lowers: [String]) {
    self.upper = upper
    self.lowers = lowers
  }

  func changes() throws -> [FileChange] {
    stubs = mountStubs()
    var result: [FileChange] = []
    var changedDirectories: Set<String> = []
    try walk("", hidden: [], into: &result, changedDirectories: &changedDirectories)
    return result
  }

  /// `hidden`: names of the image's directory that an opaque upper directory hides.
  private func walk(
    _ directory: String, hidden: Set<String>, into result: inout [FileChange], changedDirectories: inout Set<String>
  ) throws {
    let upperNames = Set(try FS.list(upper + directory))
    let names = upperNames.union(hidden).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    for name in names {
      let path = directory + "/" + name
      if stubs.contains(path) { continue }
      guard upperNames.contains(name) else {
        // In the image, hidden by the opaque directory: deleted.
        listAncestors(of: path, into: &result, changedDirectories: &changedDirectories)
        result.append(FileChange(.deleted, path))
        continue
      }
      guard let info = try FS.lstatIfPresent(upper + path) else { continue }
      let type = info.st_mode & S_IFMT
      let isDirectory = type == S_IFDIR
      let lower = imageInfo(path)
      var kind: FileChange.Kind
      var hiddenBelow: Set<String> = []
      if type == S_IFCHR && info.st_rdev == 0 {
        guard lower != nil else { continue }  // a whiteout of nothing (the image never had it)
        kind = .deleted
      } else if let lower {
        if isDirectory, try isOpaque(upper + path), lower.st_mode & S_IFMT == S_IFDIR {
          hiddenBelow = imageNames(path)
          kind = .changed
        } else if isDirectory && lower.st_mode & S_IFMT == S_IFDIR && info.st_mode == lower.st_mode
          && (holdsStub(path) || sameSizeAndTime(info, lower))
        {
          // Only there as the parent of something that changed: listed before that change.
          try walk(path, hidden: [], into: &result, changedDirectories: &changedDirectories)
          continue
        } else {
          kind = .changed
        }
      } else {
        kind = .added
      }
      listAncestors(of: path, into: &result, changedDirectories: &changedDirectories)
      if isDirectory { changedDirectories.insert(path) }
      result.append(FileChange(kind, path))
      if isDirectory {
        try walk(path, hidden: hiddenBelow.subtracting(try FS.list(upper + path)), into: &result, changedDirectories: &changedDirectories)
      }
    }
  }

  /// Lists the directories above a change as changed (once each, outermost first), as
  /// Docker lists every directory that holds a change.
  private func listAncestors(of path: String, into result: inout [FileChange], changedDirectories: inout Set<String>) {
    var ancestor = ""
    for component in path.split(separator: "/").dropLast() {
      ancestor += "/" + component
      if changedDirectories.insert(ancestor).inserted { result.append(FileChange(.changed, ancestor)) }
    }
  }

  /// A directory the runtime changed by making a mountpoint in it: its size and mtime are
  /// the runtime's doing, not the container's.
  private func holdsStub(_ path: String) -> Bool {
    stubs.contains { $0.hasPrefix(path + "/") }
  }

  private func sameSizeAndTime(_ a: stat, _ b: stat) -> Bool {
    a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec
  }

  func isOpaque(_ full: String) throws -> Bool {
    try ExtendedAttributes.value(.path(Array(full.utf8CString)), name: Array("trusted.overlay.opaque".utf8), of: full)
      == Array("y".utf8)
  }

  /// The path's metadata in the image (its highest layer holding it), nil when the image does
  /// not have it: absent, whited out, or under a directory a higher layer deleted or made
  /// opaque. Not following a symlink: an absolute one would name a host file.
  func imageInfo(_ path: String) -> stat? {
    for lower in lowers {
      var info = stat()
      if lstat(lower + path, &info) == 0 {
        return info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == 0 ? nil : info
      }
      if hidesBelow(lower, path) { return nil }
    }
    return nil
  }

  /// Whether `layer` hides `path` of the layers below it: a parent of it whited out, not a
  /// directory, or opaque in this layer.
  private func hidesBelow(_ layer: String, _ path: String) -> Bool {
    var prefix = ""
    for component in path.split(separator: "/").dropLast() {
      prefix += "/" + component
      var info = stat()
      guard lstat(layer + prefix, &info) == 0 else { return false }
      if info.st_mode & S_IFMT != S_IFDIR { return true }
      if (try? isOpaque(layer + prefix)) == true { return true }
    }
    return false
  }

  /// The names the image's directory `path` holds (what the layers show merged).
  private func imageNames(_ path: String) -> Set<String> {
    var names: Set<String> = []
    var gone: Set<String> = []
    for lower in lowers {
      var info = stat()
      if lstat(lower + path, &info) == 0 {
        guard info.st_mode & S_IFMT == S_IFDIR else { break }
        for name in (try? FS.list(lower + path)) ?? [] where !gone.contains(name) && !names.contains(name) {
          var entry = stat()
          if lstat(lower + path + "/" + name, &entry) == 0 && entry.st_mode & S_IFMT == S_IFCHR && entry.st_rdev == 0 {
            gone.insert(name)
          } else {
            names.insert(name)
          }
        }
        if (try? isOpaque(lower + path)) == true { break }
      } else if hidesBelow(lower, path) {
        break
      }
    }
    return names
  }
}

extension ChangeWalker {
  /// Where the runtime mounts /proc, /sys, /dev and the engine's /etc files: when the image
  /// lacks one, the runtime makes an empty mountpoint for it in the upper directory.
  static let runtimeMountpoints = ["/dev", "/proc", "/sys", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"]

  /// The mountpoints the runtime made in the upper directory: Docker keeps them in a layer of
  /// their own (the "init" layer), so neither `diff` nor `commit` shows them. Only an empty
  /// directory or file the image does not have counts; anything else is the container's. A
  /// directory copied up only to hold such mountpoints (/etc) goes with them.
  func mountStubs() -> Set<String> {
    var stubs: Set<String> = []
    for path in Self.runtimeMountpoints where imageInfo(path) == nil {
      var info = stat()
      guard lstat(upper + path, &info) == 0 else { continue }
      switch info.st_mode & S_IFMT {
      case S_IFREG where info.st_size == 0: stubs.insert(path)
      case S_IFDIR where ((try? FS.list(upper + path)) ?? ["?"]).isEmpty: stubs.insert(path)
      default: continue
      }
    }
    // Parents, deepest first: a directory whose entries are all stubs and whose owner and
    // mode are the image's.
    let parents = Set(stubs.map { Path.dirname($0) }).filter { $0 != "/" }.sorted { $0.count > $1.count }
    for parent in parents {
      var info = stat()
      guard lstat(upper + parent, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, let image = imageInfo(parent),
        image.st_mode == info.st_mode, image.st_uid == info.st_uid, image.st_gid == info.st_gid,
        (try? isOpaque(upper + parent)) == false,
        let names = try? FS.list(upper + parent), names.allSatisfy({ stubs.contains(parent + "/" + $0) })
      else { continue }
      stubs.insert(parent)
    }
    return stubs
  }
}
