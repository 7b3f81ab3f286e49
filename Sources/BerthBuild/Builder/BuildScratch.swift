import BerthEngine
import BerthImages
import BerthOS
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The directories a build works in under `<root>/build` (steps, a context from stdin), each
/// with a lock file beside it (`NAME.lock`) held while its build runs. A build killed with
/// SIGKILL cannot clean up: the next build finds its directories unlocked and removes them
/// (unmounting a step's overlay first).
public enum BuildScratch {
  /// Takes the lock of `directory` (made by the caller); released by ``release(_:lock:)``.
  public static func claim(_ directory: String) throws -> FileLock {
    guard let lock = try FileLock.tryAcquire(directory + ".lock") else {
      throw BerthError(.alreadyExists, "\(directory) is in use by another build")
    }
    return lock
  }

  /// Removes the lock file and lets it go (after the directory is gone).
  public static func release(_ directory: String, lock: FileLock) {
    unlink(directory + ".lock")
    lock.release()
  }

  /// Removes what builds that are gone left in `buildRoot`: a step's container still known
  /// to the runtime (whose state is in `runtimeRoot`) is deleted first.
  public static func sweep(_ buildRoot: String, runtimeRoot: String) {
    for name in (try? FS.list(buildRoot)) ?? [] where !name.hasSuffix(".lock") {
      let directory = buildRoot + "/" + name
      guard let lock = try? FileLock.tryAcquire(directory + ".lock") else { continue }
      if FS.exists(runtimeRoot + "/" + name), let runtime = try? RuntimeChoice.resolve(nil) {
        StepRunner.forceDelete(name, runtimePath: runtime.path, root: runtimeRoot)
      }
      try? OverlayMount.unmount(directory + "/rootfs")
      if (try? FS.removeTree(directory)) != nil { unlink(directory + ".lock") }
      lock.release()
    }
  }
}
