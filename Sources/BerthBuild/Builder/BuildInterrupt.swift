import BerthOS
import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C (SIGINT) or SIGTERM in the middle of a build: the running step's container is
/// ended and deleted, its overlay unmounted and its directories removed, then berth exits
/// with 130 (128 + SIGINT) or 143. Nothing is left behind (a SIGKILL cannot be caught: that
/// leaves the step's directory under `<root>/build` until the next `system prune`-like cleanup).
final class BuildInterrupt: @unchecked Sendable {
  static let shared = BuildInterrupt()

  /// A RUN step's runtime process and what deletes its container.
  struct RunningStep {
    var pid: pid_t
    var id: String
    var runtimePath: String
    var runtimeRoot: String
  }

  private let lock = NSLock()
  private var mounts: [String: StepMount] = [:]
  private var running: [String: RunningStep] = [:]
  private var sources: [DispatchSourceSignal] = []

  /// Takes SIGINT and SIGTERM over (once per process).
  func install() {
    lock.lock()
    defer { lock.unlock() }
    guard sources.isEmpty else { return }
    for number in [SIGINT, SIGTERM] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler { [unowned self] in self.interrupted(by: number) }
      source.resume()
      sources.append(source)
    }
  }

  func add(_ mount: StepMount) {
    lock.withLock { mounts[mount.id] = mount }
  }

  func remove(_ mount: StepMount) {
    lock.withLock { _ = mounts.removeValue(forKey: mount.id) }
  }

  func started(_ step: RunningStep) {
    lock.withLock { running[step.id] = step }
  }

  func ended(_ id: String) {
    lock.withLock { _ = running.removeValue(forKey: id) }
  }

  /// Set once a signal came: the handler owns the rest of the process's life.
  private var interrupting = false

  /// Called by the build after a step's process ended: when that was the interrupt's doing,
  /// waits for the handler to finish and exit (the build must not go on, or report the
  /// killed step as a failure of its own).
  func parkIfInterrupted() {
    guard lock.withLock({ interrupting }) else { return }
    while true { pause() }
  }

  private func interrupted(by number: Int32) {
    let (steps, active) = lock.withLock {
      interrupting = true
      return (Array(running.values), Array(mounts.values))
    }
    writeToStandardError("\ninterrupted: removing the build's running step\n")
    for step in steps {
      kill(step.pid, SIGKILL)
      StepRunner.forceDelete(step.id, runtimePath: step.runtimePath, root: step.runtimeRoot)
    }
    for mount in active { mount.remove() }
    exit(128 + number)
  }
}
