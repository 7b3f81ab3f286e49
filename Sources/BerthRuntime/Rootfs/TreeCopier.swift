#if canImport(Glibc)
import Glibc
#endif
import BerthOS

/// Copies a directory tree between two open directories, keeping modes, owners, symlinks and
/// device nodes: the "tmpcopyup" mount option fills a new tmpfs with what it covers.
enum TreeCopier {
  static func copyContents(of source: Int32, into target: Int32) throws {
    let names = try FS.list(directoryFD: source)
    for name in names {
      var info = stat()
      try check("stat \(name)") { fstatat(source, name, &info, AT_SYMLINK_NOFOLLOW) }
      let mode = info.st_mode
      switch mode & S_IFMT {
      case S_IFDIR:
        if mkdirat(target, name, mode & 0o7777) != 0 && errno != EEXIST { throw BerthError.system("mkdir \(name)") }
        let from = try OwnedFD.open(name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, at: source)
        let to = try OwnedFD.open(name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, at: target)
        try copyContents(of: from.raw, into: to.raw)
      case S_IFREG:
        let from = try OwnedFD.open(name, O_RDONLY | O_NOFOLLOW, at: source)
        let to = try OwnedFD.open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: mode & 0o7777, at: target)
        try to.writeAll(try from.readAll())
      case S_IFLNK:
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlinkat(source, name, &buffer, buffer.count - 1)
        if length < 0 { throw BerthError.system("readlink \(name)") }
        let linkTarget = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        try check("symlink \(name)") { symlinkat(linkTarget, target, name) }
      default:
        try check("mknod \(name)") { mknodat(target, name, mode, info.st_rdev) }
      }
      try check("chown \(name)") { fchownat(target, name, info.st_uid, info.st_gid, AT_SYMLINK_NOFOLLOW) }
      if mode & S_IFMT != S_IFLNK {
        try check("chmod \(name)") { fchmodat(target, name, mode & 0o7777, 0) }
      }
    }
  }
}
