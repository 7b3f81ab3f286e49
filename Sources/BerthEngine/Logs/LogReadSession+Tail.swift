#if canImport(Glibc)
import Glibc
#endif

extension LogReadSession {
  /// Where `--tail lines` starts: a file (index into `files`, oldest first) and an offset
  /// in it. Reads backwards from the end in blocks and decodes only the lines it passes, so
  /// the last lines of a large log cost what they weigh.
  func tailStart(_ files: [LogFile], lines: Int?) throws -> (file: Int, offset: Int64) {
    guard let lines else { return (0, 0) }
    let last = files.count - 1
    if lines == 0 {
      // Nothing of the past: start after the last complete line, so that following picks
      // up a line being written now.
      let size = try files[last].size()
      var start: Int64 = 0
      _ = try Self.scanBackward(files[last], size: size) { _, lineStart, lineEnd in
        start = lineEnd == size ? lineStart : lineEnd + 1
        return true
      }
      return (last, start)
    }
    var counted = 0
    var first = true
    for index in files.indices.reversed() {
      let size = try files[index].size()
      var start: Int64?
      _ = try Self.scanBackward(files[index], size: size) { line, _, lineEnd in
        guard let entry = LogEntry.decode(jsonLine: line) else { return false }
        if first {
          first = false
          // Output that stopped without a newline is a line of its own.
          if !entry.endsLine {
            counted = 1
            return false
          }
        }
        guard entry.endsLine else { return false }
        if counted == lines {
          start = min(lineEnd + 1, size)
          return true
        }
        counted += 1
        return false
      }
      if let start { return (index, start) }
    }
    return (0, 0)
  }

  /// Calls `body` with each line of `file`'s first `size` bytes, last line first (without
  /// its "\n"; the last line may have none), with the offsets of its start and end, until
  /// `body` returns true. Returns whether it did.
  static func scanBackward(
    _ file: LogFile, size: Int64,
    body: (UnsafeBufferPointer<UInt8>, _ start: Int64, _ end: Int64) throws -> Bool
  ) throws -> Bool {
    let blockSize: Int64 = 64 * 1024
    // window holds the file's bytes [windowStart, windowStart + window.count).
    var window: [UInt8] = []
    var windowStart = size
    // The end of the line being looked for (its "\n", or the end of the file).
    var lineEnd = size
    while true {
      var searchEnd = lineEnd
      var newline: Int64 = -1
      while true {
        let from = Int(searchEnd - windowStart)
        let found = window.withUnsafeBufferPointer { bytes -> Int? in
          var index = from - 1
          while index >= 0 {
            if bytes[index] == 0x0A { return index }
            index -= 1
          }
          return nil
        }
        if let found {
          newline = windowStart + Int64(found)
          break
        }
        if windowStart == 0 { break }
        // Extend the window backwards by a block; bytes after lineEnd are done with.
        let readStart = max(0, windowStart - blockSize)
        var block = [UInt8](repeating: 0, count: Int(windowStart - readStart))
        try block.withUnsafeMutableBytes { raw in
          var filled = 0
          while filled < raw.count {
            let n = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[filled...]), at: readStart + Int64(filled))
            if n == 0 { break }  // truncated meanwhile: the zeros left decode as nothing
            filled += n
          }
        }
        block.append(contentsOf: window[..<Int(lineEnd - windowStart)])
        window = block
        searchEnd = windowStart
        windowStart = readStart
      }
      let lineStart = newline + 1
      if lineEnd > lineStart {
        let stop = try window.withUnsafeBufferPointer { bytes in
          try body(
            UnsafeBufferPointer(rebasing: bytes[Int(lineStart - windowStart)..<Int(lineEnd - windowStart)]),
            lineStart, lineEnd)
        }
        if stop { return true }
      }
      if newline < 0 { return false }
      lineEnd = newline
    }
  }
}
