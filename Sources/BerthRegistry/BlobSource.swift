import BerthOS
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Where the bytes of a blob being pushed come from. Reads are by offset, so a chunk can be
/// sent again after a failure.
public protocol BlobSource: Sendable {
  /// Up to `length` bytes from `offset`; fewer only at the end of the blob.
  func read(offset: Int64, length: Int) async throws -> ByteBuffer
}

/// A blob in a file (read with pread(2), one piece at a time).
public struct FileBlobSource: BlobSource {
  public var path: String
  /// Called after each read with the offset reached (bytes handed to the upload so far; it
  /// goes back when an upload restarts).
  public var progress: (@Sendable (Int64) -> Void)?

  /// Fails when the file cannot be read.
  public init(path: String, progress: (@Sendable (Int64) -> Void)? = nil) throws {
    guard access(path, R_OK) == 0 else { throw BerthError.system("open \(path)") }
    self.path = path
    self.progress = progress
  }

  public func read(offset: Int64, length: Int) async throws -> ByteBuffer {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { throw BerthError.system("open \(path)") }
    defer { close(fd) }
    var buffer = ByteBufferAllocator().buffer(capacity: length)
    var done = 0
    while done < length {
      let n = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length - done) { raw -> Int in
        let count = retryOnInterrupt { pread(fd, raw.baseAddress, length - done, off_t(offset) + off_t(done)) }
        if count < 0 { throw BerthError.system("read \(path)") }
        return count
      }
      if n == 0 { break }
      done += n
    }
    progress?(offset + Int64(done))
    return buffer
  }
}

/// A blob held in memory.
public struct BytesBlobSource: BlobSource {
  public var bytes: [UInt8]

  public init(_ bytes: [UInt8]) {
    self.bytes = bytes
  }

  public func read(offset: Int64, length: Int) async throws -> ByteBuffer {
    let start = Int(min(max(offset, 0), Int64(bytes.count)))
    let end = min(start + length, bytes.count)
    return ByteBuffer(bytes: bytes[start..<end])
  }
}

/// The bytes `[start, end)` of a source as an async sequence of pieces, for a request body.
struct BlobSourceRange: AsyncSequence, Sendable {
  typealias Element = ByteBuffer

  let source: any BlobSource
  let start: Int64
  let end: Int64
  let pieceSize: Int

  struct AsyncIterator: AsyncIteratorProtocol {
    let source: any BlobSource
    var position: Int64
    let end: Int64
    let pieceSize: Int

    mutating func next() async throws -> ByteBuffer? {
      guard position < end else { return nil }
      let length = Int(Swift.min(Int64(pieceSize), end - position))
      let piece = try await source.read(offset: position, length: length)
      guard piece.readableBytes > 0 else {
        throw BerthError(.truncated, "the blob's source ended at byte \(position), before its announced size \(end)")
      }
      position += Int64(piece.readableBytes)
      return piece
    }
  }

  func makeAsyncIterator() -> AsyncIterator {
    AsyncIterator(source: source, position: start, end: end, pieceSize: pieceSize)
  }
}
