import CMonitor

/// The json-file log driver: one JSON object per line, as Docker writes them:
/// `{"log":"text\n","stream":"stdout","time":"2024-01-02T03:04:05.123456789Z"}`.
///
/// Output is split at newlines; a line without its newline waits for the rest of the line,
/// unless it fills 16 KiB or its stream ends, when it is written as an entry of its own
/// (without a trailing "\n"). With a size limit, the file is rotated before an entry would
/// make it exceed the limit: log.N-1 → log.N … log → log.1, keeping `maxFiles - 1` old files
/// (with maxFiles = 1 the file is truncated instead).
final class JSONFileLog {
  static let partialLimit = 16 * 1024

  let path: String
  let maxSize: Int64
  let maxFiles: Int
  private var fd: Int32 = -1
  private var size: Int64 = 0
  /// Incomplete lines, per stream (0: stdout, 1: stderr).
  private var partialOut: [UInt8] = []
  private var partialErr: [UInt8] = []
  /// Entries built but not yet written.
  private var pending: [UInt8] = []
  private var time: [UInt8] = []

  init(path: String, maxSize: Int64, maxFiles: Int) {
    self.path = path
    self.maxSize = maxSize
    self.maxFiles = max(1, maxFiles)
    open()
  }

  deinit { closeFD(&fd) }

  private func open() {
    fd = path.withCString { cmonitor_open($0, O_WRONLY | O_CREAT | O_APPEND, 0o640) }
    size = fd >= 0 ? max(0, cmonitor_file_size(fd)) : 0
  }

  /// Adds output of a stream (1 stdout, 2 stderr) read at `now`.
  func append(stream: UInt8, _ data: UnsafeBufferPointer<UInt8>, now: WallTime) {
    time.removeAll(keepingCapacity: true)
    appendRFC3339Nano(&time, now)
    if stream == 2 {
      append(data, partial: &partialErr, stream: stream)
    } else {
      append(data, partial: &partialOut, stream: stream)
    }
    flush()
  }

  /// Splits output into entries as Docker's 16 KiB copy buffer does: an entry holds at most
  /// 16 KiB, its newline included, so a line of exactly 16 KiB becomes a partial entry and a
  /// lone "\n". The result does not depend on how the output was cut into reads.
  private func append(_ data: UnsafeBufferPointer<UInt8>, partial: inout [UInt8], stream: UInt8) {
    var start = 0
    while start < data.count {
      let limit = min(data.count, start + (Self.partialLimit - partial.count))
      var end = start
      while end < limit && data[end] != UInt8(ascii: "\n") { end += 1 }
      if end < limit {
        // A whole line (with what was kept of it before).
        let line = UnsafeBufferPointer(rebasing: data[start...end])
        if partial.isEmpty {
          addEntry(line, stream: stream)
        } else {
          partial.append(contentsOf: line)
          partial.withUnsafeBufferPointer { addEntry($0, stream: stream) }
          partial = []
        }
        start = end + 1
      } else {
        partial.append(contentsOf: UnsafeBufferPointer(rebasing: data[start..<limit]))
        start = limit
        if partial.count == Self.partialLimit {
          partial.withUnsafeBufferPointer { addEntry($0, stream: stream) }
          partial = []
        }
      }
    }
  }

  /// Writes what is left of incomplete lines (the streams ended: the container exited).
  func flushPartials(now: WallTime) {
    time.removeAll(keepingCapacity: true)
    appendRFC3339Nano(&time, now)
    if !partialOut.isEmpty {
      partialOut.withUnsafeBufferPointer { addEntry($0, stream: 1) }
      partialOut = []
    }
    if !partialErr.isEmpty {
      partialErr.withUnsafeBufferPointer { addEntry($0, stream: 2) }
      partialErr = []
    }
    flush()
  }

  private func addEntry(_ text: UnsafeBufferPointer<UInt8>, stream: UInt8) {
    let before = pending.count
    pending.append("{\"log\":")
    appendJSONString(&pending, text)
    pending.append(stream == 2 ? ",\"stream\":\"stderr\",\"time\":\"" : ",\"stream\":\"stdout\",\"time\":\"")
    pending.append(contentsOf: time)
    pending.append("\"}\n")
    let entryLength = Int64(pending.count - before)
    if maxSize > 0 && size + Int64(before) > 0 && size + Int64(before) + entryLength > maxSize {
      // This entry would overflow the file: write what precedes it, rotate, then go on.
      if before > 0 {
        pending.withUnsafeBytes { writeOut(UnsafeRawBufferPointer(rebasing: $0[0..<before])) }
        pending.removeFirst(before)
      }
      rotate()
    }
  }

  private func flush() {
    guard !pending.isEmpty else { return }
    pending.withUnsafeBytes { writeOut($0) }
    if pending.count > 64 * 1024 {
      pending = []
    } else {
      pending.removeAll(keepingCapacity: true)
    }
  }

  private func writeOut(_ bytes: UnsafeRawBufferPointer) {
    if fd < 0 { open() }
    guard fd >= 0 else { return }
    // A full disk loses log lines, never the container's output to attached clients.
    if writeAll(fd, bytes) { size += Int64(bytes.count) }
  }

  private func rotate() {
    closeFD(&fd)
    if maxFiles <= 1 {
      fd = path.withCString { cmonitor_open($0, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o640) }
      size = 0
      return
    }
    var index = maxFiles - 1
    while index > 1 {
      _ = renameFile(path + ".\(index - 1)", path + ".\(index)")
      index -= 1
    }
    _ = renameFile(path, path + ".1")
    open()
  }
}
