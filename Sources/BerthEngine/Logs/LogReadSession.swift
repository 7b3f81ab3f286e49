import BerthOS

#if canImport(Glibc)
import Glibc
#endif

/// One run of a ``LogReader``: the sink, the time filters, and the read buffer.
struct LogReadSession<Sink: LogSink> {
  var sink: Sink
  let since: DockerTime?
  let until: DockerTime?
  /// An entry newer than `until` was seen: nothing more is delivered.
  var reachedUntil = false
  private let buffer = ReadBuffer(count: 1 << 20)

  /// A line longer than this without a "\n" is not a log entry (entries are at most about
  /// 100 KiB: 16 KiB of output, escaped); its bytes are dropped up to the next "\n".
  static var maximumLine: Int { 16 << 20 }

  init(sink: Sink, since: DockerTime?, until: DockerTime?) {
    self.sink = sink
    self.since = since
    self.until = until
  }

  mutating func run(path: String, tail: Int?, follow: Bool, isActive: () -> Bool) throws {
    let files = try LogFiles.openAll(path)
    if let last = files.last {
      let (first, offset) = try tailStart(files, lines: tail)
      files[first].offset = offset
      for index in first..<files.count where !reachedUntil {
        try drain(files[index])
        if index < files.count - 1 || !follow { try finish(files[index]) }
      }
      try sink.flush()
      if follow && !reachedUntil { try self.follow(path: path, from: last, isActive: isActive) }
    } else if follow {
      try self.follow(path: path, from: nil, isActive: isActive)
    }
    try sink.flush()
  }

  // MARK: Reading forward

  /// Delivers the complete lines from `file.offset` to the end of the file; keeps an
  /// incomplete last line in `file.pending` for later.
  mutating func drain(_ file: LogFile) throws {
    let raw = buffer.bytes
    guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
    while !reachedUntil {
      let count = try file.read(into: raw, at: file.offset)
      if count == 0 { return }
      file.offset += Int64(count)
      var start = 0
      while start < count && !reachedUntil {
        guard let found = memchr(base + start, 0x0A, count - start) else {
          keepPending(file, UnsafeBufferPointer(start: base + start, count: count - start))
          break
        }
        let end = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
        let line = UnsafeBufferPointer(start: base + start, count: end - start)
        if file.pending.isEmpty && !file.skippingLine {
          try emit(line)
        } else {
          keepPending(file, line)
          if !file.skippingLine { try file.pending.withUnsafeBufferPointer { try emit($0) } }
          file.pending.removeAll(keepingCapacity: file.pending.count <= 1 << 20)
          file.skippingLine = false
        }
        start = end + 1
      }
    }
  }

  /// Delivers what is left of a file that will not grow any more: a last line without "\n"
  /// (if it is a whole entry; a line cut short is dropped).
  mutating func finish(_ file: LogFile) throws {
    defer {
      file.pending = []
      file.skippingLine = false
    }
    guard !file.pending.isEmpty, !file.skippingLine, !reachedUntil else { return }
    try file.pending.withUnsafeBufferPointer { try emit($0) }
  }

  private func keepPending(_ file: LogFile, _ bytes: UnsafeBufferPointer<UInt8>) {
    guard !file.skippingLine else { return }
    if file.pending.count + bytes.count > Self.maximumLine {
      file.pending = []
      file.skippingLine = true
      return
    }
    file.pending.append(contentsOf: bytes)
  }

  private mutating func emit(_ line: UnsafeBufferPointer<UInt8>) throws {
    guard let entry = LogEntry.decode(jsonLine: line) else { return }
    if let since, entry.time < since { return }
    if let until, entry.time > until {
      reachedUntil = true
      return
    }
    try sink.write(entry)
  }
}

/// A page-aligned read buffer that frees itself.
final class ReadBuffer {
  let bytes: UnsafeMutableRawBufferPointer

  init(count: Int) {
    bytes = .allocate(byteCount: count, alignment: 4096)
  }

  deinit { bytes.deallocate() }
}
