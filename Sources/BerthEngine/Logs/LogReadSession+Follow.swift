import BerthOS

#if canImport(Glibc)
import Glibc
#endif

extension LogReadSession {
  /// `-f`: delivers entries as they are appended to `path`, going through rotations, until
  /// `isActive` says the container stopped (then delivers what is left) or `until` passes.
  /// `file` is the file read so far (nil when there was none yet).
  mutating func follow(path: String, from file: LogFile?, isActive: () -> Bool) throws {
    let watcher = LogWatcher(directory: Path.dirname(path))
    var current = file
    while true {
      try catchUp(&current, path: path)
      if reachedUntil { return }
      var timeout = watcher.isWatching ? LogReader.checkMilliseconds : 100
      if let until {
        let now = DockerTime.now()
        if now > until { break }
        let left = (until.seconds - now.seconds) * 1000 + Int64(until.nanoseconds - now.nanoseconds) / 1_000_000
        timeout = max(1, min(timeout, Int(clamping: left) + 1))
      }
      // The monitor writes a container's last output before it records the exit: once
      // isActive is false, one more catch-up sees all of it.
      if !isActive() {
        try catchUp(&current, path: path)
        break
      }
      try sink.flush()
      watcher.wait(milliseconds: timeout)
    }
    if let current { try finish(current) }
  }

  /// Reads `current` to its end, and the files that came after it if it was rotated.
  private mutating func catchUp(_ current: inout LogFile?, path: String) throws {
    while !reachedUntil {
      if let file = current {
        // A log truncated in place (not how the monitor rotates, but cheap to survive)
        // starts again from its beginning.
        if try file.size() < file.offset {
          file.offset = 0
          file.pending = []
          file.skippingLine = false
        }
        try drain(file)
      }
      guard try advance(&current, path: path) else { return }
    }
  }

  /// Moves `current` on when `path` is no longer the file being read: returns true when
  /// there is a new file to read, false when `current` is still the log (or none exists yet).
  private mutating func advance(_ current: inout LogFile?, path: String) throws -> Bool {
    guard let file = current else {
      current = try LogFile.open(path)
      return current != nil
    }
    if file.isFile(at: path) { return false }
    // Rotated: the monitor renamed it to .1 (shifting the others) and writes to a new file.
    // Bytes written before the rename are in it; read them, then every file newer than it.
    try drain(file)
    try finish(file)
    current = nil
    let rotated = LogFiles.rotatedNumbers(of: path)
    if let number = rotated.first(where: { file.isFile(at: "\(path).\($0)") }), number > 1 {
      // Several rotations since the last look: .number-1 … .1 came after it.
      for newer in stride(from: number - 1, through: 1, by: -1) where !reachedUntil {
        guard let next = try LogFile.open("\(path).\(newer)") else { continue }
        try drain(next)
        try finish(next)
      }
    }
    current = try LogFile.open(path)
    return current != nil
  }
}

/// Wakes the follower when something changes in the log's directory (inotify), or after a
/// timeout. Without inotify (no instances left), it just sleeps: polling.
struct LogWatcher: ~Copyable {
  private let fd: Int32

  init(directory: String) {
    var fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
    if fd >= 0 {
      // One watch on the directory sees writes to the log, the rename of a rotation and the
      // creation of the new file. Other files' events only cause a spare read.
      let mask = UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE)
      if inotify_add_watch(fd, directory, mask) < 0 {
        close(fd)
        fd = -1
      }
    }
    self.fd = fd
  }

  deinit { if fd >= 0 { close(fd) } }

  var isWatching: Bool { fd >= 0 }

  /// Returns when an event arrives or after `milliseconds`.
  func wait(milliseconds: Int) {
    guard fd >= 0 else {
      _ = poll(nil, 0, Int32(milliseconds))
      return
    }
    var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    guard poll(&descriptor, 1, Int32(milliseconds)) > 0 else { return }
    // Only the wake-up matters: empty the queue so that the next poll blocks.
    var events = [UInt8](repeating: 0, count: 4096)
    while events.withUnsafeMutableBytes({ read(fd, $0.baseAddress, $0.count) }) > 0 {}
  }
}
