#if canImport(Glibc)
import Glibc
#endif
import BerthJSON
import BerthOCI
import BerthOS

/// The points of the lifecycle where hooks run, with the spec's rules for failures.
enum HookPhase: String {
  case prestart, createRuntime, createContainer, startContainer, poststart, poststop

  func hooks(in hooks: Hooks) -> [Hook] {
    switch self {
    case .prestart: return hooks.prestart ?? []
    case .createRuntime: return hooks.createRuntime ?? []
    case .createContainer: return hooks.createContainer ?? []
    case .startContainer: return hooks.startContainer ?? []
    case .poststart: return hooks.poststart ?? []
    case .poststop: return hooks.poststop ?? []
    }
  }

  /// Failures of poststart and poststop hooks are only warnings (runtime-spec, "Lifecycle").
  var failureIsFatal: Bool { self != .poststart && self != .poststop }
}

enum HookRunner {
  /// Runs the phase's hooks in order, each with the container state on stdin. Throws on the
  /// first failure of a fatal phase; returns the warnings of the others.
  @discardableResult
  static func run(_ phase: HookPhase, hooks: Hooks, state: ContainerState) throws -> [String] {
    let list = phase.hooks(in: hooks)
    guard !list.isEmpty else { return [] }
    let input = try JSON.encode(state)
    var warnings: [String] = []
    for (index, hook) in list.enumerated() {
      let name = "hooks.\(phase.rawValue)[\(index)] (\(hook.path))"
      do {
        try runOne(hook, input: input, name: name)
      } catch let error as BerthError {
        if phase.failureIsFatal { throw error }
        warnings.append(error.message)
      }
    }
    return warnings
  }

  static func runOne(_ hook: Hook, input: [UInt8], name: String) throws {
    if let timeout = hook.timeout, timeout <= 0 {
      throw BerthError(.invalidArgument, "\(name): timeout must be greater than zero, got \(timeout)")
    }
    let args = (hook.args?.isEmpty ?? true) ? [hook.path] : (hook.args ?? [])
    let result: (status: ExitStatus, output: [UInt8], error: [UInt8], timedOut: Bool)
    do {
      result = try Subprocess.run(
        hook.path, args: args, env: hook.env ?? [], input: input,
        timeoutNanoseconds: hook.timeout.map { UInt64($0) * 1_000_000_000 })
    } catch let error as BerthError {
      throw BerthError(.commandFailed, "\(name): \(error.message)", errno: error.errno)
    }
    if result.timedOut {
      throw BerthError(.commandFailed, "\(name): timed out after \(hook.timeout ?? 0) seconds")
    }
    guard result.status == .exited(0) else {
      var message = "\(name) failed: \(result.status)"
      let stdout = String(decoding: result.output, as: UTF8.self).trimmingSpaces()
      let stderr = String(decoding: result.error, as: UTF8.self).trimmingSpaces()
      if !stdout.isEmpty { message += ", stdout: \(stdout)" }
      if !stderr.isEmpty { message += ", stderr: \(stderr)" }
      throw BerthError(.commandFailed, message)
    }
  }
}
