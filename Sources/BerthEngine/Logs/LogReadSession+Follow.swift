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
    var files = FollowedFiles(current: file)
    while true {
      try catchUp(&files, path: path)
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
        try catchUp(&files, path: path)
        break
      }
      try sink.flush()
      watcher.wait(milliseconds: timeout)
    }
    if let current = files.current { try finish(current) }
  }

  /// Reads the current file to its end, and the files that came after it if it was rotated.
  private mutating func catchUp(_ files: inout FollowedFiles, path: String) throws {
    while !reachedUntil {
      if let file = files.current {
        // A log truncated in place (not how the monitor rotates, but cheap to survive)
        // starts again from its beginning.
        if try file.size() < file.offset {
          file.offset = 0
          file.pending = []
          file.skippingLine = false
        }
        try drain(file)
      }
      guard try advance(&files, path: path) else { return }
    }
  }

  /// Moves on when `path` is no longer the file being read (the monitor renamed it to .1,
  /// shifting the others, and writes to a new file), or when it appears. Returns true when
  /// there is a new current file to read.
  private mutating func advance(_ files: inout FollowedFiles, path: String) throws -> Bool {
    if let file = files.current {
      if file.isFile(at: path) { return false }
      // Bytes written before the rename are in it: read them first.
      try drain(file)
      try finish(file)
      files.lastRotated = file
      files.current = nil
    }
    // The new file is opened before the rotated ones are listed: if it is rotated meanwhile,
    // it shows up among them, and what follows it is left for the next look.
    let next = try LogFile.open(path)
    for file in try LogFiles.rotated(after: files.lastRotated, path: path) where !reachedUntil {
      if let next, file.isSame(as: next) { break }
      try drain(file)
      try finish(file)
      files.lastRotated = file
    }
    files.current = next
    return next != nil
  }
}

/// Where following is: the file being read, and the last file read to its end after a
/// rotation. While no new file exists yet (between a rotation and the monitor's next
/// write, or before the first), everything rotated after `lastRotated` is still unread —
/// all of the rotated files when it is nil (no log existed when following began) or gone
/// (deleted by `max-file`: whatever remains is newer).
struct FollowedFiles {
  var current: LogFile?
  var lastRotated: LogFile?
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
