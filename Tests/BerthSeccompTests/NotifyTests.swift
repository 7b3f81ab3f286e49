import BerthOCI
import CLinux
import Foundation
import Glibc
import Testing

@testable import BerthSeccomp

/// SCMP_ACT_NOTIFY: the listener descriptor, a supervisor answering a syscall, and handing the
/// listener to an agent over `listenerPath`.
@Suite("SCMP_ACT_NOTIFY and the listener")
struct NotifyTests {
  // From <linux/seccomp.h>, computed by _IOWR('!', n, struct ...): Swift cannot import them.
  static let ioctlNotifRecv = 0xC050_2100  // struct seccomp_notif: 80 bytes
  static let ioctlNotifSend = 0xC018_2101  // struct seccomp_notif_resp: 24 bytes
  #if arch(x86_64)
  static let sysIoctl = 16
  #elseif arch(arm64) || arch(riscv64)
  static let sysIoctl = 29
  #endif

  static let config = LinuxSeccomp(
    defaultAction: .allow, listenerPath: "/run/berth-test-agent.sock",
    syscalls: [SeccompSyscall(names: ["getppid"], action: .notify)])

  @Test("load returns a listener; the supervisor answers the child's getppid")
  func supervisorAnswers() throws {
    let program = try Seccomp.compile(Self.config)
    #expect(program.usesNotify)
    let getppidNr = sysno("getppid")

    var pair: [Int32] = [-1, -1]
    #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0)
    let pid = berth_fork()
    if pid == 0 {
      // Child: load, send the listener to the parent, then make the syscall the parent answers.
      close(pair[0])
      berth_reset_signal_handlers()
      if berth_prctl(Kernel.prSetNoNewPrivs, 1, 0, 0, 0) != 0 { _exit(ChildFailure.noNewPrivs) }
      var listener = program.loadReturningErrno()
      if listener <= 0 { _exit(ChildFailure.load) }
      if berth_send_fds(pair[1], &listener, 1, nil, 0) < 0 { _exit(ChildFailure.unexpected) }
      close(listener)
      let result = berth_syscall6(Int(getppidNr), 0, 0, 0, 0, 0, 0)
      _exit(result == 4242 ? 0 : (result < 0 ? berth_errno() : ChildFailure.unexpected))
    }
    close(pair[1])
    defer { close(pair[0]) }

    var fds: [Int32] = [-1]
    var count: Int32 = 0
    var byte: UInt8 = 0
    let received = berth_recv_fds(pair[0], &fds, 1, &count, &byte, 1)
    guard received > 0, count == 1 else {
      kill(pid, SIGKILL)
      _ = waitForChild(pid)
      Issue.record("no listener from the child")
      return
    }
    let listener = fds[0]
    defer { close(listener) }
    let link = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(listener)")
    #expect(link == "anon_inode:seccomp notify")

    // Wait (bounded) for the notification, then answer it with 4242.
    var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
    guard poll(&poller, 1, 10_000) == 1 else {
      kill(pid, SIGKILL)
      _ = waitForChild(pid)
      Issue.record("no notification within 10 s")
      return
    }
    var notification = [UInt8](repeating: 0, count: 80)
    let recv = notification.withUnsafeMutableBytes {
      berth_syscall6(Self.sysIoctl, Int(listener), Self.ioctlNotifRecv, Int(bitPattern: $0.baseAddress), 0, 0, 0)
    }
    #expect(recv == 0, "SECCOMP_IOCTL_NOTIF_RECV: errno \(errno)")
    let id = notification.withUnsafeBytes { $0.load(fromByteOffset: 0, as: UInt64.self) }
    let notifiedPid = notification.withUnsafeBytes { $0.load(fromByteOffset: 8, as: UInt32.self) }
    let syscallNr = notification.withUnsafeBytes { $0.load(fromByteOffset: 16, as: Int32.self) }
    #expect(notifiedPid == UInt32(pid))
    #expect(syscallNr == getppidNr)

    var response = [UInt8](repeating: 0, count: 24)
    response.withUnsafeMutableBytes { raw in
      raw.storeBytes(of: id, toByteOffset: 0, as: UInt64.self)
      raw.storeBytes(of: 4242, toByteOffset: 8, as: Int64.self)  // val
      raw.storeBytes(of: 0, toByteOffset: 16, as: Int32.self)  // error
    }
    let send = response.withUnsafeMutableBytes {
      berth_syscall6(Self.sysIoctl, Int(listener), Self.ioctlNotifSend, Int(bitPattern: $0.baseAddress), 0, 0, 0)
    }
    #expect(send == 0, "SECCOMP_IOCTL_NOTIF_SEND: errno \(errno)")
    #expect(waitForChild(pid) == .exited(0))
  }

  @Test("sendListener: the agent receives the state JSON and the descriptor in one message")
  func sendListener() throws {
    let directory = makeTemporaryDirectory()
    let socketPath = directory + "/agent.sock"
    defer { unlink(socketPath); rmdir(directory) }

    // The agent: a listening unix socket (connect succeeds through the backlog).
    let server = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    #expect(server >= 0)
    defer { close(server) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(socketPath.utf8)) }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(server, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    #expect(bound == 0)
    #expect(listen(server, 1) == 0)

    // Any descriptor will do for the transport; a pipe lets us check it is the same object.
    var pipeFDs: [Int32] = [-1, -1]
    #expect(pipe(&pipeFDs) == 0)
    defer { close(pipeFDs[0]); close(pipeFDs[1]) }

    let state = ContainerProcessState(
      fds: [ContainerProcessState.seccompFdName], pid: 4321, metadata: "agent-metadata",
      state: ContainerState(id: "c1", status: .creating, pid: 4321, bundle: "/run/bundle"))
    let payload = Array(try JSONEncoder().encode(state))
    try Seccomp.sendListener(fd: pipeFDs[0], to: socketPath, payload: payload)

    let connection = accept(server, nil, nil)
    #expect(connection >= 0)
    defer { close(connection) }
    var fds: [Int32] = [-1]
    var count: Int32 = 0
    var buffer = [UInt8](repeating: 0, count: 65536)
    let received = buffer.withUnsafeMutableBytes { berth_recv_fds(connection, &fds, 1, &count, $0.baseAddress, $0.count) }
    #expect(received == payload.count)
    #expect(count == 1)
    defer { if count == 1 { close(fds[0]) } }
    let decoded = try JSONDecoder().decode(ContainerProcessState.self, from: Data(buffer[0..<max(received, 0)]))
    #expect(decoded == state)

    var original = stat(), passed = stat()
    #expect(fstat(pipeFDs[0], &original) == 0 && fstat(fds[0], &passed) == 0)
    #expect(original.st_ino == passed.st_ino && original.st_dev == passed.st_dev)
  }

  @Test("sendListener errors name the listener path")
  func sendListenerErrors() {
    expectBerthError(code: "system", messagePrefix: "linux.seccomp.listenerPath \"/nonexistent/agent.sock\": connect") {
      try Seccomp.sendListener(fd: 0, to: "/nonexistent/agent.sock", payload: [])
    }
    let long = "/" + String(repeating: "x", count: 200)
    expectBerthError(code: "invalidArgument", messagePrefix: "linux.seccomp.listenerPath") {
      try Seccomp.sendListener(fd: 0, to: long, payload: [])
    }
  }
}
