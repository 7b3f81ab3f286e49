import BerthOS

#if canImport(Glibc)
import Glibc
#endif

/// The bytes a directory tree holds, as Docker's `system df` counts them for volumes: the
/// sizes of everything but directories, each hard-linked file once. Walks with
/// descriptor-relative calls and never follows a symlink or leaves the file system it starts
/// on (a mount inside a volume is not the volume's).
public enum DirectorySize {
  public static func of(_ path: String) throws -> Int64 {
    let root = try OwnedFD.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
    var info = stat()
    try check("stat \(path)") { fstat(root.raw, &info) }
    var seen = Set<[UInt64]>()
    return try of(root.raw, device: info.st_dev, seen: &seen, what: path)
  }

  private static func of(_ directory: Int32, device: dev_t, seen: inout Set<[UInt64]>, what: String) throws -> Int64 {
    var total: Int64 = 0
    for name in try TreeCopy.names(in: directory, what: what) {
      var info = stat()
      if fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) != 0 {
        if errno == ENOENT { continue }  // removed while we walk
        throw BerthError.system("stat \(what)/\(TreeCopy.display(name))")
      }
      if info.st_mode & S_IFMT == S_IFDIR {
        guard info.st_dev == device else { continue }
        let child = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if child < 0 {
          if errno == ENOENT { continue }
          throw BerthError.system("open \(what)/\(TreeCopy.display(name))")
        }
        let fd = OwnedFD(child)
        total += try of(fd.raw, device: device, seen: &seen, what: what + "/" + TreeCopy.display(name))
      } else {
        if info.st_nlink > 1, !seen.insert([UInt64(info.st_dev), UInt64(info.st_ino)]).inserted { continue }
        total += Int64(info.st_size)
      }
    }
    return total
  }
}
