import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The listening end of `--console-socket`: the runtime connects and sends the pty master over
/// SCM_RIGHTS, as runc does (one message whose payload is any name, one fd in the ancillary data).
final class ConsoleSocket: @unchecked Sendable {
  let path: String
  private let listener: Int32

  struct Failure: Error, CustomStringConvertible {
    var description: String
  }

  private static let sockCloexec: Int32 = 0o2000000
  private static let msgCmsgCloexec: Int32 = 0x4000_0000

  init(path: String) throws {
    self.path = path
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Self.sockCloexec, 0)
    guard fd >= 0 else { throw Failure(description: "socket: \(errnoText())") }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
      close(fd)
      throw Failure(description: "socket path too long: \(path)")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: bytes)
      raw[bytes.count] = 0
    }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard bound == 0, listen(fd, 4) == 0 else {
      let message = errnoText()
      close(fd)
      throw Failure(description: "bind/listen \(path): \(message)")
    }
    listener = fd
  }

  deinit {
    close(listener)
    unlink(path)
  }

  /// Waits for the runtime to connect and send a descriptor; returns it (close-on-exec) and the
  /// message payload.
  func receive(timeout: Double = 10) async throws -> (fd: Int32, payload: String) {
    let listener = self.listener
    let result: Result<(Int32, String), Failure> = await onThread {
      var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
      guard poll(&pfd, 1, Int32(timeout * 1000)) == 1 else {
        return .failure(Failure(description: "nobody connected to the console socket within \(timeout) s"))
      }
      // (accept4 is a GNU extension Swift's Glibc module does not import; every spawn in this
      // suite closes inherited descriptors anyway.)
      let connection = accept(listener, nil, nil)
      guard connection >= 0 else { return .failure(Failure(description: "accept: \(errnoText())")) }
      _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
      defer { close(connection) }
      var payload = [UInt8](repeating: 0, count: 4096)
      var control = [UInt8](repeating: 0, count: 256)
      var connectionPoll = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
      guard poll(&connectionPoll, 1, Int32(timeout * 1000)) == 1 else {
        return .failure(Failure(description: "no message on the console socket within \(timeout) s"))
      }
      let received: Int = payload.withUnsafeMutableBytes { payloadBytes in
        control.withUnsafeMutableBytes { controlBytes in
          var iov = iovec(iov_base: payloadBytes.baseAddress, iov_len: payloadBytes.count)
          return withUnsafeMutablePointer(to: &iov) { iovPointer in
            var message = msghdr()
            message.msg_iov = iovPointer
            message.msg_iovlen = 1
            message.msg_control = controlBytes.baseAddress
            message.msg_controllen = controlBytes.count
            let n = recvmsg(connection, &message, Self.msgCmsgCloexec)
            return n < 0 ? -1 : Int(message.msg_controllen) << 32 | n
          }
        }
      }
      guard received >= 0 else { return .failure(Failure(description: "recvmsg: \(errnoText())")) }
      let controlLength = received >> 32
      let payloadLength = received & 0xffff_ffff
      // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } then the data, aligned to 8.
      var offset = 0
      var fds: [Int32] = []
      while offset + 16 <= controlLength {
        let length = control[offset..<offset + 8].withUnsafeBytes { $0.loadUnaligned(as: Int.self) }
        let level = control[offset + 8..<offset + 12].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        let type = control[offset + 12..<offset + 16].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        guard length >= 16 else { break }
        if level == SOL_SOCKET && type == 1 /* SCM_RIGHTS */ {
          var at = offset + 16
          while at + 4 <= offset + length {
            fds.append(control[at..<at + 4].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) })
            at += 4
          }
        }
        offset += (length + 7) & ~7
      }
      guard let fd = fds.first else {
        return .failure(Failure(description: "the console socket message carried no descriptor"))
      }
      for extra in fds.dropFirst() { close(extra) }
      return .success((fd, String(decoding: payload[0..<payloadLength], as: UTF8.self)))
    }
    let (fd, payload) = try result.get()
    return (fd, payload)
  }
}

/// Talks to a pty master: writes `input`, then reads until the slave side is closed (EIO) or
/// `timeout` passes.
func converse(master: Int32, input: String, timeout: Double = 10) async -> String {
  await onThread {
    let bytes = Array(input.utf8)
    _ = bytes.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
    var output = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 4096)
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      var pfd = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
      let ready = poll(&pfd, 1, 100)
      if ready == 0 { continue }
      if ready < 0 { if errno == EINTR { continue } else { break } }
      let n = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
      if n <= 0 { break }
      output.append(contentsOf: buffer[0..<n])
    }
    return String(decoding: output, as: UTF8.self)
  }
}

/// Runs blocking work on its own thread.
func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
  await withCheckedContinuation { continuation in
    let thread = Thread { continuation.resume(returning: work()) }
    thread.stackSize = 1 << 20
    thread.start()
  }
}
