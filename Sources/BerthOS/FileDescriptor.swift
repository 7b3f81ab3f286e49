#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// A file descriptor that closes itself: it cannot be copied, only moved or borrowed.
public struct OwnedFD: ~Copyable {
  public let raw: Int32

  public init(_ raw: Int32) { self.raw = raw }

  /// Gives up ownership: the caller closes the descriptor.
  public consuming func release() -> Int32 {
    let value = raw
    discard self
    return value
  }

  deinit { if raw >= 0 { close(raw) } }
}

extension OwnedFD {
  /// open(2) relative to `dir` (AT_FDCWD for the working directory), close-on-exec.
  public static func open(
    _ path: String, _ flags: Int32, mode: mode_t = 0o644, at dir: Int32 = AT_FDCWD
  ) throws -> OwnedFD {
    let fd = try check("open \(path)") { openat(dir, path, flags | O_CLOEXEC, mode) }
    return OwnedFD(fd)
  }

  /// Reads everything to end of file.
  public func readAll() throws -> [UInt8] {
    try readAllBytes(raw)
  }

  /// Writes every byte, retrying short writes.
  public func writeAll(_ bytes: some Collection<UInt8>) throws {
    try writeAllBytes(raw, bytes)
  }
}

/// Reads a descriptor to its end.
public func readAllBytes(_ fd: Int32) throws -> [UInt8] {
  var result: [UInt8] = []
  var statBuf = stat()
  // Regular files report their size: read them in one call. Pipes and procfs report 0.
  var chunk = 4096
  if fstat(fd, &statBuf) == 0, statBuf.st_size > 0 { chunk = Int(statBuf.st_size) + 1 }
  var buffer = [UInt8](repeating: 0, count: chunk)
  while true {
    let n = buffer.withUnsafeMutableBytes { raw in retryOnInterrupt { read(fd, raw.baseAddress, raw.count) } }
    if n < 0 { throw BerthError.system("read") }
    if n == 0 { return result }
    result.append(contentsOf: buffer[0..<n])
  }
}

/// Writes every byte to a descriptor, retrying short writes.
public func writeAllBytes(_ fd: Int32, _ bytes: some Collection<UInt8>) throws {
  let array = Array(bytes)
  try array.withUnsafeBytes { raw in
    guard let base = raw.baseAddress else { return }
    var offset = 0
    while offset < raw.count {
      let n = retryOnInterrupt { write(fd, base + offset, raw.count - offset) }
      if n < 0 { throw BerthError.system("write") }
      offset += n
    }
  }
}

/// Writes a message to stderr (fd 2) directly: no stdio buffer, no shared mutable state.
public func writeToStandardError(_ text: String) {
  try? writeAllBytes(2, Array(text.utf8))
}
