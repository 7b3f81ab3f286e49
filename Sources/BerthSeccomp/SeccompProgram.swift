#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import CLinux

/// A compiled seccomp filter: classic BPF instructions and the flags to load them with.
///
/// Made by ``Seccomp/compile(_:)`` in the runtime's parent process (libseccomp lives there),
/// loaded by ``load()`` in the container's init right before execve. A program is plain data:
/// it can cross a fork, and ``serialized`` / ``init(serialized:)`` let the runtime cache it on
/// disk, keyed by a hash of the config and ``Seccomp/compilerIdentity``.
public struct SeccompProgram: Sendable, Equatable {
  /// The instructions as the kernel reads them: `struct sock_filter` records of 8 bytes each,
  /// in host byte order.
  public private(set) var instructions: [UInt8]
  /// SECCOMP_FILTER_FLAG_* bits for seccomp(2), without SECCOMP_FILTER_FLAG_NEW_LISTENER
  /// (``load()`` adds it when ``usesNotify``).
  public var flags: UInt32
  /// A rule uses SCMP_ACT_NOTIFY: loading returns a listener descriptor.
  public var usesNotify: Bool

  /// A program from raw instructions. `instructions.count` must be a multiple of 8, with 1 to
  /// 4096 instructions.
  public init(instructions: [UInt8], flags: UInt32, usesNotify: Bool) throws {
    let count = instructions.count / BPFInstruction.size
    guard instructions.count % BPFInstruction.size == 0, count >= 1, count <= Kernel.maxInstructions else {
      throw BerthError(
        .invalidArgument,
        "seccomp program: \(instructions.count) bytes is not 1 to \(Kernel.maxInstructions) instructions of \(BPFInstruction.size) bytes")
    }
    self.instructions = instructions
    self.flags = flags
    self.usesNotify = usesNotify
  }

  /// The number of BPF instructions.
  public var instructionCount: Int { instructions.count / BPFInstruction.size }

  /// The instructions decoded, for inspection and tests.
  public var decodedInstructions: [BPFInstruction] {
    instructions.withUnsafeBytes { raw in
      stride(from: 0, to: raw.count, by: BPFInstruction.size).map { BPFInstruction(bytes: raw, at: $0) }
    }
  }

  /// The flags ``load()`` passes to seccomp(2).
  public var loadFlags: UInt32 {
    usesNotify ? flags | Kernel.flagNewListener : flags & ~Kernel.flagWaitKillableRecv
  }

  /// Installs the filter on the calling thread: seccomp(SECCOMP_SET_MODE_FILTER, ``loadFlags``).
  ///
  /// Returns the user-notification listener descriptor when ``usesNotify`` (close-on-exec, as the
  /// kernel creates it), nil otherwise.
  ///
  /// The kernel requires that the thread either has set no_new_privs
  /// (`prctl(PR_SET_NO_NEW_PRIVS, 1)`) or holds CAP_SYS_ADMIN in its user namespace; otherwise
  /// this fails with EACCES. The runtime decides which, as runc does: with
  /// `process.noNewPrivileges` it sets no_new_privs and loads the filter last, right before
  /// execve; without, it loads the filter while the init still has CAP_SYS_ADMIN, so every
  /// syscall the init makes afterwards (capset, setuid, close, execve, ...) is subject to it.
  ///
  /// No allocation and no libseccomp on success: this runs in the container's init after
  /// clone, possibly already under the filter's restrictions. The error path allocates the
  /// error; callers that must not allocate at all use ``loadReturningErrno()``.
  public func load() throws -> Int32? {
    let result = loadReturningErrno()
    if result < 0 {
      throw BerthError.system("load the seccomp filter (seccomp(2) flags \(loadFlags))", errno: -result)
    }
    return usesNotify ? result : nil
  }

  /// ``load()`` without Swift errors: the listener descriptor (or 0 without NOTIFY) on success,
  /// minus the errno on failure. Allocates nothing.
  public func loadReturningErrno() -> Int32 {
    let flags = loadFlags
    return instructions.withUnsafeBytes { raw -> Int32 in
      var program = SockFprog(length: UInt16(truncatingIfNeeded: raw.count / BPFInstruction.size), filter: raw.baseAddress)
      let result = withUnsafePointer(to: &program) { pointer in
        seccompSyscall(Kernel.setModeFilter, flags, UnsafeRawPointer(pointer))
      }
      return result < 0 ? -berth_errno() : Int32(truncatingIfNeeded: result)
    }
  }
}

/// `struct sock_fprog`: the length at offset 0, the pointer at the next pointer-aligned offset.
struct SockFprog {
  var length: UInt16
  var filter: UnsafeRawPointer?
}

// MARK: - Serialization

extension SeccompProgram {
  /// The magic at the start of ``serialized``.
  static let magic: [UInt8] = Array("BSCP".utf8)
  /// The current format version; ``init(serialized:)`` refuses others.
  public static let serializationVersion: UInt16 = 1
  private static let headerSize = 20
  private static let notifyBit: UInt16 = 1

  /// The program as bytes for an on-disk cache.
  ///
  /// Layout (little-endian): "BSCP", UInt16 format version, UInt16 option bits (bit 0:
  /// usesNotify), UInt32 seccomp flags, UInt32 AUDIT_ARCH of the compiling machine, UInt32
  /// instruction count, the instructions (host byte order, as loaded), UInt32 FNV-1a of all the
  /// preceding bytes. Programs are specific to the machine's architecture and libseccomp; key
  /// caches with ``Seccomp/compilerIdentity`` as well as the config.
  public var serialized: [UInt8] {
    var bytes = Self.magic
    bytes.reserveCapacity(Self.headerSize + instructions.count + 4)
    appendLE(Self.serializationVersion, to: &bytes)
    appendLE(usesNotify ? Self.notifyBit : 0, to: &bytes)
    appendLE(flags, to: &bytes)
    appendLE(Kernel.nativeAuditArch, to: &bytes)
    appendLE(UInt32(instructionCount), to: &bytes)
    bytes += instructions
    appendLE(fnv1a(bytes), to: &bytes)
    return bytes
  }

  /// Reads bytes made by ``serialized``; throws `invalidArgument` when they are truncated,
  /// corrupt, of another format version or for another architecture.
  public init(serialized bytes: [UInt8]) throws {
    func fail(_ why: String) -> BerthError {
      BerthError(.invalidArgument, "cached seccomp program: \(why)")
    }
    guard bytes.count >= Self.headerSize + 4, Array(bytes[0..<4]) == Self.magic else {
      throw fail("not a Berth seccomp program")
    }
    let version: UInt16 = readLE(bytes, at: 4)
    guard version == Self.serializationVersion else {
      throw fail("format version \(version), expected \(Self.serializationVersion)")
    }
    let options: UInt16 = readLE(bytes, at: 6)
    let flags: UInt32 = readLE(bytes, at: 8)
    let arch: UInt32 = readLE(bytes, at: 12)
    let count: UInt32 = readLE(bytes, at: 16)
    let end = Self.headerSize + Int(count) * BPFInstruction.size
    guard bytes.count == end + 4 else {
      throw fail("\(bytes.count) bytes, expected \(end + 4) for \(count) instructions")
    }
    let checksum: UInt32 = readLE(bytes, at: end)
    guard checksum == fnv1a(bytes[0..<end]) else { throw fail("checksum mismatch") }
    guard arch == Kernel.nativeAuditArch else {
      throw fail("compiled for audit arch 0x\(String(arch, radix: 16)), this machine is 0x\(String(Kernel.nativeAuditArch, radix: 16))")
    }
    try self.init(
      instructions: Array(bytes[Self.headerSize..<end]), flags: flags,
      usesNotify: options & Self.notifyBit != 0)
  }
}

private func appendLE<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
  withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
}

private func readLE<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int) -> T {
  var value: T = 0
  for index in 0..<MemoryLayout<T>.size {
    value |= T(bytes[offset + index]) << (8 * index)
  }
  return value
}

/// 32-bit FNV-1a: catches truncated or damaged cache files; not a defence against tampering
/// (whoever can write the cache can write anything).
private func fnv1a(_ bytes: some Collection<UInt8>) -> UInt32 {
  var hash: UInt32 = 0x811C_9DC5
  for byte in bytes {
    hash ^= UInt32(byte)
    hash &*= 0x0100_0193
  }
  return hash
}
