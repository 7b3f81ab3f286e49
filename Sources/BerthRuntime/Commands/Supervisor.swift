#if canImport(Glibc)
import Glibc
#endif
import BerthCgroups
import BerthOCI
import BerthOS
import CLinux

/// `run` and `exec` in the foreground: start the created process, forward signals to it,
/// serve its terminal when there is no console socket, and report how it exited.
struct Supervisor {
  let pid: pid_t
  let channel: SyncChannel
  let ptyMaster: Int32?

  /// Releases the process and waits until it has exec'd (the sync channel closes on exec).
  func start() throws {
    try channel.send(.start)
    if let message = try channel.receive() {
      if message.tag == .error {
        throw BerthError(.commandFailed, String(decoding: message.payload, as: UTF8.self))
      }
      throw BerthError(.internalError, "unexpected message \(message.tag) from the container's process")
    }
  }

  /// Waits for the init to exit. Signals are blocked (see RunCommand) and read here from a
  /// signalfd: SIGCHLD reaps, SIGWINCH resizes the terminal, the rest go to the init.
  func waitForExit() -> ExitStatus {
    channel.close()
    let signalFD = berth_signalfd_all()
    defer { if signalFD >= 0 { close(signalFD) } }
    var terminal = TerminalProxy(master: ptyMaster)
    defer { terminal.restore() }
    while true {
      if let status = reap() { return status }
      var polls = [pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)] + terminal.pollDescriptors()
      let ready = poll(&polls, nfds_t(polls.count), -1)
      if ready < 0 {
        if errno == EINTR { continue }
        // Without poll there is nothing to forward: just wait.
        return (try? Subprocess.wait(pid)) ?? .exited(255)
      }
      if polls[0].revents & Int16(POLLIN) != 0 {
        let signal = berth_signalfd_read(signalFD)
        if signal > 0 {
          switch signal {
          case SIGCHLD: break
          case SIGWINCH: terminal.resize()
          default: kill(pid, signal)
          }
        }
      }
      terminal.pump(Array(polls.dropFirst()))
    }
  }

  /// Reaps every exited child (the runtime may be a subreaper); the process's status when it
  /// exited.
  func reap() -> ExitStatus? {
    var result: ExitStatus?
    while true {
      var status: Int32 = 0
      let child = waitpid(-1, &status, WNOHANG)
      if child <= 0 { return result }
      if child == pid { result = ExitStatus(waitStatus: status) }
    }
  }
}

/// Copies between this process's stdin/stdout and the container's pty master, with the local
/// terminal in raw mode, for `run` with a terminal and no console socket.
struct TerminalProxy {
  let master: Int32?
  private var saved = termios()
  private var madeRaw = false
  private var stdinOpen = true
  private var masterOpen = true

  init(master: Int32?) {
    self.master = master
    guard let master else { return }
    if isatty(0) != 0 {
      madeRaw = berth_tty_make_raw(0, &saved) == 0
      var rows: UInt16 = 0, cols: UInt16 = 0
      if berth_get_winsize(0, &rows, &cols) == 0 { _ = berth_set_winsize(master, rows, cols) }
    }
  }

  func pollDescriptors() -> [pollfd] {
    guard let master, masterOpen else { return [] }
    var polls = [pollfd(fd: master, events: Int16(POLLIN), revents: 0)]
    if stdinOpen { polls.append(pollfd(fd: 0, events: Int16(POLLIN), revents: 0)) }
    return polls
  }

  mutating func pump(_ polls: [pollfd]) {
    guard let master else { return }
    var buffer = [UInt8](repeating: 0, count: 32768)
    for entry in polls where entry.revents != 0 {
      let from = entry.fd
      let to: Int32 = from == master ? 1 : master
      let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
      if n > 0 {
        try? writeAllBytes(to, buffer[0..<n])
      } else if from == master {
        // EIO: every slave descriptor is closed; the process's exit follows.
        masterOpen = false
      } else {
        stdinOpen = false
        // Pass end of input on as the terminal's EOF character.
        var eof: UInt8 = 4
        _ = write(master, &eof, 1)
      }
    }
  }

  func resize() {
    guard let master else { return }
    var rows: UInt16 = 0, cols: UInt16 = 0
    if berth_get_winsize(0, &rows, &cols) == 0 { _ = berth_set_winsize(master, rows, cols) }
  }

  func restore() {
    if madeRaw { var copy = saved; _ = berth_tty_restore(0, &copy) }
    if let master { close(master) }
  }
}
