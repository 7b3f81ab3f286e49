import NIOCore

/// One query per datagram; the reply goes back to its sender.
final class DNSUDPHandler: ChannelInboundHandler {
  typealias InboundIn = AddressedEnvelope<ByteBuffer>

  let service: DNSService

  init(service: DNSService) { self.service = service }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let envelope = unwrapInboundIn(data)
    let channel = context.channel
    let client = envelope.remoteAddress
    let reply = service.respond(to: Array(envelope.data.readableBytesView), udp: true, client: client.ipAddress, on: context.eventLoop)
    reply.whenSuccess { reply in
      guard let reply else { return }
      channel.writeAndFlush(AddressedEnvelope(remoteAddress: client, data: ByteBuffer(bytes: reply)), promise: nil)
    }
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    // A client gone (ICMP unreachable) is no reason to stop serving the others.
  }
}

/// Messages over TCP carry a 2-byte length in front (RFC 1035 4.2.2).
struct DNSTCPFrameDecoder: ByteToMessageDecoder {
  typealias InboundOut = ByteBuffer

  mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
    guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
      buffer.readableBytes >= 2 + Int(length)
    else { return .needMoreData }
    buffer.moveReaderIndex(forwardBy: 2)
    guard let frame = buffer.readSlice(length: Int(length)) else { return .needMoreData }
    context.fireChannelRead(wrapInboundOut(frame))
    return .continue
  }
}

/// Answers each framed query on the connection (in any order, RFC 7766 allows it); closes the
/// connection after 10 s without a query.
final class DNSTCPHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer

  let service: DNSService

  init(service: DNSService) { self.service = service }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let frame = unwrapInboundIn(data)
    let channel = context.channel
    let reply = service.respond(to: Array(frame.readableBytesView), udp: false, client: channel.remoteAddress?.ipAddress, on: context.eventLoop)
    reply.whenSuccess { reply in
      guard let reply, reply.count <= Int(UInt16.max) else { return }
      var buffer = channel.allocator.buffer(capacity: reply.count + 2)
      buffer.writeInteger(UInt16(reply.count))
      buffer.writeBytes(reply)
      channel.writeAndFlush(buffer, promise: nil)
    }
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if event is IdleStateHandler.IdleStateEvent {
      context.close(promise: nil)
      return
    }
    context.fireUserInboundEventTriggered(event)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    context.close(promise: nil)
  }
}
