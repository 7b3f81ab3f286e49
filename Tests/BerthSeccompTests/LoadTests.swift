import BerthOCI
import CLinux
import Glibc
import Testing

@testable import BerthSeccomp

/// Filters loaded for real, each in a child process (see `runUnderFilter`).
@Suite("SeccompProgram.load in a child")
struct LoadTests {
  /// The syscalls a child needs to end: `_exit` calls exit_group (and exit if that fails).
  static let exitSyscalls = ["exit_group", "exit"]

  @Test("SCMP_ACT_ERRNO with a custom errnoRet: mkdir fails with EACCES")
  func errnoRet() throws {
    let program = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .allow, syscalls: [SeccompSyscall(names: ["mkdir"], action: .errno, errnoRet: UInt(EACCES))]))
    let directory = makeTemporaryDirectory()
    defer { rmdir(directory + "/a"); rmdir(directory + "/b"); rmdir(directory) }
    let mkdirNr = sysno("mkdir"), mkdiratNr = sysno("mkdirat")
    let result = (directory + "/a").withCString { path in
      runUnderFilter(program) { errnoOf(mkdirNr, Int(bitPattern: path), 0o755) }
    }
    #expect(result == .exited(EACCES))
    #expect(access(directory + "/a", F_OK) != 0)
    // mkdirat is another syscall, not in the filter.
    let other = (directory + "/b").withCString { path in
      runUnderFilter(program) { errnoOf(mkdiratNr, Int(AT_FDCWD), Int(bitPattern: path), 0o755) }
    }
    #expect(other == .exited(0))
    #expect(access(directory + "/b", F_OK) == 0)
  }

  @Test("an allow-list: listed syscalls work, others fail with EPERM or defaultErrnoRet")
  func allowList() throws {
    let allowed = SeccompSyscall(names: Self.exitSyscalls + ["getpid"], action: .allow)
    let eperm = try Seccomp.compile(LinuxSeccomp(defaultAction: .errno, syscalls: [allowed]))
    let getpidNr = sysno("getpid"), getppidNr = sysno("getppid")
    #expect(runUnderFilter(eperm) { errnoOf(getpidNr) } == .exited(0))
    #expect(runUnderFilter(eperm) { errnoOf(getppidNr) } == .exited(EPERM))

    let enxio = try Seccomp.compile(LinuxSeccomp(defaultAction: .errno, defaultErrnoRet: UInt(ENXIO), syscalls: [allowed]))
    #expect(runUnderFilter(enxio) { errnoOf(getppidNr) } == .exited(ENXIO))
    #expect(runUnderFilter(enxio) { errnoOf(getpidNr) } == .exited(0))
  }

  @Test("the -ENOSYS stub: syscalls newer than the profile's newest get ENOSYS, older ones the default")
  func enosysStub() throws {
    // exit_group (231 on x86_64) is the newest syscall this profile names.
    let program = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .errno, syscalls: [SeccompSyscall(names: Self.exitSyscalls + ["getpid"], action: .allow)]))
    let newest = sysno("exit_group")
    let older = sysno("getppid"), newer = sysno("openat"), nonexistent: Int32 = 1000
    #expect(older < newest && newer > newest)
    #expect(runUnderFilter(program) { errnoOf(older) } == .exited(EPERM))
    #expect(runUnderFilter(program) { errnoOf(newer, Int(AT_FDCWD), 0, 0) } == .exited(ENOSYS))
    #expect(runUnderFilter(program) { errnoOf(nonexistent) } == .exited(ENOSYS))
  }

  @Test("kill and trap actions end the process with SIGSYS",
        arguments: [SeccompAction.kill, .killThread, .killProcess, .trap])
  func killActions(_ action: SeccompAction) throws {
    let program = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .allow, syscalls: [SeccompSyscall(names: ["getppid"], action: action)]))
    let getppidNr = sysno("getppid"), getpidNr = sysno("getpid")
    #expect(runUnderFilter(program) { errnoOf(getppidNr) } == .signaled(SIGSYS))
    #expect(runUnderFilter(program) { errnoOf(getpidNr) } == .exited(0))
  }

  @Test("kill as the default action: everything not allowed kills the process")
  func killByDefault() throws {
    let program = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .killProcess, syscalls: [SeccompSyscall(names: Self.exitSyscalls + ["getpid"], action: .allow)]))
    let getpidNr = sysno("getpid"), getppidNr = sysno("getppid")
    #expect(runUnderFilter(program) { errnoOf(getpidNr) } == .exited(0))
    #expect(runUnderFilter(program) { errnoOf(getppidNr) } == .signaled(SIGSYS))
  }

  @Test("SCMP_ACT_LOG and SCMP_ACT_TRACE without a tracer")
  func logAndTrace() throws {
    let getppidNr = sysno("getppid")
    let log = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .allow, flags: ["SECCOMP_FILTER_FLAG_LOG"],
      syscalls: [SeccompSyscall(names: ["getppid"], action: .log)]))
    #expect(log.flags == Kernel.flagLog)
    #expect(runUnderFilter(log) { errnoOf(getppidNr) } == .exited(0))
    // SECCOMP_RET_TRACE with no tracer attached: the syscall fails with ENOSYS.
    let trace = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .allow, syscalls: [SeccompSyscall(names: ["getppid"], action: .trace, errnoRet: 7)]))
    #expect(runUnderFilter(trace) { errnoOf(getppidNr) } == .exited(ENOSYS))
  }

  @Test("argument conditions: personality(0) allowed, personality(0xffffffff) denied")
  func argumentEquality() throws {
    let program = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .errno,
      syscalls: [
        SeccompSyscall(names: Self.exitSyscalls, action: .allow),
        SeccompSyscall(names: ["personality"], action: .allow, args: [SeccompArg(index: 0, value: 0, op: .equalTo)]),
      ]))
    let personalityNr = sysno("personality")
    #expect(runUnderFilter(program) { errnoOf(personalityNr, 0) } == .exited(0))
    #expect(runUnderFilter(program) { errnoOf(personalityNr, 0xffff_ffff) } == .exited(EPERM))
  }

  @Test("SCMP_CMP_MASKED_EQ: value is the mask, valueTwo the datum")
  func maskedEqual() throws {
    let program = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .allow,
      syscalls: [
        SeccompSyscall(names: ["personality"], action: .errno, errnoRet: UInt(EBADFD), args: [
          SeccompArg(index: 0, value: 0xF0, valueTwo: 0x10, op: .maskedEqual),
        ]),
      ]))
    let personalityNr = sysno("personality")
    #expect(runUnderFilter(program) { errnoOf(personalityNr, 0x13) } == .exited(EBADFD))
    #expect(runUnderFilter(program) { errnoOf(personalityNr, 0x1F) } == .exited(EBADFD))
    #expect(runUnderFilter(program) { errnoOf(personalityNr, 0x23) } == .exited(0))
    // 0x33 & 0xF0 is 0x30: allowed. (Mask and datum swapped, 0x33 & 0x10 would match.)
    #expect(runUnderFilter(program) { errnoOf(personalityNr, 0x33) } == .exited(0))
    #expect(runUnderFilter(program) { errnoOf(personalityNr, 0) } == .exited(0))
  }

  @Test("comparison operators on one argument", arguments: [
    (SeccompOperator.notEqual, [(5, false), (6, true)]),
    (.lessThan, [(4, true), (5, false), (6, false)]),
    (.lessEqual, [(4, true), (5, true), (6, false)]),
    (.greaterEqual, [(4, false), (5, true), (6, true)]),
    (.greaterThan, [(4, false), (5, false), (6, true)]),
  ])
  func operators(_ op: SeccompOperator, _ cases: [(value: Int, denied: Bool)]) throws {
    // getpriority(which, who): which = 5 is invalid (EINVAL) unless the filter answers first.
    let program = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .allow,
      syscalls: [
        SeccompSyscall(names: ["getpriority"], action: .errno, errnoRet: UInt(EBADFD), args: [
          SeccompArg(index: 0, value: 5, op: op),
        ]),
      ]))
    let getpriorityNr = sysno("getpriority")
    for (value, denied) in cases {
      let result = runUnderFilter(program) { errnoOf(getpriorityNr, value, 0) }
      if denied {
        #expect(result == .exited(EBADFD), "\(op.rawValue) \(value)")
      } else {
        #expect(result != .exited(EBADFD), "\(op.rawValue) \(value)")
      }
    }
  }

  @Test("distinct argument indices: all conditions must match (AND)")
  func distinctIndicesAnd() throws {
    let program = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .allow,
      syscalls: [
        SeccompSyscall(names: ["getpriority"], action: .errno, errnoRet: UInt(EBADFD), args: [
          SeccompArg(index: 0, value: UInt64(PRIO_PROCESS.rawValue), op: .equalTo),
          SeccompArg(index: 1, value: 12345, op: .equalTo),
        ]),
      ]))
    let getpriorityNr = sysno("getpriority")
    let process = Int(PRIO_PROCESS.rawValue), group = Int(PRIO_PGRP.rawValue)
    #expect(runUnderFilter(program) { errnoOf(getpriorityNr, process, 12345) } == .exited(EBADFD))
    #expect(runUnderFilter(program) { errnoOf(getpriorityNr, process, 0) } == .exited(0))
    #expect(runUnderFilter(program) { errnoOf(getpriorityNr, group, 12345) } != .exited(EBADFD))
  }

  @Test("a repeated argument index: one rule per argument, any may match (OR), as runc does")
  func repeatedIndexOr() throws {
    let program = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .allow,
      syscalls: [
        SeccompSyscall(names: ["personality"], action: .errno, errnoRet: UInt(EBADFD), args: [
          SeccompArg(index: 0, value: 5, op: .equalTo),
          SeccompArg(index: 0, value: 7, op: .equalTo),
        ]),
      ]))
    let personalityNr = sysno("personality")
    #expect(runUnderFilter(program) { errnoOf(personalityNr, 5) } == .exited(EBADFD))
    #expect(runUnderFilter(program) { errnoOf(personalityNr, 7) } == .exited(EBADFD))
    #expect(runUnderFilter(program) { errnoOf(personalityNr, 6) } == .exited(0))
  }

  #if arch(x86_64)
  @Test("x86, x32 and x86_64 together: native syscalls still filtered as configured")
  func multipleArchitectures() throws {
    let program = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .errno, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      syscalls: [
        SeccompSyscall(names: Self.exitSyscalls + ["getpid", "socketcall", "chown32"], action: .allow),
        SeccompSyscall(names: ["getppid"], action: .errno, errnoRet: UInt(EBADFD)),
      ]))
    let getpidNr = sysno("getpid"), getppidNr = sysno("getppid"), getuidNr = sysno("getuid")
    #expect(runUnderFilter(program) { errnoOf(getpidNr) } == .exited(0))
    #expect(runUnderFilter(program) { errnoOf(getppidNr) } == .exited(EBADFD))
    #expect(runUnderFilter(program) { errnoOf(getuidNr) } == .exited(EPERM))
  }
  #endif

  @Test("filter flags load: LOG, SPEC_ALLOW")
  func flagsLoad() throws {
    let program = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .allow, flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
      syscalls: [SeccompSyscall(names: ["getppid"], action: .errno, errnoRet: UInt(EBADFD))]))
    let getppidNr = sysno("getppid")
    #expect(runUnderFilter(program) { errnoOf(getppidNr) } == .exited(EBADFD))
  }

  @Test("a cached program loads like the compiled one")
  func serializedLoads() throws {
    let compiled = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .allow, syscalls: [SeccompSyscall(names: ["getppid"], action: .errno, errnoRet: UInt(EBADFD))]))
    let program = try SeccompProgram(serialized: compiled.serialized)
    let getppidNr = sysno("getppid")
    #expect(runUnderFilter(program) { errnoOf(getppidNr) } == .exited(EBADFD))
  }

  @Test("without no_new_privs or CAP_SYS_ADMIN, loading fails with EACCES")
  func loadNeedsPrivilege() throws {
    let program = try Seccomp.compile(LinuxSeccomp(
      defaultAction: .allow, syscalls: [SeccompSyscall(names: ["getppid"], action: .errno)]))
    let none: [UInt32] = [0, 0]  // made before the fork: the child must not allocate
    let pid = berth_fork()
    if pid == 0 {
      // Drop every capability (no no_new_privs): the kernel must refuse the filter.
      _ = none.withUnsafeBufferPointer { berth_capset_v3($0.baseAddress, $0.baseAddress, $0.baseAddress) }
      let result = program.loadReturningErrno()
      _exit(result < 0 ? -result : 0)
    }
    #expect(waitForChild(pid) == .exited(EACCES))
  }
}
