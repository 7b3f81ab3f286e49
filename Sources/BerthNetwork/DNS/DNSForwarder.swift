import BerthOS
import NIOCore
import NIOPosix

/// Sends a query the containers' names cannot answer to the upstream resolvers over UDP, one
/// after the other (2 s each), and relays the first answer unchanged but for its ID. A client
/// that asked over TCP gets a truncated UDP answer asked again over TCP.
struct DNSForwarder: Sendable {
  let upstreams: [DNSUpstream]
  var timeout: TimeAmount = .seconds(2)

  /// The upstream's answer with the client's ID; fails when none answered.
  func forward(_ query: [UInt8], overTCP: Bool = false, on loop: any EventLoop) -> EventLoopFuture<[UInt8]> {
    guard query.count >= 12 else { return loop.makeFailedFuture(BerthError(.invalidArgument, "a DNS query is shorter than its header")) }
    let clientID = (query[0], query[1])
    return attempt(query, overTCP: overTCP, remaining: upstreams[...], on: loop).map { reply in
      var relayed = reply
      relayed[0] = clientID.0
      relayed[1] = clientID.1
      return relayed
    }
  }

  private func attempt(_ query: [UInt8], overTCP: Bool, remaining: ArraySlice<DNSUpstream>, on loop: any EventLoop) -> EventLoopFuture<[UInt8]> {
    guard let upstream = remaining.first else {
      return loop.makeFailedFuture(BerthError(.notFound, "no upstream DNS server answered (\(upstreams.map(\.description).joined(separator: ", ")))"))
    }
    let rest = remaining.dropFirst()
    return ask(upstream, query, on: loop)
      .flatMap { reply in
        guard overTCP, DNSMessage.peekHeader(reply).map({ $0.flags & 0x0200 != 0 }) == true else { return loop.makeSucceededFuture(reply) }
        return self.askOverTCP(upstream, query, on: loop).recover { _ in reply }
      }
      .flatMapError { _ in self.attempt(query, overTCP: overTCP, remaining: rest, on: loop) }
  }

  /// One exchange over a TCP connection (2-byte length in front), within the same timeout.
  private func askOverTCP(_ upstream: DNSUpstream, _ query: [UInt8], on loop: any EventLoop) -> EventLoopFuture<[UInt8]> {
    let address: SocketAddress
    do {
      address = try SocketAddress(ipAddress: upstream.address, port: upstream.port)
    } catch {
      return loop.makeFailedFuture(error)
    }
    let promise = loop.makePromise(of: [UInt8].self)
    let timeout = self.timeout
    let bootstrap = ClientBootstrap(group: loop)
      .connectTimeout(timeout)
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
          try channel.pipeline.syncOperations.addHandler(DNSUpstreamTCPHandler(promise: promise))
        }
      }
    let connected = bootstrap.connect(to: address)
    Self.exchange(
      connected, promise: promise, timeout: timeout,
      timeoutMessage: "the upstream DNS server \(upstream) did not answer over TCP in time"
    ) { channel in
      var buffer = channel.allocator.buffer(capacity: query.count + 2)
      buffer.writeInteger(UInt16(query.count))
      buffer.writeBytes(query)
      return channel.writeAndFlush(buffer)
    }
    return promise.futureResult
  }

  /// One exchange on a fresh socket (a new source port and a random ID for each query: an
  /// off-path answer must guess both). The socket is connected, so the kernel drops datagrams
  /// from anyone else and reports an upstream's closed port (ICMP) at once: the next one is
  /// tried without waiting for the timeout.
  private func ask(_ upstream: DNSUpstream, _ query: [UInt8], on loop: any EventLoop) -> EventLoopFuture<[UInt8]> {
    let address: SocketAddress
    do {
      address = try SocketAddress(ipAddress: upstream.address, port: upstream.port)
    } catch {
      return loop.makeFailedFuture(error)
    }
    let id = UInt16.random(in: 0...UInt16.max)
    var wire = query
    wire[0] = UInt8(id >> 8)
    wire[1] = UInt8(id & 0xFF)
    let promise = loop.makePromise(of: [UInt8].self)
    let timeout = self.timeout
    let wireQuery = wire
    let bootstrap = DatagramBootstrap(group: loop)
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.addHandler(DNSUpstreamHandler(upstream: address, id: id, promise: promise))
        }
      }
    let connected = bootstrap.connect(to: address)
    Self.exchange(
      connected, promise: promise, timeout: timeout, timeoutMessage: "the upstream DNS server \(upstream) did not answer in time"
    ) { channel in
      channel.writeAndFlush(ByteBuffer(bytes: wireQuery))
    }
    return promise.futureResult
  }

  /// Once connected: sends the query; the answer, a failure or the timeout completes
  /// `promise`, and the channel closes whichever comes first.
  private static func exchange(
    _ connected: EventLoopFuture<any Channel>, promise: EventLoopPromise<[UInt8]>, timeout: TimeAmount, timeoutMessage: String,
    send: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
  ) {
    connected.whenComplete { result in
      switch result {
      case .failure(let error):
        promise.fail(error)
      case .success(let channel):
        let timer = channel.eventLoop.scheduleTask(in: timeout) { promise.fail(BerthError(.commandFailed, timeoutMessage)) }
        promise.futureResult.whenComplete { _ in
          timer.cancel()
          channel.close(promise: nil)
        }
        send(channel).whenFailure { promise.fail($0) }
      }
    }
  }
}

/// Takes the first datagram from the upstream that carries the query's ID and is a response.
final class DNSUpstreamHandler: ChannelInboundHandler {
  typealias InboundIn = AddressedEnvelope<ByteBuffer>

  let upstream: SocketAddress
  let id: UInt16
  let promise: EventLoopPromise<[UInt8]>

  init(upstream: SocketAddress, id: UInt16, promise: EventLoopPromise<[UInt8]>) {
    self.upstream = upstream
    self.id = id
    self.promise = promise
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let envelope = unwrapInboundIn(data)
    guard envelope.remoteAddress == upstream else { return }
    let bytes = Array(envelope.data.readableBytesView)
    guard let header = DNSMessage.peekHeader(bytes), header.id == id, header.flags & 0x8000 != 0 else { return }
    promise.succeed(bytes)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    // ICMP port unreachable shows up as a read error: this upstream is down, try the next.
    promise.fail(error)
  }
}

/// Takes the first framed message of the connection; the connection closing first is a failure.
final class DNSUpstreamTCPHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer

  let promise: EventLoopPromise<[UInt8]>

  init(promise: EventLoopPromise<[UInt8]>) { self.promise = promise }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    promise.succeed(Array(unwrapInboundIn(data).readableBytesView))
  }

  func channelInactive(context: ChannelHandlerContext) {
    promise.fail(BerthError(.commandFailed, "the upstream DNS server closed the TCP connection without an answer"))
    context.fireChannelInactive()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    promise.fail(error)
  }
}
