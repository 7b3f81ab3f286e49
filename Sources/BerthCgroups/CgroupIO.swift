#if canImport(Glibc)
import Glibc
#endif
import BerthOS

/// Reads and writes of cgroup interface files with as few system calls as possible: a write is
/// open + one write(2) + close; a read is open + read(2) until a short read + close.
///
/// cgroup files are seq_files: a read fills the caller's buffer with whole records until the
/// buffer is full or the file ends, so a short read means the end of the file.
enum CgroupIO {
  /// Writes `value` with a single write(2) (the kernel parses each write as one value).
  /// Returns 0, or the errno of the failed open or write.
  static func tryWrite(_ path: String, _ value: String) -> Int32 {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    if fd < 0 { return errno }
    defer { close(fd) }
    var text = value
    let n = text.withUTF8 { bytes in retryOnInterrupt { Glibc.write(fd, bytes.baseAddress, bytes.count) } }
    return n < 0 ? errno : 0
  }

  /// Writes `value`; the error names the value, the file and the cause:
  /// `write "max" to /sys/fs/cgroup/memory/x/memory.limit_in_bytes: Invalid argument`.
  static func write(_ path: String, _ value: String) throws {
    let error = tryWrite(path, value)
    if error != 0 { throw writeError(path, value, error) }
  }

  static func writeError(_ path: String, _ value: String, _ error: Int32) -> BerthError {
    BerthError.system("write \(quoted(value)) to \(path)", errno: error)
  }

  /// The file's content, or nil with the errno when it cannot be read.
  static func tryRead(_ path: String) -> (text: String?, errno: Int32) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { return (nil, errno) }
    defer { close(fd) }
    var result: [UInt8] = []
    let failed: Int32 = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 8192) { buffer in
      while true {
        let n = retryOnInterrupt { Glibc.read(fd, buffer.baseAddress, buffer.count) }
        if n < 0 { return errno }
        result.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[0..<n]))
        if n < buffer.count { return 0 }
      }
    }
    if failed != 0 { return (nil, failed) }
    return (String(decoding: result, as: UTF8.self), 0)
  }

  /// The file's content; the error names the file.
  static func read(_ path: String) throws -> String {
    let (text, error) = tryRead(path)
    guard let text else { throw BerthError.system("read \(path)", errno: error) }
    return text
  }

  /// The file's content without surrounding white space; nil when the file does not exist.
  static func readTrimmedIfPresent(_ path: String) throws -> String? {
    let (text, error) = tryRead(path)
    if let text { return trimmed(text) }
    if error == ENOENT { return nil }
    throw BerthError.system("read \(path)", errno: error)
  }

  /// A number file ("12345" or "max", which gives `max`); nil when the file does not exist.
  static func readUInt64IfPresent(_ path: String, max: UInt64 = UInt64.max) throws -> UInt64? {
    guard let text = try readTrimmedIfPresent(path) else { return nil }
    if text == "max" { return max }
    guard let value = UInt64(text) else {
      throw BerthError(.system, "read \(path): \(quoted(text)) is not a number")
    }
    return value
  }

  /// Parses "key value" lines (memory.stat, cpu.stat, memory.events, ...).
  static func parseFlatKeyed(_ text: String) -> [String: UInt64] {
    var result: [String: UInt64] = [:]
    for line in text.split(separator: "\n") {
      let parts = line.split(separator: " ", maxSplits: 1)
      guard parts.count == 2, let value = UInt64(parts[1].filter { $0 != " " }) else { continue }
      result[String(parts[0])] = value
    }
    return result
  }

  /// The pids in a cgroup.procs file.
  static func parsePids(_ text: String) -> [Int32] {
    text.split(separator: "\n").compactMap { Int32($0) }
  }

  static func trimmed(_ text: String) -> String {
    var slice = Substring(text)
    while let last = slice.last, last == "\n" || last == " " || last == "\t" { slice.removeLast() }
    while let first = slice.first, first == "\n" || first == " " || first == "\t" { slice.removeFirst() }
    return String(slice)
  }

  /// mkdir(2): 0 when created, else the errno.
  static func makeDirectory(_ path: String) -> Int32 {
    mkdir(path, 0o755) == 0 ? 0 : errno
  }

  /// The names of the subdirectories of `path` (child cgroups); empty when it does not exist.
  static func subdirectories(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
      let name = withUnsafePointer(to: entry.pointee.d_name) {
        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names
  }
}
