import BerthOCI
import CLinux
import Foundation
import Glibc
import Testing

@testable import BerthSeccomp

@Suite("Docker's default profile")
struct DockerProfileTests {
  static func profile() throws -> LinuxSeccomp {
    try JSONDecoder().decode(LinuxSeccomp.self, from: Data(dockerDefaultProfileJSON.utf8))
  }

  @Test("decodes, compiles to a loadable program and serializes")
  func compiles() throws {
    let config = try Self.profile()
    #expect((config.syscalls?.flatMap(\.names).count ?? 0) > 350)
    let program = try Seccomp.compile(config)
    #expect(program.instructionCount > 100 && program.instructionCount <= 4096)
    #expect(!program.usesNotify)
    #expect(program.flags == 0)
    #expect(try SeccompProgram(serialized: program.serialized) == program)
    // Compiling is deterministic: a cache keyed by the config stays valid.
    #expect(try Seccomp.compile(config) == program)
  }

  @Test("under the profile: mkdir works; unshare, mount, syslog and AF_VSOCK sockets get EPERM")
  func behaviour() throws {
    let program = try Seccomp.compile(try Self.profile())
    let directory = makeTemporaryDirectory()
    defer { rmdir(directory + "/made"); rmdir(directory) }

    let mkdirNr = sysno("mkdir")
    let made = (directory + "/made").withCString { path in
      runUnderFilter(program) { errnoOf(mkdirNr, Int(bitPattern: path), 0o755) }
    }
    #expect(made == .exited(0))
    #expect(FileManager.default.fileExists(atPath: directory + "/made"))

    let unshareNr = sysno("unshare")
    #expect(runUnderFilter(program) { errnoOf(unshareNr, Int(BERTH_CLONE_NEWNS)) } == .exited(EPERM))

    let mountNr = sysno("mount")
    let mounted = directory.withCString { target in
      "tmpfs".withCString { fstype in
        runUnderFilter(program) {
          errnoOf(mountNr, Int(bitPattern: fstype), Int(bitPattern: target), Int(bitPattern: fstype), 0, 0)
        }
      }
    }
    #expect(mounted == .exited(EPERM))

    let syslogNr = sysno("syslog")
    #expect(runUnderFilter(program) { errnoOf(syslogNr, 10) } == .exited(EPERM))  // SYSLOG_ACTION_SIZE_BUFFER

    let socketNr = sysno("socket")
    #expect(runUnderFilter(program) { errnoOf(socketNr, 40, Int(SOCK_STREAM.rawValue), 0) } == .exited(EPERM))
    #expect(runUnderFilter(program) { errnoOf(socketNr, Int(AF_UNIX), Int(SOCK_STREAM.rawValue), 0) } == .exited(0))

    let personalityNr = sysno("personality")
    #expect(runUnderFilter(program) { errnoOf(personalityNr, 0xffff_ffff) } == .exited(0))
    #expect(runUnderFilter(program) { errnoOf(personalityNr, 0x0040_0000) } == .exited(EPERM))  // READ_IMPLIES_EXEC
  }

  @Test("clone3 answers ENOSYS (errnoRet 38), and so do syscalls newer than the profile")
  func enosys() throws {
    let config = try Self.profile()
    let program = try Seccomp.compile(config)
    let clone3Nr = sysno("clone3")
    #expect(runUnderFilter(program) { errnoOf(clone3Nr, 0, 0) } == .exited(ENOSYS))

    let newest = (config.syscalls ?? []).flatMap(\.names).compactMap { Seccomp.syscallNumber($0) }.max() ?? 0
    let newer = newest + 1
    #expect(runUnderFilter(program) { errnoOf(newer) } == .exited(ENOSYS))
  }
}
