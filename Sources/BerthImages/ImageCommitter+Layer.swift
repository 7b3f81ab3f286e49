import BerthArchive
import BerthOCI
import BerthOS
import Foundation

extension ImageCommitter {
  /// A layer from `directory` in overlay upper-dir format (whiteout = char device 0/0, opaque
  /// dir = xattr trusted.overlay.opaque="y"; other trusted.overlay.* xattrs dropped), on top of
  /// `parentChainID` (nil: first layer). Tar entries depth first, names in byte order in each
  /// directory (as Docker walks a tree); whiteouts as `.wh.NAME`, opaque dirs as
  /// `DIR/.wh..wh..opq`; numeric uid/gid, mode, xattrs (security.capability included), hard
  /// links kept; mtimes clamped to `clampMTime` when given. Same input, same diffID and blob
  /// digest (the gzip header has no name or time). Stores the blob, and the unpacked layer under
  /// its chain ID (reused when it exists). `excluding`: paths left out with what is under them,
  /// as the container sees them ("/etc/hosts"): mountpoints the runtime made.
  public func commitLayer(
    fromDirectory directory: String, parentChainID: Digest?, clampMTime: Int64?, excluding: Set<String> = []
  ) async throws -> CommittedLayer {
    guard FS.isDirectory(directory) else {
      throw BerthError(.notFound, "cannot make a layer from \(directory): it is not a directory")
    }
    if let parentChainID, try !store.layers.contains(parentChainID) {
      throw BerthError(.layerMissing, "cannot make a layer on \(parentChainID): that layer is not in the store (was it pruned?)")
    }
    let storeLock = try await FileLock.acquire(store.layout.storeLock, shared: true)
    defer { storeLock.release() }

    let blobWriter = try store.content.ingest(expected: nil, size: nil)
    let written: TarWriteResult
    do {
      let tar = try TarWriter(compression: .gzip, compressionLevel: compressionLevel) { bytes in try blobWriter.write(bytes) }
      var options = TarWriter.TreeOptions(mtimeClamp: clampMTime, overlayWhiteouts: true, xattrs: true)
      options.excluded = Set(excluding.map { Path.clean($0).drop { $0 == "/" }.description })
      try tar.addTree(directory, options: options)
      written = try tar.finish()
    } catch {
      blobWriter.abort()
      throw error.prefixedIfBerth("make a layer from \(directory)")
    }
    let blob = try blobWriter.commit()
    try store.content.record(blob, size: written.size, mediaType: MediaType.ociLayerGzip)

    let chainID = Self.chainID(of: written.diffID, parent: parentChainID)
    try await unpackIfMissing(blob: blob, chainID: chainID, diffID: written.diffID, parent: parentChainID)
    return CommittedLayer(
      diffID: written.diffID, chainID: chainID, blob: blob, blobSize: written.size, size: try store.layers.size(chainID))
  }

  /// Unpacks the blob just written as the layer `chainID` unless a pull, a load or another
  /// commit made it already. Unpacking the blob (not copying the directory) makes the layer
  /// exactly what a pull of the pushed image would make.
  private func unpackIfMissing(blob: Digest, chainID: Digest, diffID: Digest, parent: Digest?) async throws {
    let layers = store.layers
    let lock = try await FileLock.acquire(store.layout.layerLock(chainID))
    defer { lock.release() }
    if try layers.contains(chainID) { return }
    let staging = store.layout.layers + "/.tmp-" + UUID().uuidString
    do {
      try FS.makeDirectories(staging + "/diff", mode: 0o755)
      let result = try LayerUnpacker.unpack(file: store.layout.blob(blob), into: staging + "/diff", compression: .gzip)
      guard result.diffID == diffID else {
        throw BerthError(
          .digestMismatch,
          "layer blob \(blob) unpacks to \(result.diffID), not the \(diffID) it was written as (was the blob changed on disk?)")
      }
      let size = try Self.contentSize(staging + "/diff")
      try layers.adopt(staging, chainID: chainID, diffID: diffID, parent: parent, size: size)
    } catch {
      try? FS.removeTree(staging)
      throw error
    }
  }

  /// The bytes of the files under `directory` (each inode once; directories count nothing):
  /// the size Docker gives a layer (`history` SIZE), not the tar stream's, which adds a
  /// 512-byte header per entry.
  static func contentSize(_ directory: String) throws -> Int64 {
    var seen: Set<[UInt64]> = []
    var total: Int64 = 0
    var pending = [directory]
    while let current = pending.popLast() {
      for name in try FS.list(current) {
        let path = current + "/" + name
        guard let info = try FS.lstatIfPresent(path) else { continue }
        if info.st_mode & S_IFMT == S_IFDIR {
          pending.append(path)
          continue
        }
        if info.st_nlink > 1 && !seen.insert([UInt64(info.st_dev), UInt64(info.st_ino)]).inserted { continue }
        total += Int64(info.st_size)
      }
    }
    return total
  }
}
