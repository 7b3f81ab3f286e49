import BerthArchive
import BerthOS
import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// Reads a file or directory tree of a ``ContainerTree`` as copy entries, parents first and
/// names in byte order. Nothing is followed: each name is opened relative to its directory's
/// descriptor with O_NOFOLLOW, so the tree cannot send the copy elsewhere while it runs. A
/// directory that is a mount's destination in a stopped container is read from the mount's
/// host directory instead.
final class TreeReader {
  private let tree: ContainerTree
  private let sink: CopySink
  /// Files with more than one link: the path of the first copy of each, for hard links.
  private var firstPaths: [FileKey: [[UInt8]]] = [:]
  /// Bytes of file content handed to the sink.
  private(set) var bytes: Int64 = 0

  private struct FileKey: Hashable {
    var device: UInt64
    var inode: UInt64
  }

  init(tree: ContainerTree, sink: CopySink) {
    self.tree = tree
    self.sink = sink
  }

  /// Hands `location` (and everything below it) to the sink, then finishes the sink.
  func copy(_ location: ContainerTree.Location) throws {
    try visit(parent: location.parent, name: location.name, entry: location.entry, components: location.components, relative: [])
    try sink.finish()
  }

  /// One entry: `entry` is its O_PATH descriptor when already open (the top, a mount point).
  private func visit(parent: Descriptor, name: [UInt8], entry: Descriptor?, components: [[UInt8]], relative: [[UInt8]]) throws {
    let what = ContainerTree.display(components)
    var info = stat()
    if let entry {
      info = try entry.stat()
    } else if withCName(name, { fstatat(parent.raw, $0, &info, AT_SYMLINK_NOFOLLOW) }) != 0 {
      if errno == ENOENT { return }  // removed while we walk
      throw BerthError.system("stat \(what)")
    }
    let type = info.st_mode & S_IFMT
    var record = CopyEntry(
      path: relative, kind: .regular, mode: UInt32(info.st_mode & 0o7777), uid: info.st_uid, gid: info.st_gid,
      mtime: Int64(info.st_mtim.tv_sec), mtimeNanoseconds: Int32(info.st_mtim.tv_nsec))
    let key = FileKey(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    if type != S_IFDIR && info.st_nlink > 1 {
      if let first = firstPaths[key] {
        record.kind = .hardlink
        record.linkTarget = Array(first.joined(separator: [UInt8(ascii: "/")]))
        try sink.add(record, content: nil)
        return
      }
      firstPaths[key] = relative
    }
    switch type {
    case S_IFDIR:
      let directory = try openForReading(entry, parent: parent, name: name, O_RDONLY | O_DIRECTORY, what: what)
      record.kind = .directory
      record.xattrs = try attributes(.fd(directory.raw), what: what)
      try sink.add(record, content: nil)
      // A running container's /proc and /sys are the kernel's, not its files: Docker copies
      // them as the empty directories its image has.
      if Self.isKernelFileSystem(directory.raw) { return }
      let names = try TreeCopy.names(in: directory.raw, what: what)
        .map { $0.dropLast().map { UInt8(bitPattern: $0) } }
        .sorted { $0.lexicographicallyPrecedes($1) }
      for child in names {
        let childComponents = components + [child]
        var childEntry: Descriptor?
        if let mount = tree.mounts[childComponents] {
          let fd = Glibc.open(mount.hostPath, BERTH_O_PATH | O_CLOEXEC)
          if fd < 0 { throw BerthError.system("open \(mount.hostPath), mounted at \(ContainerTree.display(childComponents))") }
          childEntry = Descriptor(fd)
        }
        try visit(parent: directory, name: child, entry: childEntry, components: childComponents, relative: relative + [child])
      }
    case S_IFREG:
      // O_NONBLOCK: should a FIFO have taken the file's place, opening it must not hang.
      let file = try openForReading(entry, parent: parent, name: name, O_RDONLY | O_NONBLOCK, what: what)
      let opened = try file.stat()
      guard opened.st_mode & S_IFMT == S_IFREG, opened.st_ino == info.st_ino, opened.st_dev == info.st_dev else {
        throw BerthError(.invalidState, "\(what) changed while it was copied")
      }
      record.size = Int64(opened.st_size)
      record.xattrs = try attributes(.fd(file.raw), what: what)
      try sink.add(record, content: .file(file.raw))
      bytes += record.size
    case S_IFLNK:
      record.kind = .symlink
      record.linkTarget = try ContainerTree.readLink(name, in: parent.raw, what: what)
      try sink.add(record, content: nil)
    case S_IFCHR, S_IFBLK:
      record.kind = type == S_IFCHR ? .characterDevice : .blockDevice
      record.deviceMajor = UInt32(truncatingIfNeeded: berth_major(info.st_rdev))
      record.deviceMinor = UInt32(truncatingIfNeeded: berth_minor(info.st_rdev))
      try sink.add(record, content: nil)
    case S_IFIFO:
      record.kind = .fifo
      try sink.add(record, content: nil)
    default:
      break  // sockets: tar has no place for them, and docker cp skips them too
    }
  }

  /// Opens an entry for reading: through its O_PATH descriptor when there is one (the magic
  /// link names exactly that file), else by name in its directory, not followed.
  private func openForReading(_ entry: Descriptor?, parent: Descriptor, name: [UInt8], _ flags: Int32, what: String) throws -> Descriptor {
    let result: Result<Descriptor, OpenFailure>
    if let entry {
      let fd = Glibc.open("/proc/self/fd/\(entry.raw)", flags | O_CLOEXEC)
      result = fd >= 0 ? .success(Descriptor(fd)) : .failure(OpenFailure(errno: errno))
    } else {
      result = Descriptor.open(name, in: parent.raw, flags | O_NOFOLLOW)
    }
    switch result {
    case .success(let descriptor): return descriptor
    case .failure(let error): throw BerthError.system("open \(what)", errno: error.errno)
    }
  }

  /// Whether a directory is on a file system of the kernel's own (proc, sysfs, cgroup,
  /// debugfs, securityfs, …), by fstatfs(2)'s f_type.
  static func isKernelFileSystem(_ fd: Int32) -> Bool {
    var type: UInt64 = 0
    guard berth_fstatfs_type(fd, &type) == 0 else { return false }
    let kernelTypes: Set<UInt64> = [
      0x9fa0,  // proc
      0x6265_6572,  // sysfs
      0x0027_e0eb,  // cgroup
      0x6367_7270,  // cgroup2
      0x6462_6720,  // debugfs
      0x7363_6673,  // securityfs
      0x7472_6163,  // tracefs
      0xcafe_4a11,  // bpf
      0x1980_0202,  // mqueue
      0x1cd1,  // devpts
      0x6165_676c,  // pstore
      0x4249_4e4d,  // binfmt_misc
    ]
    return kernelTypes.contains(type)
  }

  /// The extended attributes worth copying (not overlayfs' own).
  private func attributes(_ target: ExtendedAttributes.Target, what: String) throws -> [String: [UInt8]] {
    var result: [String: [UInt8]] = [:]
    for name in try ExtendedAttributes.names(target) {
      if TreeCopy.skippedAttributePrefixes.contains(where: { name.starts(with: $0) }) { continue }
      if name.starts(with: Array("security.selinux".utf8)) { continue }
      if let value = try ExtendedAttributes.value(target, name: name) {
        result[String(decoding: name, as: UTF8.self)] = value
      }
    }
    return result
  }
}
