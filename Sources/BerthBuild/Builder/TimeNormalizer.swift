import BerthOS
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Gives the directories of a COPY, ADD or WORKDIR layer times that depend only on the
/// step's inputs, so that the same inputs make the same layer digest.
///
/// Adding a file to a directory sets the directory's mtime to now: a parent directory copied
/// up from the image takes back the image's times, a directory copied from the source its
/// source's (`copied`), and a directory the step made for the destination `newTime`.
enum TimeNormalizer {
  static func normalize(upper: String, lowers: [String], copied: [String: timespec] = [:], newTime: Int) throws {
    func visit(_ relative: String) throws {
      let path = relative.isEmpty ? upper : upper + "/" + relative
      for name in try FS.list(path) {
        let child = relative.isEmpty ? name : relative + "/" + name
        if let info = try FS.lstatIfPresent(upper + "/" + child), (info.st_mode & S_IFMT) == S_IFDIR {
          try visit(child)
        }
      }
      var mtime: timespec
      if let time = copied["/" + relative] {
        mtime = time
      } else if let lower = lowers.lazy.compactMap({ try? FS.lstatIfPresent($0 + "/" + relative) }).first,
        (lower.st_mode & S_IFMT) == S_IFDIR
      {
        mtime = lower.st_mtim
      } else {
        mtime = timespec(tv_sec: newTime, tv_nsec: 0)
      }
      var times = [mtime, mtime]
      try check("set the times of \(path)") { utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) }
    }
    try visit("")
  }
}
