import BerthEngine
import BerthImages
import BerthOS
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One build step's writable view of the image being built: the state's layers (read-only
/// lowerdirs) under a fresh upper directory, merged by overlayfs at `rootfs`. What the step
/// changes lands in `upper`, which becomes the step's layer.
///
///     <root>/build/<step id>/upper work rootfs     the overlay
///     <root>/build/<step id>/empty                 the lowerdir of a state with no layer (scratch)
///     <root>/build/<step id>/bundle/config.json    the OCI bundle of a RUN
///
/// ``remove()`` takes all of it back, whatever state the step is in.
final class StepMount: @unchecked Sendable {
  let id: String
  let directory: String
  var upper: String { directory + "/upper" }
  var work: String { directory + "/work" }
  var rootfs: String { directory + "/rootfs" }
  var bundle: String { directory + "/bundle" }

  /// Held while the step exists (``BuildScratch``).
  private let lock: FileLock
  private let state = NSLock()
  private var removed = false

  /// Makes the directories and mounts the overlay; `lowers` top first (empty for scratch).
  init(buildRoot: String, lowers: [String]) throws {
    id = ContainerStore.newID()
    directory = buildRoot + "/" + id
    lock = try BuildScratch.claim(directory)
    BuildInterrupt.shared.add(self)
    do {
      for path in [directory, upper, work, rootfs] { try FS.makeDirectories(path, mode: 0o700) }
      // The overlay's root takes the upper directory's mode: 0755 as an image's root is.
      try check("chmod \(upper)") { chmod(upper, 0o755) }
      var lowers = lowers
      if lowers.isEmpty {
        let empty = directory + "/empty"
        try FS.makeDirectories(empty, mode: 0o755)
        lowers = [empty]
      }
      try OverlayMount.mount(lowers: lowers, upper: upper, work: work, target: rootfs)
    } catch {
      remove()
      throw error
    }
  }

  /// Detaches the overlay (the upper keeps the changes).
  func unmount() throws {
    try OverlayMount.unmount(rootfs)
  }

  /// Unmounts and deletes everything of the step. Never fails: it runs on error paths (and
  /// from the interrupt handler: only the first call does it).
  func remove() {
    let first = state.withLock {
      defer { removed = true }
      return !removed
    }
    guard first else { return }
    try? OverlayMount.unmount(rootfs)
    // The work directory's "work" subdirectory is mode 000: removeTree copes with it.
    try? FS.removeTree(directory)
    BuildScratch.release(directory, lock: lock)
    BuildInterrupt.shared.remove(self)
  }
}
