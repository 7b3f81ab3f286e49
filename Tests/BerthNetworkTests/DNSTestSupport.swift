#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import BerthTestSupport
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import BerthNetwork

/// Sockets, addresses and a fake upstream resolver for the DNS tests. Everything listens on
/// random 127.x.y.z addresses, so tests running in parallel never share one.
enum DNSTestNet {
  /// A random loopback address other than 127.0.0.1.
  static func randomLoopback() -> String {
    "127.\(Int.random(in: 1...254)).\(Int.random(in: 1...254)).\(Int.random(in: 2...254))"
  }

  static func socketAddress(_ address: String, _ port: Int) -> sockaddr_in {
    var socketAddress = sockaddr_in()
    socketAddress.sin_family = sa_family_t(AF_INET)
    socketAddress.sin_port = in_port_t(UInt16(port).bigEndian)
    _ = inet_pton(AF_INET, address, &socketAddress.sin_addr)
    return socketAddress
  }

  /// Sends one datagram to address:port and returns the first reply; nil after the timeout.
  static func udpExchange(
    _ packet: [UInt8], address: String, port: Int, from source: String? = nil, timeoutMilliseconds: Int32 = 5000
  ) throws -> [UInt8]? {
    let fd = try check("socket") { socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
    defer { close(fd) }
    if let source {
      var local = socketAddress(source, 0)
      try check("bind to \(source)") {
        withUnsafePointer(to: &local) { pointer in
          pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
      }
    }
    var target = socketAddress(address, port)
    let sent = withUnsafePointer(to: &target) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
        packet.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sockaddrPointer, socklen_t(MemoryLayout<sockaddr_in>.size)) }
      }
    }
    if sent < 0 { throw BerthError.system("send a DNS query to \(address):\(port)") }
    var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    guard poll(&poller, 1, timeoutMilliseconds) == 1 else { return nil }
    var buffer = [UInt8](repeating: 0, count: 65536)
    let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    if count < 0 { throw BerthError.system("receive a DNS reply from \(address):\(port)") }
    return Array(buffer[0..<count])
  }

  /// One query over TCP, 2-byte length in front; reads the one reply.
  static func tcpExchange(_ packet: [UInt8], address: String, port: Int, from source: String? = nil) throws -> [UInt8] {
    let fd = try check("socket") { socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    if let source {
      var local = socketAddress(source, 0)
      try check("bind to \(source)") {
        withUnsafePointer(to: &local) { pointer in
          pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
      }
    }
    var target = socketAddress(address, port)
    try check("connect to \(address):\(port)") {
      withUnsafePointer(to: &target) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
      }
    }
    try writeAllBytes(fd, [UInt8(packet.count >> 8), UInt8(packet.count & 0xFF)] + packet)
    func readExactly(_ count: Int) throws -> [UInt8] {
      var result: [UInt8] = []
      var buffer = [UInt8](repeating: 0, count: count)
      while result.count < count {
        let want = count - result.count
        let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, want) }
        if got < 0 && errno == EINTR { continue }
        if got <= 0 { throw BerthError.system("read a DNS reply over TCP from \(address):\(port)") }
        result += buffer[0..<got]
      }
      return result
    }
    let length = try readExactly(2)
    return try readExactly(Int(length[0]) << 8 | Int(length[1]))
  }

  static func query(_ name: String, type: UInt16 = DNSMessage.typeA, id: UInt16 = UInt16.random(in: 0...UInt16.max)) -> DNSMessage {
    DNSMessage(id: id, flags: 0x0100, questions: [DNSQuestion(name: DNSName(name), type: type)])
  }

  /// The IPv4 addresses in a response's A answers.
  static func addresses(_ message: DNSMessage) -> [String] {
    message.answers.filter { $0.type == DNSMessage.typeA && $0.data.count == 4 }.map { $0.data.map(String.init).joined(separator: ".") }
  }

  /// A fresh run root for a test, removed afterwards.
  static func withRunRoot<R>(_ body: (String) async throws -> R) async throws -> R {
    try await ArchiveFixtures.withTemporaryDirectory("dns") { directory in try await body(directory) }
  }
}

/// A resolver the test runs itself (never a real one): "outside.example" is 192.0.2.55 (or the
/// `answer` it was started with, to tell two apart),
/// "big.example" has 40 addresses (over UDP only a truncated answer, TC set; over TCP all),
/// every other name NXDOMAIN. Counts the queries it gets, "tcp:" in front of those over TCP.
final class FakeUpstream: Sendable {
  static let knownName = "outside.example"
  static let knownAddress = "192.0.2.55"
  static let bigName = "big.example"
  static let bigAddresses = (1...40).map { "198.51.100.\($0)" }

  let address: String
  let port: Int
  private let channels: [any Channel]
  private let box: LogBox

  private init(address: String, port: Int, channels: [any Channel], box: LogBox) {
    self.address = address
    self.port = port
    self.channels = channels
    self.box = box
  }

  /// The lowercased names asked so far.
  var queries: [String] { box.log.withLock { $0 } }

  static func start(answer: String = knownAddress) async throws -> FakeUpstream {
    let address = DNSTestNet.randomLoopback()
    let box = LogBox(answer: answer)
    let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(FakeUpstreamHandler(box: box)) }
      }
      .bind(host: address, port: 0).get()
    let port = channel.localAddress?.port ?? 0
    let tcp = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .childChannelInitializer { child in
        child.eventLoop.makeCompletedFuture {
          try child.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
          try child.pipeline.syncOperations.addHandler(FakeUpstreamTCPHandler(box: box))
        }
      }
      .bind(host: address, port: port).get()
    return FakeUpstream(address: address, port: port, channels: [channel, tcp], box: box)
  }

  var spec: String { "\(address):\(port)" }

  func stop() async {
    for channel in channels { try? await channel.close() }
  }

  /// The reply to a query packet, as this fake resolver sees things.
  static func reply(to packet: [UInt8], tcp: Bool, box: LogBox) -> [UInt8]? {
    guard let query = try? DNSMessage.decode(packet), let question = query.questions.first else { return nil }
    box.log.withLock { $0.append((tcp ? "tcp:" : "") + question.name.lowercased) }
    var reply = DNSMessage(id: query.id, flags: DNSMessage.responseFlags(to: query.flags, rcode: DNSMessage.rcodeNameError, authoritative: true),
                           questions: query.questions)
    switch question.name.lowercased {
    case knownName:
      reply.flags = DNSMessage.responseFlags(to: query.flags, rcode: DNSMessage.rcodeNoError, authoritative: true)
      if question.type == DNSMessage.typeA, let answer = DNSResourceRecord.a(question.name, ipv4: box.answer, ttl: 77) {
        reply.answers = [answer]
      }
    case bigName:
      reply.flags = DNSMessage.responseFlags(to: query.flags, rcode: DNSMessage.rcodeNoError, authoritative: true, truncated: !tcp)
      if tcp { reply.answers = bigAddresses.compactMap { DNSResourceRecord.a(question.name, ipv4: $0, ttl: 5) } }
    default:
      break
    }
    return reply.encode()
  }
}

/// Shares the query log between the handler and the test, and holds the known name's address.
final class LogBox: Sendable {
  let log = Mutex<[String]>([])
  let answer: String

  init(answer: String = FakeUpstream.knownAddress) { self.answer = answer }
}

final class FakeUpstreamHandler: ChannelInboundHandler {
  typealias InboundIn = AddressedEnvelope<ByteBuffer>
  typealias OutboundOut = AddressedEnvelope<ByteBuffer>
  let box: LogBox

  init(box: LogBox) { self.box = box }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let envelope = unwrapInboundIn(data)
    guard let reply = FakeUpstream.reply(to: Array(envelope.data.readableBytesView), tcp: false, box: box) else { return }
    context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: reply))), promise: nil)
  }
}

final class FakeUpstreamTCPHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer
  let box: LogBox

  init(box: LogBox) { self.box = box }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard let reply = FakeUpstream.reply(to: Array(unwrapInboundIn(data).readableBytesView), tcp: true, box: box) else { return }
    var buffer = context.channel.allocator.buffer(capacity: reply.count + 2)
    buffer.writeInteger(UInt16(reply.count))
    buffer.writeBytes(reply)
    context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
  }
}

/// A UDP socket that takes queries and never answers (an upstream that is down but does
/// not send ICMP errors).
final class SilentUpstream {
  let address: String
  let port: Int
  private let fd: Int32

  init() throws {
    address = DNSTestNet.randomLoopback()
    let fd = try check("socket") { socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
    self.fd = fd
    var local = DNSTestNet.socketAddress(address, 0)
    let bound = withUnsafePointer(to: &local) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if bound < 0 {
      let error = BerthError.system("bind a silent upstream on \(address)")
      close(fd)
      throw error
    }
    var actual = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &actual) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    port = Int(UInt16(bigEndian: actual.sin_port))
  }

  var spec: String { "\(address):\(port)" }

  deinit { close(fd) }
}
