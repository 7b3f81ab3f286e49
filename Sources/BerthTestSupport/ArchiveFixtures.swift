import BerthOS
import CLinux
import Crypto

#if canImport(Glibc)
  import Glibc
#endif

/// Helpers for tests that build and unpack tar archives: scratch directories, external tools
/// (GNU tar, python3's tarfile for archives our writer refuses to make), digests of files.
public enum ArchiveFixtures {
  /// True when the tests run as root (owners, devices and trusted.* xattrs need it).
  public static var isRoot: Bool { geteuid() == 0 }

  /// A new empty directory under /tmp; remove it with `FS.removeTree`.
  public static func makeTemporaryDirectory(_ label: String = "archive") throws -> String {
    guard let made = mkdtemp(strdup("/tmp/berth-\(label)-XXXXXX")) else { throw BerthError.system("mkdtemp") }
    defer { free(made) }
    return String(cString: made)
  }

  /// Runs `body` with a fresh directory, removed afterwards.
  public static func withTemporaryDirectory<R>(_ label: String = "archive", _ body: (String) throws -> R) throws -> R {
    let directory = try makeTemporaryDirectory(label)
    defer { try? FS.removeTree(directory) }
    return try body(directory)
  }

  /// The async variant of `withTemporaryDirectory`.
  public static func withTemporaryDirectory<R>(_ label: String = "archive", _ body: (String) async throws -> R) async throws -> R {
    let directory = try makeTemporaryDirectory(label)
    defer { try? FS.removeTree(directory) }
    return try await body(directory)
  }

  /// Runs a program (absolute path) and returns its standard output; throws with its
  /// standard error when it fails.
  @discardableResult
  public static func run(_ path: String, _ args: [String], input: [UInt8] = []) throws -> [UInt8] {
    let result = try Subprocess.run(
      path, args: [path] + args, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8"], input: input)
    guard result.status == .exited(0) else {
      throw BerthError(
        .commandFailed,
        "\(path) \(args.joined(separator: " ")): \(result.status): \(String(decoding: result.error, as: UTF8.self))")
    }
    return result.output
  }

  /// Runs a python3 script (Debian's /usr/bin/python3) with `args` in `sys.argv[1:]`.
  @discardableResult
  public static func python(_ script: String, _ args: [String] = []) throws -> [UInt8] {
    try run("/usr/bin/python3", ["-c", script] + args)
  }

  /// Writes a tar with python3's tarfile, which writes what a hostile layer holds (names with
  /// "..", absolute names, links anywhere). `members` is a Python list literal of tuples:
  /// `(name, type, data_or_linkname)` with type "file", "dir", "symlink" or "hardlink".
  public static func pythonTar(_ path: String, members: String, format: String = "PAX_FORMAT") throws {
    let script = """
      import io, sys, tarfile
      with tarfile.open(sys.argv[1], "w", format=tarfile.\(format)) as tar:
          for name, kind, data in \(members):
              info = tarfile.TarInfo(name)
              info.mtime = 1700000000
              if kind == "file":
                  info.size = len(data)
                  tar.addfile(info, io.BytesIO(data))
              elif kind == "dir":
                  info.type = tarfile.DIRTYPE
                  info.mode = 0o755
                  tar.addfile(info)
              elif kind == "symlink":
                  info.type = tarfile.SYMTYPE
                  info.linkname = data
                  tar.addfile(info)
              elif kind == "hardlink":
                  info.type = tarfile.LNKTYPE
                  info.linkname = data
                  tar.addfile(info)
      """
    try python(script, [path])
  }

  /// SHA-256 of a file's content as 64 hex digits.
  public static func sha256Hex(file path: String) throws -> String {
    sha256Hex(try FS.read(path))
  }

  /// SHA-256 of bytes as 64 hex digits.
  public static func sha256Hex(_ bytes: [UInt8]) -> String {
    SHA256.hash(data: bytes).map { byte in
      let digits = Array("0123456789abcdef")
      return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
    }.joined()
  }

  /// lstat(2) that throws.
  public static func lstatOrThrow(_ path: String) throws -> stat {
    var info = stat()
    try check("lstat \(path)") { lstat(path, &info) }
    return info
  }

  /// Every path under `directory` (relative, sorted), for "nothing else appeared" checks.
  public static func listTree(_ directory: String) throws -> [String] {
    var result: [String] = []
    func walk(_ relative: String) throws {
      let full = relative.isEmpty ? directory : directory + "/" + relative
      for name in try FS.list(full).sorted() {
        let child = relative.isEmpty ? name : relative + "/" + name
        result.append(child)
        let info = try lstatOrThrow(directory + "/" + child)
        if info.st_mode & S_IFMT == S_IFDIR { try walk(child) }
      }
    }
    try walk("")
    return result
  }

  // MARK: extended attributes (Swift's Glibc module lacks <sys/xattr.h>)

  #if arch(x86_64)
    private static let sysLsetxattr = 189, sysLgetxattr = 192, sysLlistxattr = 195
  #elseif arch(arm64) || arch(riscv64)
    private static let sysLsetxattr = 6, sysLgetxattr = 9, sysLlistxattr = 12
  #else
    private static let sysLsetxattr = -1, sysLgetxattr = -1, sysLlistxattr = -1
  #endif

  /// lgetxattr(2): the value, or nil when the attribute is not set.
  public static func xattr(_ path: String, _ name: String) throws -> [UInt8]? {
    var buffer = [UInt8](repeating: 0, count: 65536)
    let n = path.withCString { cPath in
      name.withCString { cName in
        buffer.withUnsafeMutableBytes {
          berth_syscall6(sysLgetxattr, Int(bitPattern: cPath), Int(bitPattern: cName), Int(bitPattern: $0.baseAddress), $0.count, 0, 0)
        }
      }
    }
    if n < 0 {
      if errno == ENODATA { return nil }
      throw BerthError.system("lgetxattr \(name) of \(path)")
    }
    return Array(buffer[0..<n])
  }

  /// llistxattr(2).
  public static func xattrNames(_ path: String) throws -> [String] {
    var buffer = [UInt8](repeating: 0, count: 65536)
    let n = path.withCString { cPath in
      buffer.withUnsafeMutableBytes {
        berth_syscall6(sysLlistxattr, Int(bitPattern: cPath), Int(bitPattern: $0.baseAddress), $0.count, 0, 0, 0)
      }
    }
    if n < 0 { throw BerthError.system("llistxattr \(path)") }
    return buffer[0..<n].split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.sorted()
  }

  /// lsetxattr(2).
  public static func setXattr(_ path: String, _ name: String, _ value: [UInt8]) throws {
    let rc = path.withCString { cPath in
      name.withCString { cName in
        value.withUnsafeBytes {
          berth_syscall6(sysLsetxattr, Int(bitPattern: cPath), Int(bitPattern: cName), Int(bitPattern: $0.baseAddress), $0.count, 0, 0)
        }
      }
    }
    if rc < 0 { throw BerthError.system("lsetxattr \(name) on \(path)") }
  }

  // MARK: comparing trees

  /// What a file looks like on disk, for comparing an unpacked tree with its source.
  public struct FileRecord: Equatable, Sendable, CustomStringConvertible {
    public var type: UInt32
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var mtime: Int
    public var size: Int64
    public var rdev: UInt64
    public var link: String?
    public var contentSHA256: String?
    public var xattrs: [String: [UInt8]]

    public var description: String {
      "type=\(String(type, radix: 8)) mode=\(String(mode, radix: 8)) \(uid):\(gid) mtime=\(mtime) size=\(size) rdev=\(rdev) link=\(link ?? "-") sha=\(contentSHA256?.prefix(12) ?? "-") xattrs=\(xattrs.keys.sorted())"
    }
  }

  /// Every file under `directory` by relative path: type, mode, owner, mtime (whole seconds),
  /// size, device number, link target, content digest and extended attributes (without
  /// `security.selinux`). Directory sizes and times are left out when `directoryTimes` is false
  /// (creating files changes them).
  public static func snapshot(_ directory: String, directoryTimes: Bool = true) throws -> [String: FileRecord] {
    var result: [String: FileRecord] = [:]
    for path in try listTree(directory) {
      let full = directory + "/" + path
      let info = try lstatOrThrow(full)
      let type = UInt32(info.st_mode & S_IFMT)
      var xattrs: [String: [UInt8]] = [:]
      for name in try xattrNames(full) where name != "security.selinux" {
        xattrs[name] = try xattr(full, name)
      }
      let isDirectory = type == UInt32(S_IFDIR)
      result[path] = FileRecord(
        type: type, mode: UInt32(info.st_mode & 0o7777), uid: info.st_uid, gid: info.st_gid,
        mtime: isDirectory && !directoryTimes ? 0 : info.st_mtim.tv_sec,
        size: isDirectory ? 0 : Int64(info.st_size), rdev: UInt64(info.st_rdev),
        link: type == UInt32(S_IFLNK) ? try FS.readLink(full) : nil,
        contentSHA256: type == UInt32(S_IFREG) ? try sha256Hex(file: full) : nil,
        xattrs: xattrs)
    }
    return result
  }
}
