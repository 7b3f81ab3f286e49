#if canImport(Glibc)
  import Glibc
#endif

/// A bounded single-producer, single-consumer queue of fixed-size byte blocks from a pool
/// allocated once: the stages of the unpack pipeline hand blocks to each other without
/// copying them into new arrays or allocating per chunk.
///
/// The producer takes a free block (`takeFree`, which blocks or, for async callers, suspends
/// while every block is in use), fills it and `push`es it; the consumer `pop`s it, reads it and
/// `recycle`s it. `close` ends the stream after the pushed blocks; `abort` ends it at once and
/// wakes everyone.
final class BlockPipe: @unchecked Sendable {
  /// A filled block: its pool index and how many bytes it holds.
  struct Block {
    var index: Int
    var count: Int
  }

  /// What `pop` found.
  enum Next {
    case block(Block)
    case end
    case aborted
  }

  let blockSize: Int
  private let storage: UnsafeMutableRawPointer
  private let lock = ConditionLock()
  private var free: [Int]
  private var filled: [Block] = []
  private var filledHead = 0
  private var closed = false
  private var aborted = false
  private var waitingProducer: CheckedContinuation<Void, Never>?

  init(blockSize: Int, blockCount: Int) {
    self.blockSize = blockSize
    storage = UnsafeMutableRawPointer.allocate(byteCount: blockSize * blockCount, alignment: 64)
    free = Array((0..<blockCount).reversed())
    filled.reserveCapacity(blockCount)
  }

  deinit { storage.deallocate() }

  /// The memory of block `index` (`blockSize` bytes).
  func memory(_ index: Int) -> UnsafeMutableRawPointer { storage + index * blockSize }

  // MARK: producer

  /// A free block, waiting (blocking the thread) until one is recycled; nil once aborted.
  func takeFree() -> Int? {
    lock.lock()
    defer { lock.unlock() }
    while true {
      if aborted { return nil }
      if let index = free.popLast() { return index }
      lock.wait()
    }
  }

  /// A free block, suspending (not blocking) until one is recycled; nil once aborted.
  func takeFree() async -> Int? {
    while true {
      let taken: Int?? = lock.withLock {
        if aborted { return .some(nil) }
        if let index = free.popLast() { return .some(index) }
        return nil
      }
      if let taken { return taken }
      await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let resumeNow: Bool = lock.withLock {
          if aborted || !free.isEmpty { return true }
          waitingProducer = continuation
          return false
        }
        if resumeNow { continuation.resume() }
      }
    }
  }

  /// Hands a filled block to the consumer. An empty block goes back to the pool.
  func push(_ block: Block) {
    lock.withLock {
      if block.count == 0 || aborted {
        free.append(block.index)
      } else {
        filled.append(block)
      }
      lock.broadcast()
    }
  }

  /// No more blocks will come: the consumer sees `.end` after the last pushed one.
  func close() {
    lock.withLock {
      closed = true
      lock.broadcast()
    }
  }

  // MARK: consumer

  /// The next filled block, waiting until there is one; `.end` after `close` and the last
  /// block, `.aborted` after `abort`.
  func pop() -> Next {
    lock.lock()
    defer { lock.unlock() }
    while true {
      if aborted { return .aborted }
      if filledHead < filled.count {
        let block = filled[filledHead]
        filledHead += 1
        if filledHead == filled.count {
          filled.removeAll(keepingCapacity: true)
          filledHead = 0
        }
        return .block(block)
      }
      if closed { return .end }
      lock.wait()
    }
  }

  /// Returns a block the consumer is done with to the pool.
  func recycle(_ index: Int) {
    let waiter: CheckedContinuation<Void, Never>? = lock.withLock {
      free.append(index)
      lock.broadcast()
      defer { waitingProducer = nil }
      return waitingProducer
    }
    waiter?.resume()
  }

  /// Stops the stream now: both sides wake up and see that it was aborted.
  func abort() {
    let waiter: CheckedContinuation<Void, Never>? = lock.withLock {
      aborted = true
      lock.broadcast()
      defer { waitingProducer = nil }
      return waitingProducer
    }
    waiter?.resume()
  }
}
