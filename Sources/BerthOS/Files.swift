#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// File system helpers over plain syscalls (no Foundation on the runtime's path).
public enum FS {
  /// The whole content of a file.
  public static func read(_ path: String) throws -> [UInt8] {
    let fd = try OwnedFD.open(path, O_RDONLY)
    do { return try fd.readAll() } catch let error as BerthError { throw error.prefixed(path) }
  }

  /// The content of a text file; `trimmingNewline` drops one trailing "\n" (sysfs, procfs).
  public static func readText(_ path: String, trimmingNewline: Bool = false) throws -> String {
    var bytes = try read(path)
    if trimmingNewline, bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Writes `bytes` to `path`, creating or truncating it.
  public static func write(_ path: String, _ bytes: some Collection<UInt8>, mode: mode_t = 0o644) throws {
    let fd = try OwnedFD.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
    do { try fd.writeAll(bytes) } catch let error as BerthError { throw error.prefixed(path) }
  }

  public static func write(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
    try write(path, Array(text.utf8), mode: mode)
  }

  /// Writes an existing file (cgroup, procfs, sysfs knobs) without O_CREAT or O_TRUNC; one
  /// write(2) call, since the kernel parses each write as one value.
  public static func writeExisting(_ path: String, _ text: String) throws {
    let fd = try OwnedFD.open(path, O_WRONLY)
    let bytes = Array(text.utf8)
    let n = bytes.withUnsafeBytes { raw in retryOnInterrupt { Glibc.write(fd.raw, raw.baseAddress, raw.count) } }
    if n < 0 { throw BerthError.system("write \(quoted(text)) to \(path)") }
  }

  /// Writes to a temporary file beside `path`, then renames it over `path`: readers see the
  /// old content or the new, never a part.
  public static func writeAtomically(_ path: String, _ bytes: some Collection<UInt8>, mode: mode_t = 0o644) throws {
    let temp = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    do {
      try write(temp, bytes, mode: mode)
      try check("rename \(temp) to \(path)") { rename(temp, path) }
    } catch {
      unlink(temp)
      throw error
    }
  }

  public static func exists(_ path: String) -> Bool {
    access(path, F_OK) == 0
  }

  /// lstat(2): nil when the path does not exist.
  public static func lstatIfPresent(_ path: String) throws -> stat? {
    var buf = stat()
    if lstat(path, &buf) == 0 { return buf }
    if errno == ENOENT || errno == ENOTDIR { return nil }
    throw BerthError.system("lstat \(path)")
  }

  public static func isDirectory(_ path: String) -> Bool {
    var buf = stat()
    return stat(path, &buf) == 0 && (buf.st_mode & S_IFMT) == S_IFDIR
  }

  /// mkdir -p: creates missing parents; an existing directory is fine.
  public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
    if mkdir(path, mode) == 0 || (errno == EEXIST && isDirectory(path)) { return }
    if errno != ENOENT { throw BerthError.system("mkdir \(path)") }
    let parent = Path.dirname(path)
    if parent != path { try makeDirectories(parent, mode: mode) }
    if mkdir(path, mode) != 0 && !(errno == EEXIST && isDirectory(path)) {
      throw BerthError.system("mkdir \(path)")
    }
  }

  /// The names in a directory, without "." and "..".
  public static func list(_ path: String) throws -> [String] {
    guard let dir = opendir(path) else { throw BerthError.system("open directory \(path)") }
    return readNames(dir)
  }

  /// The names in an open directory (the descriptor stays open and is not moved).
  public static func list(directoryFD fd: Int32) throws -> [String] {
    let copy = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard copy >= 0, let dir = fdopendir(copy) else { throw BerthError.system("read directory") }
    return readNames(dir)
  }

  /// Reads and closes a directory stream.
  private static func readNames(_ dir: OpaquePointer) -> [String] {
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafePointer(to: entry.pointee.d_name) {
        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names
  }

  /// rm -rf without following symlinks. Works on the names' bytes, so names that are not
  /// UTF-8 go too. A mount point inside fails with the error of its removal.
  public static func removeTree(_ path: String) throws {
    guard let info = try lstatIfPresent(path) else { return }
    if (info.st_mode & S_IFMT) != S_IFDIR {
      if unlink(path) != 0 && errno != ENOENT { throw BerthError.system("remove \(path)") }
      return
    }
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    if fd < 0 {
      if errno == ENOENT { return }
      throw BerthError.system("open \(path)")
    }
    try removeContents(of: fd, path: path)
    if rmdir(path) != 0 && errno != ENOENT { throw BerthError.system("remove \(path)") }
  }

  /// Removes everything in the directory `fd` (closed when done); `path` is for messages.
  private static func removeContents(of fd: Int32, path: String) throws {
    guard let dir = fdopendir(fd) else {
      close(fd)
      throw BerthError.system("read directory \(path)")
    }
    defer { closedir(dir) }
    let dirFD = dirfd(dir)
    while true {
      errno = 0
      guard let entry = readdir(dir) else {
        if errno != 0 { throw BerthError.system("read directory \(path)") }
        return
      }
      var name = entry.pointee.d_name
      let isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
      try withUnsafePointer(to: &name) { pointer in
        try pointer.withMemoryRebound(to: CChar.self, capacity: 256) { cName in
          if (cName[0] == 46 && cName[1] == 0) || (cName[0] == 46 && cName[1] == 46 && cName[2] == 0) { return }
          var directory = isDirectory
          if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
            var info = stat()
            directory = fstatat(dirFD, cName, &info, AT_SYMLINK_NOFOLLOW) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
          }
          if directory {
            let child = openat(dirFD, cName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if child < 0 { throw BerthError.system("open \(path)/\(String(cString: cName))") }
            try removeContents(of: child, path: path + "/" + String(cString: cName))
            if unlinkat(dirFD, cName, AT_REMOVEDIR) != 0 && errno != ENOENT {
              throw BerthError.system("remove \(path)/\(String(cString: cName))")
            }
          } else if unlinkat(dirFD, cName, 0) != 0 && errno != ENOENT {
            throw BerthError.system("remove \(path)/\(String(cString: cName))")
          }
        }
      }
    }
  }

  /// readlink(2) as a String.
  public static func readLink(_ path: String) throws -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink(path, &buffer, buffer.count - 1)
    if n < 0 { throw BerthError.system("readlink \(path)") }
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// realpath(3).
  public static func realPath(_ path: String) throws -> String {
    guard let resolved = realpath(path, nil) else { throw BerthError.system("resolve \(path)") }
    defer { free(resolved) }
    return String(cString: resolved)
  }
}

/// `"text"` with quotes, for messages.
public func quoted(_ text: String) -> String { "\"" + text + "\"" }
