import BerthArchive
import BerthOS

#if canImport(Glibc)
import Glibc
#endif

/// One file of a copy, described as a tar member would be. Paths are byte components below
/// the copy's top (`[]` is the top itself), so that names need not be UTF-8 when no tar
/// stream is involved.
struct CopyEntry {
  var path: [[UInt8]]
  var kind: TarEntry.Kind
  /// Permission bits with setuid, setgid and sticky.
  var mode: UInt32
  var uid: UInt32
  var gid: UInt32
  var mtime: Int64
  var mtimeNanoseconds: Int32 = 0
  /// A regular file's length.
  var size: Int64 = 0
  /// A symlink's target; for a hard link, the path (below the top) of the file it links to.
  var linkTarget: [UInt8]?
  var deviceMajor: UInt32 = 0
  var deviceMinor: UInt32 = 0
  var xattrs: [String: [UInt8]] = [:]
}

/// Where a regular file's bytes come from.
enum CopyContent {
  /// An open file, read from its current offset to its end.
  case file(Int32)
  /// The current member of a tar stream.
  case tar(TarReader)
}

/// Receives a copy's entries in order, parents before children.
protocol CopySink: AnyObject {
  func add(_ entry: CopyEntry, content: CopyContent?) throws
  func finish() throws
}

/// Writes the entries as a tar stream (what `berth cp CONTAINER:PATH -` prints), each path
/// under `prefix` (the copied item's name, or "." for a directory's contents).
final class TarCopySink: CopySink {
  private let writer: TarWriter
  private let prefix: String

  init(fileDescriptor fd: Int32, prefix: String) throws {
    writer = try TarWriter(fileDescriptor: fd)
    self.prefix = prefix
  }

  func add(_ entry: CopyEntry, content: CopyContent?) throws {
    var member = TarEntry(
      path: name(entry.path), kind: entry.kind, size: entry.kind == .regular ? entry.size : 0, mode: entry.mode,
      uid: entry.uid, gid: entry.gid, mtime: entry.mtime, mtimeNanoseconds: entry.mtimeNanoseconds,
      deviceMajor: entry.deviceMajor, deviceMinor: entry.deviceMinor, xattrs: entry.xattrs)
    switch entry.kind {
    case .symlink: member.linkTarget = entry.linkTarget.map { String(decoding: $0, as: UTF8.self) }
    case .hardlink:
      member.linkTarget = name((entry.linkTarget ?? []).split(separator: UInt8(ascii: "/")).map(Array.init))
    default: break
    }
    if entry.kind == .regular, entry.size > 0, case .file(let fd) = content {
      try writer.add(member, contentsOf: fd)
    } else {
      member.size = 0
      try writer.add(member)
    }
  }

  func finish() throws { _ = try writer.finish() }

  private func name(_ path: [[UInt8]]) -> String {
    ([prefix] + path.map { String(decoding: $0, as: UTF8.self) }).joined(separator: "/")
  }
}

/// Feeds the members of a tar stream (`berth cp - CONTAINER:DIR`) to a sink. Member names
/// are taken as paths below the top: leading "/" and "." are dropped, and ".." never climbs
/// above the top (the sink resolves everything inside its tree anyway).
enum TarCopySource {
  static func copy(from fd: Int32, into sink: CopySink) throws -> Int64 {
    let reader = try TarReader(fileDescriptor: fd, name: "the tar stream")
    var bytes: Int64 = 0
    while let member = try reader.next() {
      var entry = CopyEntry(
        path: clean(member.path), kind: member.kind, mode: member.mode, uid: member.uid, gid: member.gid,
        mtime: member.mtime, mtimeNanoseconds: member.mtimeNanoseconds, size: member.size,
        deviceMajor: member.deviceMajor, deviceMinor: member.deviceMinor, xattrs: member.xattrs)
      switch member.kind {
      case .symlink: entry.linkTarget = member.linkTarget.map { Array($0.utf8) }
      case .hardlink:
        entry.linkTarget = Array(clean(member.linkTarget ?? "").joined(separator: [UInt8(ascii: "/")]))
      default: break
      }
      try sink.add(entry, content: member.kind == .regular ? .tar(reader) : nil)
      bytes += member.kind == .regular ? member.size : 0
    }
    try sink.finish()
    return bytes
  }

  static func clean(_ path: String) -> [[UInt8]] {
    var result: [[UInt8]] = []
    for part in Array(path.utf8).split(separator: UInt8(ascii: "/")) {
      if part.elementsEqual([UInt8(ascii: ".")]) { continue }
      if part.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
        if !result.isEmpty { result.removeLast() }
        continue
      }
      result.append(Array(part))
    }
    return result
  }
}
