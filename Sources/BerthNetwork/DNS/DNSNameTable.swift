#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import Synchronization

/// The records file, read again whenever its inode, size or mtime change: checking costs one
/// stat(2) per query, and containers that come and go need no restart of the server.
///
/// File times have the kernel's coarse clock granularity (a few ms), and a freed inode number
/// can come back: two rewrites of the same size in one tick could look unchanged. So a file
/// changed in the last 2 seconds is read again on each query and compared byte for byte
/// (git's "racy" check); an old one is trusted.
final class DNSNameTable: Sendable {
  struct Snapshot: Sendable {
    /// Lowercased name → addresses, in registration order without repeats.
    var addresses: [String: [String]] = [:]
    /// Address → the first name of the container that has it (for PTR queries).
    var names: [String: String] = [:]
    /// Address → the IDs of the containers that have it (to find who asks).
    var containers: [String: [String]] = [:]
    var containerIDs: Set<String> = []
    /// Address → the upstreams of the container that has it, when it has its own (`--dns`).
    var upstreams: [String: [DNSUpstream]] = [:]
    var recordCount = 0
  }

  private struct FileKey: Equatable {
    var inode: UInt64
    var size: Int64
    var seconds: Int
    var nanoseconds: Int
  }

  private struct State {
    var key: FileKey?
    var bytes: [UInt8] = []
    var snapshot = Snapshot()
  }

  let path: String
  private let state = Mutex(State())

  init(path: String) {
    self.path = path
  }

  /// The current names; none when the file is missing or unreadable.
  func current() -> Snapshot {
    var buffer = stat()
    let key: FileKey? = stat(path, &buffer) == 0
      ? FileKey(inode: UInt64(buffer.st_ino), size: Int64(buffer.st_size), seconds: buffer.st_mtim.tv_sec, nanoseconds: buffer.st_mtim.tv_nsec)
      : nil
    guard let key else {
      state.withLock { $0 = State() }
      return Snapshot()
    }
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    let settled = now.tv_sec - key.seconds > 2
    if settled, let cached = state.withLock({ $0.key == key ? $0.snapshot : nil }) { return cached }
    // Read outside the lock; a concurrent reload of the same file gives the same result.
    let bytes = (try? FS.read(path)) ?? []
    if let cached = state.withLock({ current -> Snapshot? in
      guard current.key != nil, current.bytes == bytes else { return nil }
      current.key = key
      return current.snapshot
    }) {
      return cached
    }
    let snapshot = Self.load(bytes)
    state.withLock { $0 = State(key: key, bytes: bytes, snapshot: snapshot) }
    return snapshot
  }

  static func load(_ bytes: [UInt8]) -> Snapshot {
    var snapshot = Snapshot()
    let records = DNSRecordStore.parse(bytes)
    snapshot.recordCount = records.count
    for record in records {
      for name in record.names {
        let key = DNSName(name).lowercased
        if !(snapshot.addresses[key]?.contains(record.ipv4) ?? false) { snapshot.addresses[key, default: []].append(record.ipv4) }
      }
      if snapshot.names[record.ipv4] == nil, let first = record.names.first { snapshot.names[record.ipv4] = first }
      snapshot.containers[record.ipv4, default: []].append(record.containerID)
      // The last record of an address wins: a newer container may have taken a stale one's.
      snapshot.upstreams[record.ipv4] = record.upstreams.isEmpty ? nil : record.upstreams
      snapshot.containerIDs.insert(record.containerID)
    }
    return snapshot
  }
}
