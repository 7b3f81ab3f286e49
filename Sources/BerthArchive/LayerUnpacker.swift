import BerthOCI
import BerthOS

#if canImport(Glibc)
  import Glibc
#endif

/// How `LayerUnpacker` writes a layer to disk.
public struct UnpackOptions: Sendable, Equatable {
  /// Give files the numeric owners recorded in the tar (needs CAP_CHOWN). When false, files
  /// belong to the unpacking user.
  public var preserveOwners: Bool
  /// Turn OCI whiteouts into overlayfs ones: `dir/.wh.NAME` becomes a 0:0 character device
  /// `dir/NAME`, and `dir/.wh..wh..opq` sets `trusted.overlay.opaque="y"` on `dir`. When false,
  /// `.wh.` files are extracted as the regular files they are in the tar.
  public var overlayWhiteouts: Bool

  public init(preserveOwners: Bool = true, overlayWhiteouts: Bool = true) {
    self.preserveOwners = preserveOwners
    self.overlayWhiteouts = overlayWhiteouts
  }
}

/// What unpacking a layer found.
public struct LayerUnpackResult: Sendable, Equatable {
  /// SHA-256 of the uncompressed tar stream: the layer's diffID (the image config's
  /// `rootfs.diff_ids`).
  public var diffID: Digest
  /// Length of the uncompressed tar stream.
  public var uncompressedSize: Int64
  /// Length of the blob as it was fed in.
  public var compressedSize: Int64
  /// Number of tar entries (files, directories, links, whiteouts...).
  public var entries: Int
  /// The compression the blob turned out to have.
  public var compression: LayerCompression

  public init(diffID: Digest, uncompressedSize: Int64, compressedSize: Int64, entries: Int, compression: LayerCompression) {
    self.diffID = diffID
    self.uncompressedSize = uncompressedSize
    self.compressedSize = compressedSize
    self.entries = entries
    self.compression = compression
  }
}

/// Unpacks an image layer (a tar, gzip- or zstd-compressed or not) into a directory while its
/// bytes arrive, the way a snapshotter prepares an overlayfs lower directory: owners, modes,
/// times, extended attributes, devices, hard links, sparse files, and OCI whiteouts turned
/// into overlayfs ones. No entry can write outside the destination.
///
/// Work runs on two threads of its own (inflate and hash; parse and write), so that feeding it
/// from a download never blocks a Swift concurrency thread:
///
/// ```swift
/// let unpacker = try LayerUnpacker(destination: tempDir, compression: .gzip)
/// do {
///   for try await chunk in body { try await unpacker.write(chunk) }
///   let result = try await unpacker.finish()   // result.diffID
/// } catch {
///   await unpacker.cancel()
///   try? FS.removeTree(tempDir)
///   throw error
/// }
/// ```
///
/// Feed it from one task at a time: `write`, `finish` and `cancel` must not overlap. The
/// compressed blob's digest is the caller's to check (see `StreamingDigest`).
public final class LayerUnpacker: @unchecked Sendable {
  private let pipeline: UnpackPipeline
  private var block: BlockPipe.Block?
  private var compressedSize: Int64 = 0
  private var ended = false

  /// Prepares to unpack into `destination`, a directory that must exist and be empty (the
  /// store unpacks into a temporary directory and renames it when done). `compression` nil
  /// means: recognize it from the first bytes (gzip, zstd, else a plain tar); a given
  /// compression that the bytes contradict is an error.
  public init(destination: String, compression: LayerCompression?, options: UnpackOptions = .init()) throws {
    guard FS.isDirectory(destination) else {
      throw BerthError(.invalidArgument, "unpack destination \(destination) is not a directory")
    }
    guard try FS.list(destination).isEmpty else {
      throw BerthError(.invalidArgument, "unpack destination \(destination) is not empty")
    }
    let extractor = try LayerExtractor(destination: destination, options: options)
    pipeline = UnpackPipeline(extractor: extractor, compression: compression)
    try pipeline.start()
  }

  deinit {
    if !ended { pipeline.fail(BerthError(.cancelled, "layer unpacker was dropped before it finished")) }
  }

  /// Feeds the next bytes of the (compressed) blob. Suspends, without blocking its thread,
  /// while the pipeline's buffers are full. Throws the pipeline's error once something
  /// failed (a corrupt stream, a full disk).
  public func write(_ bytes: UnsafeRawBufferPointer) async throws {
    guard let base = bytes.baseAddress else { return }
    try await append(count: bytes.count) { destination, offset, count in
      destination.copyMemory(from: base + offset, byteCount: count)
    }
  }

  /// Feeds the next bytes of the (compressed) blob.
  public func write(_ bytes: [UInt8]) async throws {
    try await append(count: bytes.count) { destination, offset, count in
      bytes.withUnsafeBytes { raw in
        guard let base = raw.baseAddress else { return }
        destination.copyMemory(from: base + offset, byteCount: count)
      }
    }
  }

  /// Ends the input and waits for the extraction to finish. Throws when the blob was not a
  /// complete, valid layer or when writing failed; the caller then removes the destination.
  public func finish() async throws -> LayerUnpackResult {
    try checkOpen()
    ended = true
    if let block {
      pipeline.input.push(block)
      self.block = nil
    }
    pipeline.input.close()
    await pipeline.waitUntilDone()
    return try pipeline.outcome(compressedSize: compressedSize)
  }

  /// Stops early (an error elsewhere, a cancelled pull) and waits until both threads have
  /// ended, so nothing writes to the destination any more. The caller removes the directory.
  public func cancel() async {
    ended = true
    pipeline.fail(BerthError(.cancelled, "layer unpack was cancelled"))
    await pipeline.waitUntilDone()
  }

  /// Unpacks a layer file (`berth load`, `import`) on the calling thread and two workers.
  public static func unpack(
    file path: String, into destination: String, compression: LayerCompression?, options: UnpackOptions = .init()
  ) throws -> LayerUnpackResult {
    let fd = try OwnedFD.open(path, O_RDONLY)
    let unpacker = try LayerUnpacker(destination: destination, compression: compression, options: options)
    unpacker.ended = true
    let pipeline = unpacker.pipeline
    var total: Int64 = 0
    reading: while true {
      guard let index = pipeline.input.takeFree() else { break }
      let memory = pipeline.input.memory(index)
      var count = 0
      while count < pipeline.input.blockSize {
        let n = read(fd.raw, memory + count, pipeline.input.blockSize - count)
        if n < 0 {
          if errno == EINTR { continue }
          pipeline.fail(BerthError.system("read \(path)"))
          pipeline.input.recycle(index)
          break reading
        }
        if n == 0 { break }
        count += n
      }
      total += Int64(count)
      pipeline.input.push(BlockPipe.Block(index: index, count: count))
      if count < pipeline.input.blockSize { break }
    }
    pipeline.input.close()
    pipeline.waitUntilDoneBlocking()
    return try pipeline.outcome(compressedSize: total)
  }

  // MARK: -

  private func checkOpen() throws {
    if ended { throw BerthError(.invalidState, "layer unpacker already finished or cancelled") }
  }

  /// Copies `count` bytes into pipeline blocks with `copy(destination, sourceOffset, n)`,
  /// suspending while no block is free.
  private func append(
    count: Int, _ copy: (UnsafeMutableRawPointer, Int, Int) -> Void
  ) async throws {
    try checkOpen()
    if Task.isCancelled { pipeline.fail(BerthError(.cancelled, "layer unpack was cancelled")) }
    if let error = pipeline.firstError { throw error }
    let input = pipeline.input
    var offset = 0
    while offset < count {
      if block == nil {
        let pipeline = self.pipeline
        let index = await withTaskCancellationHandler {
          await input.takeFree()
        } onCancel: {
          pipeline.fail(BerthError(.cancelled, "layer unpack was cancelled"))
        }
        guard let index else {
          throw pipeline.firstError ?? BerthError(.cancelled, "layer unpack was cancelled")
        }
        block = BlockPipe.Block(index: index, count: 0)
      }
      guard var current = block else { return }
      let n = min(count - offset, input.blockSize - current.count)
      copy(input.memory(current.index) + current.count, offset, n)
      current.count += n
      offset += n
      if current.count == input.blockSize {
        input.push(current)
        block = nil
      } else {
        block = current
      }
    }
    compressedSize += Int64(count)
  }
}
