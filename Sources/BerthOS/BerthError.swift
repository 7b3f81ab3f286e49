#if canImport(Glibc)
import Glibc
#endif

/// The one error type of Berth's libraries: a code that callers can branch on and a message
/// that names the cause in words a user can act on.
public struct BerthError: Error, CustomStringConvertible, Sendable, Equatable {
  /// What kind of failure this is. Extensible: modules add their own codes as static members.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public init(_ name: String) { self.name = name }
    public var description: String { name }

    /// The input (config, flag, argument) is wrong; the message says which and why.
    public static let invalidArgument = Code("invalidArgument")
    /// Something named does not exist (a container, a file, a cgroup).
    public static let notFound = Code("notFound")
    /// Something to be created exists already.
    public static let alreadyExists = Code("alreadyExists")
    /// The operation does not fit the object's current state (e.g. start of a running container).
    public static let invalidState = Code("invalidState")
    /// This host or build cannot do what was asked (a missing kernel feature, an LSM, ...).
    public static let unsupported = Code("unsupported")
    /// A system call failed; `errno` holds its error number.
    public static let system = Code("system")
    /// A hook or helper program failed.
    public static let commandFailed = Code("commandFailed")
    /// A bug: an invariant did not hold.
    public static let internalError = Code("internalError")
  }

  public var code: Code
  public var message: String
  /// The errno of the failed system call, when there was one.
  public var errno: Int32?

  public init(_ code: Code, _ message: String, errno: Int32? = nil) {
    self.code = code
    self.message = message
    self.errno = errno
  }

  /// A failed system call: "mount /proc on /run/x/rootfs/proc: Operation not permitted".
  public static func system(_ what: String, errno: Int32 = Glibc.errno) -> BerthError {
    BerthError(.system, "\(what): \(errnoDescription(errno))", errno: errno)
  }

  public var description: String { message }

  /// The same error with more context in front: "create container x: <message>".
  public func prefixed(_ context: String) -> BerthError {
    BerthError(code, "\(context): \(message)", errno: errno)
  }
}

/// strerror(3), without the locale machinery of strerror_l.
public func errnoDescription(_ value: Int32) -> String {
  guard let text = strerror(value) else { return "errno \(value)" }
  return String(cString: text)
}

/// Runs `body` until it does not fail with EINTR; returns its result.
@inline(__always)
public func retryOnInterrupt<T: BinaryInteger>(_ body: () -> T) -> T {
  while true {
    let result = body()
    if result >= 0 || errno != EINTR { return result }
  }
}

/// Calls a syscall wrapper and throws `BerthError.system(what)` when it returns -1.
@discardableResult
@inline(__always)
public func check<T: BinaryInteger>(_ what: @autoclosure () -> String, _ body: () -> T) throws -> T {
  let result = retryOnInterrupt(body)
  if result < 0 { throw BerthError.system(what()) }
  return result
}
