#if canImport(Glibc)
import Glibc
#endif
import CLinux
import CSeccomp

/// Kernel ABI values from <linux/seccomp.h>, <linux/filter.h> and <linux/audit.h> that Swift
/// cannot import (they are macros, some function-like) or that the headers of older systems lack.
enum Kernel {
  // ---- seccomp(2) operations ----
  static let setModeFilter: Int = 1
  static let getActionAvail: Int = 2

  // ---- prctl(2) options from <linux/prctl.h> ----
  static let prGetSeccomp: Int32 = 21
  static let prSetNoNewPrivs: Int32 = 38

  // ---- SECCOMP_FILTER_FLAG_* ----
  static let flagTSync: UInt32 = 1 << 0
  static let flagLog: UInt32 = 1 << 1
  static let flagSpecAllow: UInt32 = 1 << 2
  static let flagNewListener: UInt32 = 1 << 3
  static let flagWaitKillableRecv: UInt32 = 1 << 5

  // ---- SECCOMP_RET_* (the same values as libseccomp's SCMP_ACT_*) ----
  static let retKillProcess: UInt32 = 0x8000_0000
  static let retKillThread: UInt32 = 0x0000_0000
  static let retTrap: UInt32 = 0x0003_0000
  static let retErrno: UInt32 = 0x0005_0000
  static let retUserNotif: UInt32 = 0x7FC0_0000
  static let retTrace: UInt32 = 0x7FF0_0000
  static let retLog: UInt32 = 0x7FFC_0000
  static let retAllow: UInt32 = 0x7FFF_0000
  static let retDataMask: UInt32 = 0x0000_FFFF

  /// SCMP_ACT_ERRNO(x) from <seccomp.h>.
  static func actErrno(_ value: UInt32) -> UInt32 { retErrno | (value & retDataMask) }
  /// SCMP_ACT_TRACE(x) from <seccomp.h>.
  static func actTrace(_ value: UInt32) -> UInt32 { retTrace | (value & retDataMask) }

  /// BPF_MAXINSNS: the kernel refuses longer classic BPF programs.
  static let maxInstructions = 4096

  // ---- struct seccomp_data offsets ----
  static let dataNr: UInt32 = 0
  static let dataArch: UInt32 = 4

  /// The x32 ABI marks its syscall numbers with this bit; its audit arch is x86_64's.
  static let x32SyscallBit: UInt32 = 0x4000_0000

  // ---- AUDIT_ARCH_* that the -ENOSYS stub needs by name ----
  static let auditArchX86_64: UInt32 = 0xC000_003E
  static let auditArchS390: UInt32 = 0x0000_0016
  static let auditArchS390X: UInt32 = 0x8000_0016
  /// libseccomp's SCMP_ARCH_X32 token: not a real audit arch value (EM_X86_64 | __AUDIT_ARCH_LE).
  static let scmpArchX32: UInt32 = 0x4000_003E

  // ---- this machine ----
  #if arch(x86_64)
  static let sysSeccomp: Int = 317
  static let nativeAuditArch: UInt32 = 0xC000_003E
  #elseif arch(arm64)
  static let sysSeccomp: Int = 277
  static let nativeAuditArch: UInt32 = 0xC000_00B7
  #elseif arch(riscv64)
  static let sysSeccomp: Int = 277
  static let nativeAuditArch: UInt32 = 0xC000_00F3
  #elseif arch(s390x)
  static let sysSeccomp: Int = 348
  static let nativeAuditArch: UInt32 = 0x8000_0016
  #elseif arch(powerpc64le)
  static let sysSeccomp: Int = 358
  static let nativeAuditArch: UInt32 = 0xC000_0015
  #else
  /// Unknown here: seccomp(2) then fails with ENOSYS instead of calling something else.
  static let sysSeccomp: Int = -1
  static let nativeAuditArch: UInt32 = seccomp_arch_native()
  #endif
}

/// One architecture the runtime-spec names, and what libseccomp calls it.
struct SeccompArchitecture {
  /// "SCMP_ARCH_X86_64"
  let ociName: String
  /// "x86_64", for seccomp_arch_resolve_name(3).
  let libseccompName: String

  /// Every architecture in the runtime-spec's list, in its order.
  static let all: [SeccompArchitecture] = [
    .init(ociName: "SCMP_ARCH_X86", libseccompName: "x86"),
    .init(ociName: "SCMP_ARCH_X86_64", libseccompName: "x86_64"),
    .init(ociName: "SCMP_ARCH_X32", libseccompName: "x32"),
    .init(ociName: "SCMP_ARCH_ARM", libseccompName: "arm"),
    .init(ociName: "SCMP_ARCH_AARCH64", libseccompName: "aarch64"),
    .init(ociName: "SCMP_ARCH_MIPS", libseccompName: "mips"),
    .init(ociName: "SCMP_ARCH_MIPS64", libseccompName: "mips64"),
    .init(ociName: "SCMP_ARCH_MIPS64N32", libseccompName: "mips64n32"),
    .init(ociName: "SCMP_ARCH_MIPSEL", libseccompName: "mipsel"),
    .init(ociName: "SCMP_ARCH_MIPSEL64", libseccompName: "mipsel64"),
    .init(ociName: "SCMP_ARCH_MIPSEL64N32", libseccompName: "mipsel64n32"),
    .init(ociName: "SCMP_ARCH_PPC", libseccompName: "ppc"),
    .init(ociName: "SCMP_ARCH_PPC64", libseccompName: "ppc64"),
    .init(ociName: "SCMP_ARCH_PPC64LE", libseccompName: "ppc64le"),
    .init(ociName: "SCMP_ARCH_S390", libseccompName: "s390"),
    .init(ociName: "SCMP_ARCH_S390X", libseccompName: "s390x"),
    .init(ociName: "SCMP_ARCH_PARISC", libseccompName: "parisc"),
    .init(ociName: "SCMP_ARCH_PARISC64", libseccompName: "parisc64"),
    .init(ociName: "SCMP_ARCH_RISCV64", libseccompName: "riscv64"),
    .init(ociName: "SCMP_ARCH_LOONGARCH64", libseccompName: "loongarch64"),
    .init(ociName: "SCMP_ARCH_M68K", libseccompName: "m68k"),
    .init(ociName: "SCMP_ARCH_SH", libseccompName: "sh"),
    .init(ociName: "SCMP_ARCH_SHEB", libseccompName: "sheb"),
  ]

  static func named(_ ociName: String) -> SeccompArchitecture? {
    all.first { $0.ociName == ociName }
  }

  /// libseccomp's token (SCMP_ARCH_*), or nil when this libseccomp does not support it.
  var token: UInt32? {
    let value = seccomp_arch_resolve_name(libseccompName)
    return value == 0 ? nil : value
  }
}

/// A SECCOMP_FILTER_FLAG_* the runtime-spec names.
struct SeccompFlagInfo {
  let name: String
  let bit: UInt32

  static let all: [SeccompFlagInfo] = [
    .init(name: "SECCOMP_FILTER_FLAG_TSYNC", bit: Kernel.flagTSync),
    .init(name: "SECCOMP_FILTER_FLAG_LOG", bit: Kernel.flagLog),
    .init(name: "SECCOMP_FILTER_FLAG_SPEC_ALLOW", bit: Kernel.flagSpecAllow),
    .init(name: "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", bit: Kernel.flagWaitKillableRecv),
  ]

  static func named(_ name: String) -> SeccompFlagInfo? {
    all.first { $0.name == name }
  }
}

/// seccomp(2) through the raw syscall: glibc has no wrapper.
@inline(__always)
func seccompSyscall(_ operation: Int, _ flags: UInt32, _ args: UnsafeRawPointer?) -> Int {
  berth_syscall6(Kernel.sysSeccomp, operation, Int(flags), Int(bitPattern: args), 0, 0, 0)
}
