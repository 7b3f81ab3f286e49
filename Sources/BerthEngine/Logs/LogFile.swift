import BerthOS

#if canImport(Glibc)
import Glibc
#endif

/// One file of a json-file log, open for reading: the current `<id>-json.log` or a rotated
/// `<id>-json.log.N`.
///
/// Held open by descriptor, so that a rotation (a rename) while it is read changes nothing:
/// the reader finishes the file it has, then goes on to the one that follows.
final class LogFile {
  let fd: Int32
  let device: UInt64
  let inode: UInt64
  /// The next byte to read.
  var offset: Int64 = 0
  /// The start of a line read so far whose "\n" is not there yet.
  var pending: [UInt8] = []
  /// The line being read is too long to be an entry: drop it up to its "\n".
  var skippingLine = false

  private init(fd: Int32, info: stat) {
    self.fd = fd
    device = UInt64(info.st_dev)
    inode = UInt64(info.st_ino)
  }

  deinit { close(fd) }

  /// Opens `path`; nil when it does not exist.
  static func open(_ path: String) throws -> LogFile? {
    let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 {
      if errno == ENOENT { return nil }
      throw BerthError.system("open log \(path)")
    }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      let error = BerthError.system("stat log \(path)")
      close(fd)
      throw error
    }
    return LogFile(fd: fd, info: info)
  }

  /// The file's size now.
  func size() throws -> Int64 {
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw BerthError.system("stat log") }
    return Int64(info.st_size)
  }

  /// Whether both are the same file (not just the same name).
  func isSame(as other: LogFile) -> Bool { device == other.device && inode == other.inode }

  /// Whether `path` names this very file.
  func isFile(at path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
  }

  /// Reads up to `buffer.count` bytes at `offset` (not moving it); 0 at end of file.
  func read(into buffer: UnsafeMutableRawBufferPointer, at position: Int64) throws -> Int {
    let n = retryOnInterrupt { pread(fd, buffer.baseAddress, buffer.count, off_t(position)) }
    if n < 0 { throw BerthError.system("read log") }
    return n
  }
}

/// The files of one log: `path`, and `path.1` (newest rotated) … `path.N` (oldest).
enum LogFiles {
  /// The rotated files' numbers present now, newest (1) first. Found by listing the
  /// directory rather than probing .1, .2, …, so that a gap left by a rotation in progress
  /// does not hide older files.
  static func rotatedNumbers(of path: String) -> [Int] {
    let prefix = Path.basename(path) + "."
    guard let names = try? FS.list(Path.dirname(path)) else { return [] }
    var numbers: [Int] = []
    for name in names where name.hasPrefix(prefix) {
      let suffix = name.dropFirst(prefix.count)
      if let number = Int(suffix), number > 0, String(number) == suffix { numbers.append(number) }
    }
    return numbers.sorted()
  }

  /// Opens every file of the log, returned oldest first. The current file is opened first and
  /// the rotated ones after it, newest first: a rotation in between shows up as a file seen
  /// twice (the same inode), which is dropped, instead of a file missed.
  static func openAll(_ path: String) throws -> [LogFile] {
    var newestFirst: [LogFile] = []
    if let current = try LogFile.open(path) { newestFirst.append(current) }
    for number in rotatedNumbers(of: path) {
      guard let file = try LogFile.open("\(path).\(number)") else { continue }
      if newestFirst.contains(where: { $0.isSame(as: file) }) { continue }
      newestFirst.append(file)
    }
    return newestFirst.reversed()
  }

  /// The rotated files newer than `previous`, oldest first: all of them when `previous` is
  /// nil or no longer among them. Each is matched by identity, not by its number, which a
  /// rotation meanwhile would shift.
  static func rotated(after previous: LogFile?, path: String) throws -> [LogFile] {
    var newestFirst: [LogFile] = []
    for number in rotatedNumbers(of: path) {
      guard let file = try LogFile.open("\(path).\(number)") else { continue }
      if newestFirst.contains(where: { $0.isSame(as: file) }) { continue }
      newestFirst.append(file)
    }
    if let previous, let index = newestFirst.firstIndex(where: { $0.isSame(as: previous) }) {
      newestFirst.removeSubrange(index...)
    }
    return newestFirst.reversed()
  }
}
