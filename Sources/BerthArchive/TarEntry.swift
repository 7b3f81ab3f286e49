import CArchive

/// One member of a tar stream: what `TarReader` yields and what `TarWriter` writes.
public struct TarEntry: Sendable, Equatable {
  public enum Kind: String, Sendable, CaseIterable {
    case regular, directory, symlink, hardlink, characterDevice, blockDevice, fifo
  }

  /// The member name, relative ("etc/passwd", "blobs/sha256/…"); directories may end in "/".
  /// Names that are not valid UTF-8 are read with U+FFFD in place of the bad bytes.
  public var path: String
  public var kind: Kind
  /// Content length of a regular file (0 for every other kind).
  public var size: Int64
  /// Permission bits, with setuid (0o4000), setgid (0o2000) and sticky (0o1000).
  public var mode: UInt32
  public var uid: UInt32
  public var gid: UInt32
  /// Modification time: seconds since the epoch, and nanoseconds (pax headers keep them).
  public var mtime: Int64
  public var mtimeNanoseconds: Int32
  /// A symlink's target, or the member a hard link names.
  public var linkTarget: String?
  public var deviceMajor: UInt32
  public var deviceMinor: UInt32
  /// Extended attributes (pax SCHILY.xattr.*).
  public var xattrs: [String: [UInt8]]

  public init(
    path: String, kind: Kind, size: Int64 = 0, mode: UInt32? = nil, uid: UInt32 = 0, gid: UInt32 = 0,
    mtime: Int64 = 0, mtimeNanoseconds: Int32 = 0, linkTarget: String? = nil,
    deviceMajor: UInt32 = 0, deviceMinor: UInt32 = 0, xattrs: [String: [UInt8]] = [:]
  ) {
    self.path = path
    self.kind = kind
    self.size = size
    self.mode = mode ?? (kind == .directory ? 0o755 : kind == .symlink ? 0o777 : 0o644)
    self.uid = uid
    self.gid = gid
    self.mtime = mtime
    self.mtimeNanoseconds = mtimeNanoseconds
    self.linkTarget = linkTarget
    self.deviceMajor = deviceMajor
    self.deviceMinor = deviceMinor
    self.xattrs = xattrs
  }

  /// A regular file of `size` bytes.
  public static func file(_ path: String, size: Int64, mode: UInt32 = 0o644, mtime: Int64 = 0) -> TarEntry {
    TarEntry(path: path, kind: .regular, size: size, mode: mode, mtime: mtime)
  }

  public static func directory(_ path: String, mode: UInt32 = 0o755, mtime: Int64 = 0) -> TarEntry {
    TarEntry(path: path, kind: .directory, mode: mode, mtime: mtime)
  }

  public static func symlink(_ path: String, target: String, mtime: Int64 = 0) -> TarEntry {
    TarEntry(path: path, kind: .symlink, mtime: mtime, linkTarget: target)
  }

  public static func hardlink(_ path: String, target: String) -> TarEntry {
    TarEntry(path: path, kind: .hardlink, linkTarget: target)
  }
}

extension TarEntry.Kind {
  /// The libarchive file type (AE_IF*); a hard link is a regular file with a link name.
  var fileType: mode_t {
    switch self {
    case .regular, .hardlink: return FileTypeBits.regular
    case .directory: return FileTypeBits.directory
    case .symlink: return FileTypeBits.symlink
    case .characterDevice: return FileTypeBits.characterDevice
    case .blockDevice: return FileTypeBits.blockDevice
    case .fifo: return FileTypeBits.fifo
    }
  }
}
