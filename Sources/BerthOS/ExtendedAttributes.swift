import CLinux

#if canImport(Glibc)
  import Glibc
#endif

/// Extended attribute calls on a descriptor or a path. Swift's Glibc module does not export
/// <sys/xattr.h>: they go through CLinux.
public enum ExtendedAttributes {
  /// Where an attribute call applies.
  public enum Target {
    /// An open file.
    case fd(Int32)
    /// A path whose last component is not followed (symlinks, device nodes: files that
    /// cannot be opened for reading safely). NUL-terminated bytes: names need not be UTF-8.
    case path([CChar])
    /// A path whose last component is followed: /proc/self/fd/N of an O_PATH descriptor
    /// names the inode itself.
    case followedPath([CChar])

    /// Calls `body` with the C arguments of this target: a descriptor or -1, a path or NULL,
    /// whether to follow it.
    fileprivate func withArguments<R>(_ body: (Int32, UnsafePointer<CChar>?, Int32) -> R) -> R {
      switch self {
      case .fd(let fd): return body(fd, nil, 0)
      case .path(let path): return path.withUnsafeBufferPointer { body(-1, $0.baseAddress, 0) }
      case .followedPath(let path): return path.withUnsafeBufferPointer { body(-1, $0.baseAddress, 1) }
      }
    }
  }

  /// The attribute names (raw bytes, each without its NUL); empty when the file system has
  /// no extended attributes. `file` names the file in the error.
  public static func names(_ target: Target, of file: String? = nil) throws -> [[UInt8]] {
    let bytes = try readGrowing("list extended attributes" + (file.map { " of \($0)" } ?? "")) { buffer, size in
      target.withArguments { fd, path, follow in
        berth_listxattr(fd, path, follow, buffer?.assumingMemoryBound(to: CChar.self), size)
      }
    } ?? []
    return bytes.split(separator: 0).map { Array($0) }
  }

  /// One attribute's value; nil when it is not set (or went away since it was listed).
  public static func value(_ target: Target, name: [UInt8], of file: String? = nil) throws -> [UInt8]? {
    let cName = name.map { CChar(bitPattern: $0) } + [0]
    let what = "read extended attribute \(String(decoding: name, as: UTF8.self))" + (file.map { " of \($0)" } ?? "")
    do {
      return try readGrowing(what) { buffer, size in
        target.withArguments { fd, path, follow in berth_getxattr(fd, path, follow, cName, buffer, size) }
      }
    } catch let error as BerthError where error.errno == ENODATA {
      return nil
    }
  }

  /// Sets one attribute: 0, or -1 with errno.
  public static func set(_ target: Target, name: [UInt8], value: [UInt8]) -> Int32 {
    let cName = name.map { CChar(bitPattern: $0) } + [0]
    return value.withUnsafeBytes { bytes in
      target.withArguments { fd, path, follow in berth_setxattr(fd, path, follow, cName, bytes.baseAddress, bytes.count) }
    }
  }

  /// Calls a get/list function with a buffer that grows on ERANGE; nil when the file system
  /// has no extended attributes (EOPNOTSUPP).
  private static func readGrowing(_ what: String, _ call: (UnsafeMutableRawPointer?, Int) -> Int) throws -> [UInt8]? {
    var capacity = 1024
    while true {
      var buffer = [UInt8](repeating: 0, count: capacity)
      let n = buffer.withUnsafeMutableBytes { call($0.baseAddress, $0.count) }
      if n >= 0 { return Array(buffer[0..<n]) }
      if errno == EOPNOTSUPP { return nil }
      if errno != ERANGE || capacity >= 1 << 20 { throw BerthError.system(what) }
      capacity *= 4
    }
  }
}
