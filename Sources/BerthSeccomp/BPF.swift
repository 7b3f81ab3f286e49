#if canImport(Glibc)
import Glibc
#endif

/// One classic BPF instruction, laid out as the kernel's `struct sock_filter` (8 bytes).
public struct BPFInstruction: Sendable, Equatable, CustomStringConvertible {
  public var code: UInt16
  public var jt: UInt8
  public var jf: UInt8
  public var k: UInt32

  public init(code: UInt16, jt: UInt8 = 0, jf: UInt8 = 0, k: UInt32) {
    self.code = code
    self.jt = jt
    self.jf = jf
    self.k = k
  }

  /// The size of one instruction in a program's bytes.
  public static let size = 8

  // Opcodes (from <linux/bpf_common.h>) the runtime generates or tests look for.
  public static let loadWordAbsolute: UInt16 = 0x20  // BPF_LD | BPF_W | BPF_ABS
  public static let jumpAlways: UInt16 = 0x05  // BPF_JMP | BPF_JA
  public static let jumpEqual: UInt16 = 0x15  // BPF_JMP | BPF_JEQ | BPF_K
  public static let jumpGreater: UInt16 = 0x25  // BPF_JMP | BPF_JGT | BPF_K
  public static let jumpSet: UInt16 = 0x45  // BPF_JMP | BPF_JSET | BPF_K
  public static let returnConstant: UInt16 = 0x06  // BPF_RET | BPF_K

  /// Appends the instruction in host byte order, as seccomp(2) reads it.
  func append(to bytes: inout [UInt8]) {
    withUnsafeBytes(of: code) { bytes.append(contentsOf: $0) }
    bytes.append(jt)
    bytes.append(jf)
    withUnsafeBytes(of: k) { bytes.append(contentsOf: $0) }
  }

  /// Reads the instruction at `offset` (host byte order).
  init(bytes: UnsafeRawBufferPointer, at offset: Int) {
    code = bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
    jt = bytes[offset + 2]
    jf = bytes[offset + 3]
    k = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
  }

  public var description: String {
    func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }
    switch code {
    case Self.loadWordAbsolute: return "ld [\(k)]"
    case Self.jumpAlways: return "ja +\(k)"
    case Self.jumpEqual: return "jeq \(hex(k)) +\(jt) +\(jf)"
    case Self.jumpGreater: return "jgt \(hex(k)) +\(jt) +\(jf)"
    case Self.jumpSet: return "jset \(hex(k)) +\(jt) +\(jf)"
    case Self.returnConstant: return "ret \(hex(k))"
    default: return "op \(hex(UInt32(code))) \(hex(k)) +\(jt) +\(jf)"
    }
  }
}

/// The largest syscall number a filter names, per architecture: what the -ENOSYS stub checks.
struct StubArchitecture: Equatable {
  /// The AUDIT_ARCH_* value the kernel puts in seccomp_data.arch.
  var auditArch: UInt32
  /// The largest syscall number of the architecture's native ABI, nil when the filter names none.
  var maxSyscall: UInt32?
  /// On x86_64 only: the largest x32 syscall number (with the x32 bit), nil without x32.
  var maxX32Syscall: UInt32?
}

/// Builds runc's "-ENOSYS stub": a short prefix to a libseccomp program that answers ENOSYS to
/// any syscall newer than every syscall the profile names, so that libc falls back to older
/// syscalls (clone3 → clone, faccessat2 → faccessat) instead of failing on the default EPERM.
/// Everything else falls through to the libseccomp program, which reloads what it needs
/// (its jumps are relative, so prepending keeps them valid).
enum EnosysStub {
  private enum Label: Hashable {
    case enosys, filter, section(Int), x32Section(Int)
  }

  private struct Pending {
    var code: UInt16
    var k: UInt32
    var jt: Label?
    var jf: Label?
    /// For `ja`: the label k jumps to.
    var target: Label?
  }

  static func generate(_ architectures: [StubArchitecture]) throws -> [BPFInstruction] {
    let arches = architectures.filter { $0.maxSyscall != nil || $0.maxX32Syscall != nil }
    if arches.isEmpty { return [] }
    var code: [Pending] = []
    var labels: [Label: Int] = [:]
    func emit(_ op: UInt16, _ k: UInt32, jt: Label? = nil, jf: Label? = nil, target: Label? = nil) {
      code.append(Pending(code: op, k: k, jt: jt, jf: jf, target: target))
    }
    func place(_ label: Label) { labels[label] = code.count }

    emit(BPFInstruction.loadWordAbsolute, Kernel.dataArch)
    for (index, arch) in arches.enumerated() {
      emit(BPFInstruction.jumpEqual, arch.auditArch, jt: .section(index))
    }
    emit(BPFInstruction.jumpAlways, 0, target: .filter)
    for (index, arch) in arches.enumerated() {
      place(.section(index))
      emit(BPFInstruction.loadWordAbsolute, Kernel.dataNr)
      if arch.auditArch == Kernel.auditArchS390 || arch.auditArch == Kernel.auditArchS390X {
        // Syscall 0 multiplexes large syscall numbers on s390: unknown ones arrive as 0.
        emit(BPFInstruction.jumpEqual, 0, jt: .enosys)
      }
      if arch.auditArch == Kernel.auditArchX86_64 {
        switch (arch.maxSyscall, arch.maxX32Syscall) {
        case (let native?, nil):
          // x32 calls (not in the filter) go to libseccomp's bad-arch handling.
          emit(BPFInstruction.jumpSet, Kernel.x32SyscallBit, jt: .filter)
          emit(BPFInstruction.jumpGreater, native, jt: .enosys, jf: .filter)
        case (nil, let x32?):
          emit(BPFInstruction.jumpSet, Kernel.x32SyscallBit, jf: .filter)
          emit(BPFInstruction.jumpGreater, x32, jt: .enosys, jf: .filter)
        case (let native?, let x32?):
          emit(BPFInstruction.jumpSet, Kernel.x32SyscallBit, jt: .x32Section(index))
          emit(BPFInstruction.jumpGreater, native, jt: .enosys, jf: .filter)
          place(.x32Section(index))
          emit(BPFInstruction.jumpGreater, x32, jt: .enosys, jf: .filter)
        case (nil, nil):
          break
        }
      } else if let native = arch.maxSyscall {
        emit(BPFInstruction.jumpGreater, native, jt: .enosys, jf: .filter)
      }
    }
    place(.enosys)
    emit(BPFInstruction.returnConstant, Kernel.actErrno(UInt32(ENOSYS)))
    place(.filter)

    var program: [BPFInstruction] = []
    for (index, pending) in code.enumerated() {
      func offset(_ label: Label?) throws -> UInt32 {
        guard let label else { return 0 }
        guard let destination = labels[label], destination > index else {
          throw StubError.badJump
        }
        return UInt32(destination - index - 1)
      }
      let jt = try offset(pending.jt), jf = try offset(pending.jf)
      guard jt <= 255, jf <= 255 else { throw StubError.jumpTooFar }
      let k = pending.target != nil ? try offset(pending.target) : pending.k
      program.append(BPFInstruction(code: pending.code, jt: UInt8(jt), jf: UInt8(jf), k: k))
    }
    return program
  }

  enum StubError: Error {
    case badJump, jumpTooFar
  }
}
