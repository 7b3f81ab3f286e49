import BerthOS
import CLinux

#if canImport(Glibc)
  import Glibc
#endif

/// Extended attribute calls. Swift's Glibc module does not export <sys/xattr.h>, so these go
/// through syscall(2) with this architecture's numbers.
enum Xattr {
  #if arch(x86_64)
    private static let sysSetxattr = 188
    private static let sysFsetxattr = 190
    private static let sysLgetxattr = 192
    private static let sysFgetxattr = 193
    private static let sysLlistxattr = 195
  #elseif arch(arm64) || arch(riscv64)
    private static let sysSetxattr = 5
    private static let sysFsetxattr = 7
    private static let sysLgetxattr = 9
    private static let sysFgetxattr = 10
    private static let sysLlistxattr = 12
  #else
    // Unknown here: the calls fail with ENOSYS rather than calling something else.
    private static let sysSetxattr = -1
    private static let sysFsetxattr = -1
    private static let sysLgetxattr = -1
    private static let sysFgetxattr = -1
    private static let sysLlistxattr = -1
  #endif

  /// fsetxattr(2): 0, or -1 with errno.
  static func set(fd: Int32, _ name: UnsafePointer<CChar>, _ value: UnsafeRawPointer?, _ size: Int) -> Int32 {
    Int32(truncatingIfNeeded: berth_syscall6(
      sysFsetxattr, Int(fd), Int(bitPattern: name), Int(bitPattern: value), size, 0, 0))
  }

  /// setxattr(2) (follows symlinks): 0, or -1 with errno.
  static func set(path: UnsafePointer<CChar>, _ name: UnsafePointer<CChar>, _ value: UnsafeRawPointer?, _ size: Int) -> Int32 {
    Int32(truncatingIfNeeded: berth_syscall6(
      sysSetxattr, Int(bitPattern: path), Int(bitPattern: name), Int(bitPattern: value), size, 0, 0))
  }

  /// The names of a file's extended attributes, without following a symlink at `path`.
  static func names(path: String) throws -> [String] {
    let bytes = try readGrowing("list extended attributes of \(path)") { buffer, size in
      path.withCString { berth_syscall6(sysLlistxattr, Int(bitPattern: $0), Int(bitPattern: buffer), size, 0, 0, 0) }
    } ?? []
    return bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
  }

  /// One attribute's value, without following a symlink at `path`; nil when it is not set.
  static func value(path: String, name: String) throws -> [UInt8]? {
    do {
      return try readGrowing("read extended attribute \(name) of \(path)") { buffer, size in
        path.withCString { cPath in
          name.withCString { berth_syscall6(sysLgetxattr, Int(bitPattern: cPath), Int(bitPattern: $0), Int(bitPattern: buffer), size, 0, 0) }
        }
      }
    } catch let error as BerthError where error.errno == ENODATA {
      return nil
    }
  }

  /// One attribute's value through a descriptor; nil when it is not set.
  static func value(fd: Int32, name: String) throws -> [UInt8]? {
    do {
      return try readGrowing("read extended attribute \(name)") { buffer, size in
        name.withCString { berth_syscall6(sysFgetxattr, Int(fd), Int(bitPattern: $0), Int(bitPattern: buffer), size, 0, 0) }
      }
    } catch let error as BerthError where error.errno == ENODATA {
      return nil
    }
  }

  /// Calls a get/list syscall with a buffer that grows on ERANGE; nil when the file system
  /// has no extended attributes (EOPNOTSUPP).
  private static func readGrowing(_ what: String, _ call: (UnsafeMutableRawPointer?, Int) -> Int) throws -> [UInt8]? {
    var capacity = 256
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
