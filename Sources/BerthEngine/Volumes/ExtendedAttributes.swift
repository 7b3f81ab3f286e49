import BerthOS
import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// Extended attribute calls on a descriptor, or on a path without following its last
/// component. Swift's Glibc module does not export <sys/xattr.h>, so these go through
/// syscall(2) with this architecture's numbers.
enum ExtendedAttributes {
  #if arch(x86_64)
  private static let (sysLsetxattr, sysFsetxattr, sysLgetxattr, sysFgetxattr, sysLlistxattr, sysFlistxattr) = (189, 190, 192, 193, 195, 196)
  #elseif arch(arm64) || arch(riscv64)
  private static let (sysLsetxattr, sysFsetxattr, sysLgetxattr, sysFgetxattr, sysLlistxattr, sysFlistxattr) = (6, 7, 9, 10, 12, 13)
  #else
  // Unknown here: the calls fail with ENOSYS rather than calling something else.
  private static let (sysLsetxattr, sysFsetxattr, sysLgetxattr, sysFgetxattr, sysLlistxattr, sysFlistxattr) = (-1, -1, -1, -1, -1, -1)
  #endif

  /// Where an attribute call applies: an open file, or a path whose last component is not
  /// followed (symlinks, device nodes: files that cannot be opened for reading safely).
  enum Target {
    case fd(Int32)
    /// NUL-terminated bytes: names need not be UTF-8.
    case path([CChar])
  }

  /// The attribute names (raw bytes, each without its NUL); empty when the file system has
  /// no extended attributes.
  static func names(_ target: Target) throws -> [[UInt8]] {
    let bytes = try readGrowing("list extended attributes") { buffer, size in
      switch target {
      case .fd(let fd): return berth_syscall6(sysFlistxattr, Int(fd), Int(bitPattern: buffer), size, 0, 0, 0)
      case .path(let path):
        return path.withUnsafeBufferPointer {
          berth_syscall6(sysLlistxattr, Int(bitPattern: $0.baseAddress), Int(bitPattern: buffer), size, 0, 0, 0)
        }
      }
    } ?? []
    return bytes.split(separator: 0).map { Array($0) }
  }

  /// One attribute's value; nil when it is not set (or went away since it was listed).
  static func value(_ target: Target, name: [UInt8]) throws -> [UInt8]? {
    let cName = name.map { CChar(bitPattern: $0) } + [0]
    do {
      return try readGrowing("read extended attribute \(String(decoding: name, as: UTF8.self))") { buffer, size in
        cName.withUnsafeBufferPointer { namePointer in
          let nameAddress = Int(bitPattern: namePointer.baseAddress)
          switch target {
          case .fd(let fd): return berth_syscall6(sysFgetxattr, Int(fd), nameAddress, Int(bitPattern: buffer), size, 0, 0)
          case .path(let path):
            return path.withUnsafeBufferPointer {
              berth_syscall6(sysLgetxattr, Int(bitPattern: $0.baseAddress), nameAddress, Int(bitPattern: buffer), size, 0, 0)
            }
          }
        }
      }
    } catch let error as BerthError where error.errno == ENODATA {
      return nil
    }
  }

  /// Sets one attribute: 0, or -1 with errno.
  static func set(_ target: Target, name: [UInt8], value: [UInt8]) -> Int {
    let cName = name.map { CChar(bitPattern: $0) } + [0]
    return cName.withUnsafeBufferPointer { namePointer in
      value.withUnsafeBytes { valuePointer in
        let nameAddress = Int(bitPattern: namePointer.baseAddress)
        let valueAddress = Int(bitPattern: valuePointer.baseAddress)
        switch target {
        case .fd(let fd): return berth_syscall6(sysFsetxattr, Int(fd), nameAddress, valueAddress, value.count, 0, 0)
        case .path(let path):
          return path.withUnsafeBufferPointer {
            berth_syscall6(sysLsetxattr, Int(bitPattern: $0.baseAddress), nameAddress, valueAddress, value.count, 0, 0)
          }
        }
      }
    }
  }

  /// Calls a get/list syscall with a buffer that grows on ERANGE; nil when the file system
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
