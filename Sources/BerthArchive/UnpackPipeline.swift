import BerthOCI
import BerthOS
import CArchive

#if canImport(Glibc)
  import Glibc
#endif

/// The two worker threads of an unpack and what they share:
///
/// ```
/// caller (write)  ──compressed blocks──▶  inflate + diffID  ──tar blocks──▶  tar parse + write to disk
///  (async task)        BlockPipe           "berth-inflate"      BlockPipe       "berth-untar"
/// ```
///
/// Decompression and extraction each keep one core busy, as `tar -xzf` does with its gzip
/// child. The first error anywhere wins: it is recorded, both pipes are aborted, and every
/// stage stops at its next block.
final class UnpackPipeline: @unchecked Sendable {
  /// Compressed bytes from the caller.
  let input = BlockPipe(blockSize: 128 << 10, blockCount: 8)
  /// The uncompressed tar stream.
  let tar = BlockPipe(blockSize: 256 << 10, blockCount: 8)

  private let lock = ConditionLock()
  private var error: BerthError?
  private var running = 0
  private var waiter: CheckedContinuation<Void, Never>?
  private var result: (compression: LayerCompression, digest: StreamingDigest, entries: Int)?
  private var entries = 0

  private let decompressor: Decompressor
  private var extractor: LayerExtractor?

  init(extractor: LayerExtractor, compression: LayerCompression?) {
    self.extractor = extractor
    decompressor = Decompressor(input: input, output: tar, compression: compression)
  }

  /// Starts both threads.
  func start() throws {
    lock.withLock { running = 2 }
    do {
      try WorkerThread.start(name: "berth-inflate") { [self] in
        withUTF8Locale {
          do {
            try decompressor.run()
          } catch {
            fail(berthError(error))
          }
        }
        workerDone()
      }
    } catch {
      lock.withLock { running = 0 }
      throw error
    }
    do {
      try WorkerThread.start(name: "berth-untar") { [self] in
        withUTF8Locale { extract() }
        workerDone()
      }
    } catch {
      fail(berthError(error))
      workerDone()
      throw error
    }
  }

  private func extract() {
    guard let extractor else { return }
    defer { self.extractor = nil }  // closes the destination's descriptors before finish returns
    guard let archive = archive_read_new() else {
      fail(BerthError(.internalError, "archive_read_new failed"))
      return
    }
    defer { archive_read_free(archive) }
    let reader = TarBlockReader(pipe: tar)
    do {
      guard archive_read_support_format_tar(archive) == ARCHIVE_OK else {
        throw BerthError.libarchive(archive, "set up tar reading")
      }
      let context = Unmanaged.passUnretained(reader).toOpaque()
      let status = archive_read_open(archive, context, nil, { _, context, buffer in
        guard let context, let buffer else { return -1 }
        return Unmanaged<TarBlockReader>.fromOpaque(context).takeUnretainedValue().feed(buffer)
      }, nil)
      if status != ARCHIVE_OK {
        throw BerthError.libarchive(archive, "layer is not a tar archive")
      }
      try extractor.extractAll(from: archive)
      entries = extractor.entryCount
      // The end-of-archive blocks may be followed by padding: read it all, so the inflating
      // thread can finish (and hash every byte).
      reader.drain()
    } catch {
      fail(berthError(error))
    }
  }

  /// Records the first error and stops everything.
  func fail(_ error: BerthError) {
    lock.withLock {
      if self.error == nil { self.error = error }
    }
    input.abort()
    tar.abort()
  }

  var firstError: BerthError? { lock.withLock { error } }

  private func workerDone() {
    let continuation: CheckedContinuation<Void, Never>? = lock.withLock {
      running -= 1
      guard running == 0 else { return nil }
      if error == nil {
        result = (decompressor.compression, decompressor.digest, entries)
      }
      lock.broadcast()
      defer { waiter = nil }
      return waiter
    }
    continuation?.resume()
  }

  /// Suspends until both threads have ended.
  func waitUntilDone() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let done: Bool = lock.withLock {
        if running == 0 { return true }
        waiter = continuation
        return false
      }
      if done { continuation.resume() }
    }
  }

  /// Blocks the calling thread until both threads have ended.
  func waitUntilDoneBlocking() {
    lock.withLock {
      while running > 0 { lock.wait() }
    }
  }

  /// After both threads ended: the outcome.
  func outcome(compressedSize: Int64) throws -> LayerUnpackResult {
    let (error, result) = lock.withLock { (self.error, self.result) }
    if let error { throw error }
    guard let result else { throw BerthError(.internalError, "layer unpack ended without a result") }
    return LayerUnpackResult(
      diffID: result.digest.finalize(), uncompressedSize: result.digest.byteCount,
      compressedSize: compressedSize, entries: result.entries, compression: result.compression)
  }
}

/// Feeds the tar pipe's blocks to libarchive: each block stays valid until the next call, as
/// libarchive's read callback contract asks.
private final class TarBlockReader {
  private let pipe: BlockPipe
  private var current: Int?

  init(pipe: BlockPipe) { self.pipe = pipe }

  func feed(_ buffer: UnsafeMutablePointer<UnsafeRawPointer?>) -> Int {
    if let current { pipe.recycle(current) }
    current = nil
    switch pipe.pop() {
    case .block(let block):
      current = block.index
      buffer.pointee = UnsafeRawPointer(pipe.memory(block.index))
      return block.count
    case .end:
      return 0
    case .aborted:
      return -1
    }
  }

  func drain() {
    if let current { pipe.recycle(current) }
    current = nil
    while case .block(let block) = pipe.pop() { pipe.recycle(block.index) }
  }
}
