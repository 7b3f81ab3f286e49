#if canImport(Glibc)
import Glibc
#endif
import BerthNetwork
import BerthOS
import Dispatch
import Synchronization

/// A resolver the test runs itself, never a real one: UDP on a random 127.x.y.z, port 53 (what
/// `--dns IP` means; only the host's network namespace reaches it, so a container's queries
/// get here through its network's DNS server). "outside.example" is 192.0.2.55, every other
/// name NXDOMAIN. Logs the lowercased names asked.
final class TestResolver: Sendable {
  static let knownName = "outside.example"
  static let knownAddress = "192.0.2.55"

  let address: String
  private let fd: Int32
  private let stopping = Atomic<Bool>(false)
  private let log = Mutex<[String]>([])
  private let finished = DispatchGroup()

  /// The names asked so far.
  var queries: [String] { log.withLock { $0 } }

  /// Binds (another random address when one is taken) and starts answering.
  init() throws {
    let fd = try check("socket") { socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
    var bound: String?
    for _ in 0..<20 {
      let candidate = "127.\(Int.random(in: 1...254)).\(Int.random(in: 1...254)).\(Int.random(in: 2...254))"
      var local = sockaddr_in()
      local.sin_family = sa_family_t(AF_INET)
      local.sin_port = in_port_t(UInt16(53).bigEndian)
      _ = inet_pton(AF_INET, candidate, &local.sin_addr)
      let result = withUnsafePointer(to: &local) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
      }
      if result == 0 {
        bound = candidate
        break
      }
      if errno != EADDRINUSE { break }
    }
    guard let bound else {
      let error = BerthError.system("bind a test resolver on 127.x.y.z:53")
      close(fd)
      throw error
    }
    self.fd = fd
    address = bound
    finished.enter()
    DispatchQueue.global().async { [self] in
      serve()
      finished.leave()
    }
  }

  /// Stops answering, waits for the loop to end and closes the socket.
  func stop() {
    stopping.store(true, ordering: .relaxed)
    finished.wait()
    close(fd)
  }

  private func serve() {
    var buffer = [UInt8](repeating: 0, count: 4096)
    while !stopping.load(ordering: .relaxed) {
      var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      guard poll(&poller, 1, 100) == 1 else { continue }
      var peer = sockaddr_storage()
      var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
      let count = buffer.withUnsafeMutableBytes { bytes in
        withUnsafeMutablePointer(to: &peer) { pointer in
          pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, bytes.baseAddress, bytes.count, 0, $0, &peerLength) }
        }
      }
      guard count > 0, let reply = reply(to: Array(buffer[0..<count])) else { continue }
      _ = reply.withUnsafeBytes { bytes in
        withUnsafePointer(to: &peer) { pointer in
          pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes.baseAddress, bytes.count, 0, $0, peerLength) }
        }
      }
    }
  }

  private func reply(to packet: [UInt8]) -> [UInt8]? {
    guard let query = try? DNSMessage.decode(packet), !query.isResponse, let question = query.questions.first else { return nil }
    let name = question.name.lowercased
    log.withLock { $0.append(name) }
    let known = name == Self.knownName
    var reply = DNSMessage(
      id: query.id,
      flags: DNSMessage.responseFlags(to: query.flags, rcode: known ? DNSMessage.rcodeNoError : DNSMessage.rcodeNameError, authoritative: true),
      questions: query.questions)
    if known, question.type == DNSMessage.typeA, let answer = DNSResourceRecord.a(question.name, ipv4: Self.knownAddress, ttl: 60) {
      reply.answers = [answer]
    }
    return reply.encode()
  }
}
