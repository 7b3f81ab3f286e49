import BerthOS
import CLinux

#if canImport(Glibc)
  import Glibc
#endif

/// A pthread mutex with one condition variable. The unpacker's worker threads block on it;
/// async callers never do (they suspend on continuations that the workers resume).
final class ConditionLock: @unchecked Sendable {
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

  init() {
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(condition, nil)
  }

  deinit {
    pthread_cond_destroy(condition)
    pthread_mutex_destroy(mutex)
    condition.deallocate()
    mutex.deallocate()
  }

  func lock() { pthread_mutex_lock(mutex) }
  func unlock() { pthread_mutex_unlock(mutex) }
  /// Waits for `broadcast`; call with the lock held.
  func wait() { pthread_cond_wait(condition, mutex) }
  func broadcast() { pthread_cond_broadcast(condition) }

  func withLock<R>(_ body: () throws -> R) rethrows -> R {
    lock()
    defer { unlock() }
    return try body()
  }
}

/// Starts detached pthreads for blocking work (inflating, extracting): work that must not
/// occupy the Swift concurrency pool's few threads.
enum WorkerThread {
  private final class Body {
    let name: String
    let run: () -> Void
    init(name: String, run: @escaping () -> Void) {
      self.name = name
      self.run = run
    }
  }

  /// Runs `body` on a new detached thread named `name` (at most 15 bytes show in `ps`).
  static func start(name: String, _ body: @escaping () -> Void) throws {
    let context = Unmanaged.passRetained(Body(name: name, run: body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    var thread = pthread_t()
    let rc = pthread_create(&thread, &attributes, { argument in
      guard let argument else { return nil }
      let body = Unmanaged<Body>.fromOpaque(argument).takeRetainedValue()
      body.name.withCString { name in
        // PR_SET_NAME (15): names the thread for ps, top and perf.
        _ = berth_prctl(15, UInt(bitPattern: Int(bitPattern: name)), 0, 0, 0)
      }
      body.run()
      return nil
    }, context)
    if rc != 0 {
      Unmanaged<Body>.fromOpaque(context).release()
      throw BerthError.system("start thread \(name)", errno: rc)
    }
  }
}

/// Runs `body` with the calling thread's character set set to UTF-8 (C.UTF-8), so that
/// libarchive passes UTF-8 names from pax headers through unchanged instead of warning that
/// they do not convert to the "C" locale. Per thread (uselocale): the process locale stays.
func withUTF8Locale<R>(_ body: () throws -> R) rethrows -> R {
  guard let utf8 = utf8Locale.value else { return try body() }
  let previous = uselocale(utf8)
  defer { if let previous { uselocale(previous) } }
  return try body()
}

private struct LocaleBox: @unchecked Sendable {
  let value: locale_t?
}

/// Created once and never freed: a locale object is small and shared by every thread.
private let utf8Locale = LocaleBox(value: newlocale(1 /* LC_CTYPE_MASK */, "C.UTF-8", nil))
