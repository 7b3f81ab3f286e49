#if canImport(Glibc)
import Glibc
#endif
import BerthOCI
import BerthOS
import CLinux

/// The container's terminal: a pty from the container's own devpts instance.
enum Console {
  /// In the init after pivot_root: opens a pty through the container's /dev/ptmx, makes the
  /// slave the controlling terminal and stdin/stdout/stderr, binds it over /dev/console, and
  /// returns the master for the runtime's caller.
  static func setUp(size: ConsoleSize?, bindConsole: Bool) throws -> OwnedFD {
    var slaveFD: Int32 = -1
    let masterFD = berth_open_pty("/dev/ptmx", &slaveFD)
    if masterFD < 0 {
      throw BerthError.system("process.terminal: open a pty through /dev/ptmx (is devpts mounted at /dev/pts?)")
    }
    let master = OwnedFD(masterFD)
    let slave = OwnedFD(slaveFD)
    if let size {
      try check("set the console size") { berth_set_winsize(master.raw, UInt16(clamping: size.height), UInt16(clamping: size.width)) }
    }
    if bindConsole {
      let consoleFD = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode_t(0o666))
      if consoleFD >= 0 { close(consoleFD) } else if errno != EEXIST {
        throw BerthError.system("create /dev/console")
      }
      try Mounter.mount(fdPath(slave.raw), "/dev/console", type: nil, flags: BERTH_MS_BIND, data: nil,
                        what: "bind mount the pty over /dev/console")
    }
    if setsid() < 0 { throw BerthError.system("setsid") }
    try check("make the pty the controlling terminal") { berth_set_controlling_tty(slave.raw) }
    for target: Int32 in 0...2 {
      try check("connect the pty to fd \(target)") { dup2(slave.raw, target) }
    }
    return master
  }

  /// Sends a pty master to the --console-socket peer, as runc does (SCM_RIGHTS, with the
  /// pty's name as the data).
  static func send(master: Int32, over socket: Int32) throws {
    let name = Array("/dev/ptmx".utf8)
    let sent = name.withUnsafeBytes { bytes in
      withUnsafePointer(to: master) { fd in berth_send_fds(socket, fd, 1, bytes.baseAddress, bytes.count) }
    }
    if sent < 0 { throw BerthError.system("send the pty master to the console socket") }
  }

  /// Connects to the unix socket given as --console-socket.
  static func connect(_ path: String) throws -> OwnedFD {
    try UnixSocket.connect(path, what: "--console-socket")
  }
}
