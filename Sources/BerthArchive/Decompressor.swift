import BerthOCI
import BerthOS
import CArchive

#if canImport(Glibc)
  import Glibc
#endif

/// The first stage of the unpack pipeline, on its own thread: reads compressed blocks, inflates
/// them (zlib or zstd through libarchive's filters), hashes the tar stream (the diffID) and
/// hands it on in large blocks to the extracting thread.
final class Decompressor {
  private let input: BlockPipe
  private let output: BlockPipe
  private let requested: LayerCompression?

  /// What the stream turned out to be.
  private(set) var compression: LayerCompression = .none
  /// SHA-256 and length of the uncompressed tar stream.
  private(set) var digest = StreamingDigest()

  // The input block being read and the output block being filled.
  private var inputBlock: BlockPipe.Block?
  private var pendingFirst: BlockPipe.Block?
  private var outputBlock: BlockPipe.Block?
  private var inputAborted = false

  init(input: BlockPipe, output: BlockPipe, compression: LayerCompression?) {
    self.input = input
    self.output = output
    self.requested = compression
  }

  /// Runs to the end of the input; closes `output` when the whole stream went through.
  func run() throws {
    guard let first = try nextInput() else {
      // No bytes at all: not a tar (an empty layer is still 1024 bytes of zeros).
      throw BerthError(.invalidArchive, "layer blob is empty")
    }
    let magic = Array(UnsafeRawBufferPointer(start: input.memory(first.index), count: min(first.count, 4)))
    let detected: LayerCompression
    if magic.starts(with: [0x1f, 0x8b]) {
      detected = .gzip
    } else if magic.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) {
      detected = .zstd
    } else {
      detected = .none
    }
    if let requested, requested != detected {
      let start = magic.map { hexString([$0]) }.joined(separator: " ")
      throw BerthError(
        .invalidArchive,
        "layer blob is not \(describe(requested)) as its media type says: it starts with \(start) (\(describe(detected)))")
    }
    compression = detected
    if detected == .none {
      var block: BlockPipe.Block? = first
      while let current = block {
        try append(UnsafeRawBufferPointer(start: input.memory(current.index), count: current.count))
        block = try nextInput()
      }
    } else {
      pendingFirst = first
      try inflate(detected)
    }
    try flushOutput()
    output.close()
  }

  private func describe(_ compression: LayerCompression) -> String {
    switch compression {
    case .gzip: return "gzip-compressed"
    case .zstd: return "zstd-compressed"
    case .none: return "an uncompressed tar"
    }
  }

  // MARK: inflating

  private func inflate(_ compression: LayerCompression) throws {
    guard let archive = archive_read_new() else { throw BerthError(.internalError, "archive_read_new failed") }
    defer { archive_read_free(archive) }
    let filter = compression == .gzip ? ARCHIVE_FILTER_GZIP : ARCHIVE_FILTER_ZSTD
    let name = compression == .gzip ? "gzip" : "zstd"
    guard archive_read_append_filter(archive, filter) == ARCHIVE_OK,
          archive_read_support_format_raw(archive) == ARCHIVE_OK else {
      throw BerthError.libarchive(archive, "set up \(name) decompression")
    }
    let context = Unmanaged.passUnretained(self).toOpaque()
    let status = archive_read_open(archive, context, nil, { _, context, buffer in
      guard let context, let buffer else { return -1 }
      return Unmanaged<Decompressor>.fromOpaque(context).takeUnretainedValue().feed(buffer)
    }, nil)
    try stopIfAborted()
    var entry: OpaquePointer?
    guard status == ARCHIVE_OK, archive_read_next_header(archive, &entry) == ARCHIVE_OK else {
      try stopIfAborted()
      // libarchive reads ahead to recognize the data; what it found is not a complete stream.
      let detail = libarchiveMessage(archive)
      let suffix = detail == "Unrecognized archive format" ? "" : " (\(detail))"
      throw BerthError(.invalidArchive, "\(name) data is truncated or corrupt\(suffix)")
    }
    var block: UnsafeRawPointer?
    var size = 0
    var offset: la_int64_t = 0
    while true {
      let result = archive_read_data_block(archive, &block, &size, &offset)
      if result == ARCHIVE_EOF { break }
      if !succeeded(result) {
        try stopIfAborted()
        throw BerthError(.invalidArchive, "decompress \(name) layer: \(libarchiveMessage(archive))")
      }
      if let block, size > 0 { try append(UnsafeRawBufferPointer(start: block, count: size)) }
    }
    // Whatever follows the compressed stream (padding) is not part of the tar; consume it so
    // that the writer is never left waiting for room.
    while try nextInput() != nil {}
  }

  private func libarchiveMessage(_ archive: OpaquePointer) -> String {
    archive_error_string(archive).map { String(cString: $0) } ?? "no details"
  }

  /// libarchive's read callback: the next compressed block, 0 at the end, -1 when aborted.
  fileprivate func feed(_ buffer: UnsafeMutablePointer<UnsafeRawPointer?>) -> Int {
    let block: BlockPipe.Block?
    if let first = pendingFirst {
      pendingFirst = nil
      block = first
    } else {
      do {
        block = try nextInput()
      } catch {
        return -1
      }
    }
    guard let block else { return 0 }
    buffer.pointee = UnsafeRawPointer(input.memory(block.index))
    return block.count
  }

  private func stopIfAborted() throws {
    if inputAborted { throw BerthError(.cancelled, "unpacking was stopped") }
  }

  // MARK: blocks

  /// The next input block (the previous one goes back to the pool); nil at the end.
  private func nextInput() throws -> BlockPipe.Block? {
    if let previous = inputBlock {
      input.recycle(previous.index)
      inputBlock = nil
    }
    switch input.pop() {
    case .block(let block):
      inputBlock = block
      return block
    case .end:
      return nil
    case .aborted:
      inputAborted = true
      throw BerthError(.cancelled, "unpacking was stopped")
    }
  }

  /// Copies tar bytes into output blocks, handing each on (and hashing it) when full.
  private func append(_ bytes: UnsafeRawBufferPointer) throws {
    guard let base = bytes.baseAddress else { return }
    var offset = 0
    while offset < bytes.count {
      if outputBlock == nil {
        guard let index = output.takeFree() else { throw BerthError(.cancelled, "unpacking was stopped") }
        outputBlock = BlockPipe.Block(index: index, count: 0)
      }
      guard var block = outputBlock else { return }
      let n = min(bytes.count - offset, output.blockSize - block.count)
      (output.memory(block.index) + block.count).copyMemory(from: base + offset, byteCount: n)
      block.count += n
      offset += n
      outputBlock = block
      if block.count == output.blockSize { try flushOutput() }
    }
  }

  private func flushOutput() throws {
    guard let block = outputBlock else { return }
    outputBlock = nil
    digest.update(UnsafeRawBufferPointer(start: output.memory(block.index), count: block.count))
    output.push(block)
  }
}
