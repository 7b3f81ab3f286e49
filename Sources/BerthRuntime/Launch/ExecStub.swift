#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import CLinux

/// The container's process is exec'd through a sealed in-memory copy of a 500-byte program
/// (see CLinux's `berth_exec_stub`) instead of straight from this runtime. Whatever the image
/// does (`#!/proc/self/exe` scripts, opening /proc/PID/exe), the executable it can reach is
/// that sealed copy, never the host's berth-runtime binary (CVE-2019-5736). A created
/// container also waits for `start` inside the stub. Copying 500 bytes costs microseconds,
/// where runc copies or remounts its whole binary.
enum ExecStub {
  /// A sealed, executable, close-on-exec memfd holding the stub; -1 on an architecture
  /// without one (the process is then exec'd directly).
  static func makeFD() throws -> Int32 {
    var size = 0
    guard let bytes = berth_exec_stub(&size), size > 0 else { return -1 }
    var fd = berth_memfd_create("berth-exec", BERTH_MFD_CLOEXEC | BERTH_MFD_ALLOW_SEALING | BERTH_MFD_EXEC)
    if fd < 0 && errno == EINVAL {
      // Kernels before 6.3 know no MFD_EXEC: memfds are executable there anyway.
      fd = berth_memfd_create("berth-exec", BERTH_MFD_CLOEXEC | BERTH_MFD_ALLOW_SEALING)
    }
    if fd < 0 { throw BerthError.system("create the exec stub memfd") }
    let memfd = OwnedFD(fd)
    try writeAllBytes(memfd.raw, UnsafeBufferPointer(start: bytes, count: size))
    // F_ADD_SEALS (1033): F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE.
    try check("seal the exec stub") { berth_fcntl_int(memfd.raw, 1033, 0x1 | 0x2 | 0x4 | 0x8) }
    return memfd.release()
  }

  /// Replaces this process with `path`, through the stub when there is one. With `waitFD`,
  /// the stub first blocks until it can read one byte from it (the exec fifo), so that a
  /// created container waits for `start` in the stub, not in a copy of this runtime. Returns
  /// only on failure, with errno set.
  static func exec(stubFD: Int32, waitFD: Int32?, path: String, args: [String], env: [String]) -> Int32 {
    if stubFD < 0 {
      return withCStrings(args) { argv in withCStrings(env) { envp in execve(path, argv, envp) } }
    }
    return withCStrings(["berth-exec", waitFD.map(String.init) ?? "-", path] + args) { argv in
      withCStrings(env) { envp in
        berth_execveat(stubFD, "", UnsafeMutablePointer(mutating: argv), UnsafeMutablePointer(mutating: envp), BERTH_AT_EMPTY_PATH)
      }
    }
  }
}
