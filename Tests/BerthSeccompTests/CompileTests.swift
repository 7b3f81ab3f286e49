import BerthOCI
import Foundation
import Glibc
import Testing

@testable import BerthSeccomp

@Suite("Seccomp.compile: validation and structure")
struct CompileTests {
  /// Configs the runtime must refuse, and the field each error must name.
  static let badConfigs: [(name: String, config: LinuxSeccomp, field: String)] = [
    ("unknown architecture",
     LinuxSeccomp(defaultAction: .allow, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"]),
     "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_VAX\""),
    ("unknown flag",
     LinuxSeccomp(defaultAction: .allow, flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_FAST"]),
     "linux.seccomp.flags[1]: unknown flag \"SECCOMP_FILTER_FLAG_FAST\""),
    ("argument index 6",
     LinuxSeccomp(defaultAction: .allow, syscalls: [
       SeccompSyscall(names: ["getpid"], action: .errno),
       SeccompSyscall(names: ["personality"], action: .errno, args: [
         SeccompArg(index: 0, value: 1, op: .equalTo), SeccompArg(index: 6, value: 1, op: .equalTo),
       ]),
     ]),
     "linux.seccomp.syscalls[1].args[1].index: 6 is out of range"),
    ("errnoRet on ALLOW",
     LinuxSeccomp(defaultAction: .errno, syscalls: [
       SeccompSyscall(names: ["getpid"], action: .allow),
       SeccompSyscall(names: ["read"], action: .allow),
       SeccompSyscall(names: ["write"], action: .allow),
       SeccompSyscall(names: ["mkdir"], action: .allow, errnoRet: 13),
     ]),
     "linux.seccomp.syscalls[3].errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE"),
    ("defaultErrnoRet on KILL_PROCESS",
     LinuxSeccomp(defaultAction: .killProcess, defaultErrnoRet: 1),
     "linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE"),
    ("errnoRet wider than 16 bits",
     LinuxSeccomp(defaultAction: .allow, syscalls: [SeccompSyscall(names: ["mkdir"], action: .errno, errnoRet: 65536)]),
     "linux.seccomp.syscalls[0].errnoRet: 65536 does not fit"),
    ("NOTIFY without listenerPath",
     LinuxSeccomp(defaultAction: .allow, syscalls: [SeccompSyscall(names: ["mkdir"], action: .notify)]),
     "linux.seccomp.listenerPath: required when an action is SCMP_ACT_NOTIFY"),
    ("listenerPath without NOTIFY",
     LinuxSeccomp(defaultAction: .allow, listenerPath: "/run/agent.sock",
                  syscalls: [SeccompSyscall(names: ["mkdir"], action: .errno)]),
     "linux.seccomp.listenerPath: set, but no rule uses SCMP_ACT_NOTIFY"),
    ("NOTIFY as the default action",
     LinuxSeccomp(defaultAction: .notify, listenerPath: "/run/agent.sock"),
     "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"),
    ("NOTIFY on write",
     LinuxSeccomp(defaultAction: .allow, listenerPath: "/run/agent.sock",
                  syscalls: [SeccompSyscall(names: ["mkdir", "write"], action: .notify)]),
     "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for \"write\""),
    ("empty syscall name",
     LinuxSeccomp(defaultAction: .allow, syscalls: [SeccompSyscall(names: ["mkdir", ""], action: .errno)]),
     "linux.seccomp.syscalls[0].names[1]: empty syscall name"),
  ]

  @Test("refuses bad configs with an error that names the field", arguments: badConfigs)
  func refuses(_ name: String, _ config: LinuxSeccomp, _ field: String) {
    expectBerthError(code: "invalidArgument", messagePrefix: field, name) { _ = try Seccomp.compile(config) }
  }

  @Test("an unknown operator is refused when the JSON is decoded")
  func unknownOperatorFailsDecoding() {
    let json = #"{"index": 0, "value": 1, "op": "SCMP_CMP_APPROX"}"#
    #expect(throws: DecodingError.self) {
      _ = try JSONDecoder().decode(SeccompArg.self, from: Data(json.utf8))
    }
  }

  @Test("a rule with the default action and unknown syscall names change nothing")
  func skipsRedundantRulesAndUnknownNames() throws {
    let base = LinuxSeccomp(defaultAction: .errno, syscalls: [
      SeccompSyscall(names: ["getpid", "exit_group"], action: .allow),
    ])
    var noisy = base
    noisy.syscalls! += [
      SeccompSyscall(names: ["mkdir"], action: .errno),  // == default: skipped
      SeccompSyscall(names: ["mkdir"], action: .errno, errnoRet: 1),  // EPERM == default: skipped
      SeccompSyscall(names: ["no_such_syscall_ever", "getpid"], action: .allow),
    ]
    #expect(try Seccomp.compile(noisy) == Seccomp.compile(base))
    // A different errno is a different action, and is kept.
    var different = base
    different.syscalls!.append(SeccompSyscall(names: ["mkdir"], action: .errno, errnoRet: 13))
    #expect(try Seccomp.compile(different) != Seccomp.compile(base))
  }

  @Test("flags: LOG and SPEC_ALLOW become bits; TSYNC is ignored; WAIT_KILLABLE_RECV needs NOTIFY")
  func flags() throws {
    let plain = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .allow,
      flags: ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
              "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
      syscalls: [SeccompSyscall(names: ["mkdir"], action: .errno)]))
    #expect(plain.flags == Kernel.flagLog | Kernel.flagSpecAllow)
    #expect(plain.loadFlags == Kernel.flagLog | Kernel.flagSpecAllow)
    #expect(!plain.usesNotify)

    let notify = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .allow, flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"], listenerPath: "/run/a.sock",
      syscalls: [SeccompSyscall(names: ["mkdir"], action: .notify)]))
    #expect(notify.usesNotify)
    #expect(notify.flags == Kernel.flagWaitKillableRecv)
    #expect(notify.loadFlags == Kernel.flagWaitKillableRecv | Kernel.flagNewListener)
  }

  #if arch(x86_64)
  @Test("extra architectures: x86 and x32 get their own checks, x86_64 stays")
  func architectures() throws {
    let config = LinuxSeccomp(
      defaultAction: .errno, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      syscalls: [SeccompSyscall(names: ["getpid", "exit_group", "socketcall"], action: .allow)])
    let program = try Seccomp.compile(config)
    let compares = Set(program.decodedInstructions.filter { $0.code == BPFInstruction.jumpEqual }.map(\.k))
    #expect(compares.contains(0xC000_003E))  // AUDIT_ARCH_X86_64 (x86_64 and x32)
    #expect(compares.contains(0x4000_0003))  // AUDIT_ARCH_I386
    let nativeOnly = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .errno, syscalls: [SeccompSyscall(names: ["getpid", "exit_group", "socketcall"], action: .allow)]))
    #expect(!Set(nativeOnly.decodedInstructions.map(\.k)).contains(0x4000_0003))
    #expect(program.instructionCount > nativeOnly.instructionCount)
  }

  @Test("the -ENOSYS stub: present for a deny-by-default profile, absent for allow-by-default")
  func enosysStubPresence() throws {
    let enosys = Kernel.actErrno(UInt32(ENOSYS))
    let deny = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .errno, syscalls: [SeccompSyscall(names: ["getpid", "exit_group"], action: .allow)]))
    let first = deny.decodedInstructions.prefix(8)
    #expect(first.first == BPFInstruction(code: BPFInstruction.loadWordAbsolute, k: 4))
    #expect(first.contains { $0.code == BPFInstruction.jumpGreater && $0.k == UInt32(sysno("exit_group")) })
    #expect(deny.decodedInstructions.contains { $0.code == BPFInstruction.returnConstant && $0.k == enosys })

    let allow = try Seccomp.compile(
      LinuxSeccomp(defaultAction: .allow, syscalls: [SeccompSyscall(names: ["mkdir"], action: .errno)]))
    #expect(!allow.decodedInstructions.contains { $0.code == BPFInstruction.returnConstant && $0.k == enosys })
    // With ENOSYS as the default errno the stub would change nothing: 7 instructions fewer.
    let alreadyENOSYS = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .errno, defaultErrnoRet: UInt(ENOSYS),
      syscalls: [SeccompSyscall(names: ["getpid", "exit_group"], action: .allow)]))
    #expect(deny.instructionCount - alreadyENOSYS.instructionCount == 7)
  }
  #endif

  @Test("the stub generator: x86_64 with x32, and an architecture with no known syscalls")
  func stubGenerator() throws {
    let stub = try EnosysStub.generate([
      StubArchitecture(auditArch: 0xC000_003E, maxSyscall: 450, maxX32Syscall: 0x4000_0000 + 450),
      StubArchitecture(auditArch: 0x4000_0003, maxSyscall: 460),
      StubArchitecture(auditArch: 0xC000_00B7),  // nothing known: no section
    ])
    let text = stub.map(\.description)
    #expect(text == [
      "ld [4]",
      "jeq 0xc000003e +2 +0",
      "jeq 0x40000003 +5 +0",
      "ja +7",
      "ld [0]",
      "jset 0x40000000 +1 +0",
      "jgt 0x1c2 +3 +4",
      "jgt 0x400001c2 +2 +3",
      "ld [0]",
      "jgt 0x1cc +0 +1",
      "ret 0x50026",
    ])
    #expect(try EnosysStub.generate([StubArchitecture(auditArch: 0xC000_003E)]).isEmpty)
  }

  @Test("struct sock_fprog layout matches the kernel's")
  func sockFprogLayout() {
    #expect(MemoryLayout<SockFprog>.size == 16)
    #expect(MemoryLayout<SockFprog>.offset(of: \.length) == 0)
    #expect(MemoryLayout<SockFprog>.offset(of: \.filter) == 8)
  }
}

@Suite("SeccompProgram serialization")
struct SerializationTests {
  static let config = LinuxSeccomp(
    defaultAction: .errno, flags: ["SECCOMP_FILTER_FLAG_LOG"],
    syscalls: [SeccompSyscall(names: ["getpid", "exit_group", "read", "write"], action: .allow)])

  @Test("round trip")
  func roundTrip() throws {
    let program = try Seccomp.compile(Self.config)
    let bytes = program.serialized
    #expect(Array(bytes.prefix(4)) == Array("BSCP".utf8))
    #expect(bytes.count == 20 + program.instructions.count + 4)
    let back = try SeccompProgram(serialized: bytes)
    #expect(back == program)

    let notify = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .allow, listenerPath: "/run/a.sock", syscalls: [SeccompSyscall(names: ["mkdir"], action: .notify)]))
    #expect(try SeccompProgram(serialized: notify.serialized) == notify)
  }

  @Test("refuses truncated, damaged and future-version bytes")
  func refusesBadBytes() throws {
    let bytes = try Seccomp.compile(Self.config).serialized
    var damaged = bytes
    damaged[30] ^= 0x01
    var future = bytes
    future[4] = 2
    for (name, candidate) in [
      ("empty", []), ("truncated", Array(bytes.dropLast(5))), ("damaged", damaged), ("future", future),
      ("garbage", Array("not a program at all, just text".utf8)),
    ] as [(String, [UInt8])] {
      expectBerthError(code: "invalidArgument", messagePrefix: "cached seccomp program: ", name) {
        _ = try SeccompProgram(serialized: candidate)
      }
    }
  }

  @Test("raw programs must hold whole instructions")
  func rawInstructions() {
    for bytes in [[1, 2, 3], []] as [[UInt8]] {
      expectBerthError(code: "invalidArgument", messagePrefix: "seccomp program: ") {
        _ = try SeccompProgram(instructions: bytes, flags: 0, usesNotify: false)
      }
    }
  }
}

@Suite("Seccomp.features")
struct FeaturesTests {
  @Test("reports what this kernel and libseccomp support")
  func features() {
    let features = Seccomp.features()
    #expect(features.enabled == true)
    #expect(Set(features.actions ?? []) == Set(SeccompAction.allCases.map(\.rawValue)))
    #expect(features.operators?.count == SeccompOperator.allCases.count)
    #expect(features.knownFlags == [
      "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
      "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ])
    // Kernel 6.0 and later know all four.
    #expect(features.supportedFlags == features.knownFlags)
    #if arch(x86_64)
    #expect(features.archs?.contains("SCMP_ARCH_X86_64") == true)
    #expect(features.archs?.contains("SCMP_ARCH_X32") == true)
    #endif
    #expect(features.archs?.contains("SCMP_ARCH_VAX") != true)
  }

  @Test("compilerIdentity names libseccomp's version")
  func identity() {
    #expect(Seccomp.compilerIdentity.hasPrefix("berth-seccomp/1 libseccomp/2."))
  }
}
