#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import NIOCore
import NIOPosix
import Synchronization

/// What one network's DNS server serves and where.
public struct DNSServerConfiguration: Sendable {
  public var networkID: String
  public var listenAddress: String
  /// 53 for containers; 0 picks a free port (tests).
  public var port: Int
  public var runRoot: String
  public var upstreams: [DNSUpstream]
  /// Exit when the network has had no records for this long; nil: never (tests of the library).
  public var idleExitSeconds: Int?

  public init(
    networkID: String, listenAddress: String, port: Int = 53, runRoot: String,
    upstreams: [DNSUpstream] = DNSUpstream.configured(), idleExitSeconds: Int? = 30
  ) {
    self.networkID = networkID
    self.listenAddress = listenAddress
    self.port = port
    self.runRoot = runRoot
    self.upstreams = upstreams
    self.idleExitSeconds = idleExitSeconds
  }
}

/// The embedded DNS server of one network: UDP and TCP on listenAddress:port, one event loop
/// thread. Container names come from the network's records file (DNSRecordStore); other
/// names go to the upstream resolvers.
public final class DNSServer: Sendable {
  public let configuration: DNSServerConfiguration
  /// The port both sockets listen on (the one picked when the configuration said 0).
  public let port: Int
  let service: DNSService
  private let group: MultiThreadedEventLoopGroup
  private let channels: [any Channel]
  private let stopped: EventLoopPromise<Void>
  private let emptySince = Mutex<UInt64?>(nil)

  private init(configuration: DNSServerConfiguration, port: Int, service: DNSService, group: MultiThreadedEventLoopGroup, channels: [any Channel]) {
    self.configuration = configuration
    self.port = port
    self.service = service
    self.group = group
    self.channels = channels
    self.stopped = group.next().makePromise(of: Void.self)
  }

  /// Binds both sockets and starts serving; throws when an address is taken or not local.
  public static func start(_ configuration: DNSServerConfiguration) async throws -> DNSServer {
    try DNSRecordStore.validate(networkID: configuration.networkID)
    let paths = DNSServerPaths(runRoot: configuration.runRoot, networkID: configuration.networkID)
    let service = DNSService(
      table: DNSNameTable(path: paths.recordsFile), upstreams: configuration.upstreams,
      listenAddress: configuration.listenAddress, port: configuration.port,
      peers: DNSPeerNetworks(runRoot: configuration.runRoot, ownNetworkID: configuration.networkID))
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    do {
      let udp = try await DatagramBootstrap(group: group)
        .channelOption(.socketOption(.so_reuseaddr), value: 1)
        .channelInitializer { channel in
          channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(DNSUDPHandler(service: service))
          }
        }
        .bind(host: configuration.listenAddress, port: configuration.port).get()
      let port = udp.localAddress?.port ?? configuration.port
      let tcp: any Channel
      do {
        tcp = try await ServerBootstrap(group: group)
          .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
          .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
              let sync = channel.pipeline.syncOperations
              try sync.addHandler(IdleStateHandler(readTimeout: .seconds(10)))
              try sync.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
              try sync.addHandler(DNSTCPHandler(service: service))
            }
          }
          .bind(host: configuration.listenAddress, port: port).get()
      } catch {
        try? await udp.close()
        throw error
      }
      let server = DNSServer(configuration: configuration, port: port, service: service, group: group, channels: [udp, tcp])
      server.watchIdle()
      return server
    } catch {
      try? await group.shutdownGracefully()
      throw BerthError(.commandFailed, "the DNS server of network \(configuration.networkID) cannot listen on \(configuration.listenAddress):\(configuration.port): \(error); is the address on a local interface and the port free?")
    }
  }

  /// Stops listening; `waitUntilStopped` returns after this.
  public func shutdown() {
    removeOwnPIDFile()
    let closes = channels.map { $0.close() }
    EventLoopFuture.andAllComplete(closes, on: stopped.futureResult.eventLoop).whenComplete { _ in
      self.stopped.succeed(())
    }
  }

  /// Returns once the server stopped (shutdown, or no containers for idleExitSeconds), and
  /// releases its thread.
  public func waitUntilStopped() async {
    try? await stopped.futureResult.get()
    try? await group.shutdownGracefully()
  }

  /// Every second: has the network been without records for idleExitSeconds?
  private func watchIdle() {
    guard let idle = configuration.idleExitSeconds else { return }
    let loop = group.next()
    let period = TimeAmount.milliseconds(Int64(min(1000, max(100, idle * 250))))
    loop.scheduleRepeatedTask(initialDelay: period, delay: period) { task in
      let now = Clock.monotonicNanoseconds()
      let empty = self.service.table.current().recordCount == 0
      let since = self.emptySince.withLock { value -> UInt64? in
        value = empty ? (value ?? now) : nil
        return value
      }
      guard let since, now - since >= UInt64(idle) * 1_000_000_000 else { return }
      if self.exitIfStillIdle() { task.cancel() }
    }
  }

  /// Under dns.lock (so that `ensureRunning` never takes a leaving server for a running one),
  /// checks the records once more, then leaves: the pid file goes first.
  private func exitIfStillIdle() -> Bool {
    let paths = DNSServerPaths(runRoot: configuration.runRoot, networkID: configuration.networkID)
    // The network's directory is gone (network removed): nothing to lock, nobody to race.
    if !FS.isDirectory(paths.directory) {
      shutdown()
      return true
    }
    // Never wait for the lock on the event loop: `stop` holds it while it waits for this
    // server to close its sockets. Busy now means: look again next time.
    guard let lock = try? paths.lock(waiting: false) else { return false }
    guard service.table.current().recordCount == 0 else {
      emptySince.withLock { $0 = nil }
      return false
    }
    removeOwnPIDFile()
    let closes = channels.map { $0.close() }
    EventLoopFuture.andAllComplete(closes, on: stopped.futureResult.eventLoop).whenComplete { _ in
      withExtendedLifetime(lock) {}
      self.stopped.succeed(())
    }
    return true
  }

  private func removeOwnPIDFile() {
    let paths = DNSServerPaths(runRoot: configuration.runRoot, networkID: configuration.networkID)
    if let text = try? FS.readText(paths.pidFile, trimmingNewline: true), pid_t(text) == getpid() {
      unlink(paths.pidFile)
    }
  }
}

/// Answers from the records, forwards the rest (to the asking container's own upstreams when
/// it has some, else to the network's), SERVFAIL when no upstream answers.
final class DNSService: Sendable {
  /// Forwarded queries waiting for an upstream at most; more get SERVFAIL at once (each holds
  /// a socket, and a client flooding unknown names must not exhaust descriptors).
  static let maximumForwards = 256

  let table: DNSNameTable
  let forwarder: DNSForwarder
  let peers: DNSPeerNetworks?
  let listenAddress: String
  let port: Int
  private let forwards = Mutex(0)

  /// `port` 0: the server's port is not known yet, so any upstream on `listenAddress` counts
  /// as the server itself.
  init(table: DNSNameTable, upstreams: [DNSUpstream], listenAddress: String, port: Int, peers: DNSPeerNetworks?) {
    self.table = table
    self.listenAddress = listenAddress
    self.port = port
    self.peers = peers
    forwarder = DNSForwarder(upstreams: Self.excludingSelf(upstreams, listenAddress: listenAddress, port: port))
  }

  /// An upstream that is this server itself would loop every unknown query back here.
  static func excludingSelf(_ upstreams: [DNSUpstream], listenAddress: String, port: Int) -> [DNSUpstream] {
    upstreams.filter { !($0.address == listenAddress && ($0.port == port || port == 0)) }
  }

  /// What the records say about the packet: the own network's names, then (on a miss) those
  /// of the asking container's other networks.
  func localOutcome(_ packet: [UInt8], udp: Bool, client: String?) -> DNSAnswerer.Outcome {
    localOutcome(packet, udp: udp, client: client, own: table.current())
  }

  private func localOutcome(_ packet: [UInt8], udp: Bool, client: String?, own: DNSNameTable.Snapshot) -> DNSAnswerer.Outcome {
    let outcome = DNSAnswerer(snapshot: own).respond(to: packet, udp: udp)
    guard outcome == .forward, let peers, let client, let asking = own.containers[client] else { return outcome }
    let others = peers.snapshots(withAny: asking)
    return others.isEmpty ? outcome : DNSAnswerer(snapshots: [own] + others).respond(to: packet, udp: udp)
  }

  /// Who answers what the records do not for `client`: the upstreams its container was
  /// registered with (Docker's `--dns` on a user network), else the network's. A container
  /// whose only upstream is this server gets the network's too.
  func forwarder(for client: String?, in snapshot: DNSNameTable.Snapshot) -> DNSForwarder {
    guard let client, let own = snapshot.upstreams[client] else { return forwarder }
    let upstreams = Self.excludingSelf(own, listenAddress: listenAddress, port: port)
    return upstreams.isEmpty ? forwarder : DNSForwarder(upstreams: upstreams, timeout: forwarder.timeout)
  }

  /// The reply to send back to `client` (its IP address), nil for none.
  func respond(to packet: [UInt8], udp: Bool, client: String?, on loop: any EventLoop) -> EventLoopFuture<[UInt8]?> {
    let own = table.current()
    switch localOutcome(packet, udp: udp, client: client, own: own) {
    case .reply(let bytes): return loop.makeSucceededFuture(bytes)
    case .drop: return loop.makeSucceededFuture(nil)
    case .forward:
      let admitted = forwards.withLock { count in
        guard count < Self.maximumForwards else { return false }
        count += 1
        return true
      }
      guard admitted else { return loop.makeSucceededFuture(Self.serverFailure(packet)) }
      return forwarder(for: client, in: own).forward(packet, overTCP: !udp, on: loop)
        .map { Optional($0) }
        .recover { _ in Self.serverFailure(packet) }
        .always { _ in self.forwards.withLock { $0 -= 1 } }
    }
  }

  static func serverFailure(_ packet: [UInt8]) -> [UInt8]? {
    guard let query = try? DNSMessage.decode(packet) else { return nil }
    return DNSMessage(
      id: query.id, flags: DNSMessage.responseFlags(to: query.flags, rcode: DNSMessage.rcodeServerFailure, authoritative: false),
      questions: query.questions
    ).encode()
  }
}
