#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import BerthTestSupport
import Testing
@testable import BerthNetwork

/// The server in this process on a random 127.x.y.z address, real UDP and TCP sockets, and a
/// fake upstream the test runs.
@Suite("DNS server")
struct DNSServerTests {
  /// Runs `body` with a server for network "net1" whose upstreams are `upstreams`.
  func withServer(
    upstreams: [DNSUpstream], port: Int = 0, idleExitSeconds: Int? = nil,
    _ body: (DNSServer, DNSRecordStore) async throws -> Void
  ) async throws {
    try await DNSTestNet.withRunRoot { runRoot in
      let configuration = DNSServerConfiguration(
        networkID: "net1", listenAddress: DNSTestNet.randomLoopback(), port: port, runRoot: runRoot,
        upstreams: upstreams, idleExitSeconds: idleExitSeconds)
      let server = try await DNSServer.start(configuration)
      do {
        try await body(server, DNSRecordStore(runRoot: runRoot))
      } catch {
        server.shutdown()
        await server.waitUntilStopped()
        throw error
      }
      server.shutdown()
      await server.waitUntilStopped()
    }
  }

  func ask(_ server: DNSServer, _ name: String, type: UInt16 = DNSMessage.typeA, tcp: Bool = false) throws -> DNSMessage {
    let query = DNSTestNet.query(name, type: type)
    let address = server.configuration.listenAddress
    let bytes: [UInt8]
    if tcp {
      bytes = try DNSTestNet.tcpExchange(query.encode(), address: address, port: server.port)
    } else {
      guard let reply = try DNSTestNet.udpExchange(query.encode(), address: address, port: server.port) else {
        throw BerthError(.commandFailed, "no reply from \(address):\(server.port) for \(name)")
      }
      bytes = reply
    }
    let response = try DNSMessage.decode(bytes)
    #expect(response.id == query.id)
    #expect(response.isResponse)
    return response
  }

  @Test("answers registered names over UDP and TCP, sees changes without a restart")
  func containerNames() async throws {
    let upstream = try await FakeUpstream.start()
    defer { Task { await upstream.stop() } }
    try await withServer(upstreams: [DNSUpstream(address: upstream.address, port: upstream.port)]) { server, store in
      try store.register(networkID: "net1", containerID: "c1", names: ["web", "frontend"], ipv4: "10.89.0.2")
      #expect(DNSTestNet.addresses(try ask(server, "web")) == ["10.89.0.2"])
      #expect(DNSTestNet.addresses(try ask(server, "FRONTEND", tcp: true)) == ["10.89.0.2"])
      #expect(DNSTestNet.addresses(try ask(server, "web.dns.berth", tcp: true)) == ["10.89.0.2"])

      // A second container comes: no restart.
      try store.register(networkID: "net1", containerID: "c2", names: ["db", "frontend"], ipv4: "10.89.0.3")
      #expect(DNSTestNet.addresses(try ask(server, "db")) == ["10.89.0.3"])
      #expect(Set(DNSTestNet.addresses(try ask(server, "frontend"))) == ["10.89.0.2", "10.89.0.3"])
      let aaaa = try ask(server, "db", type: DNSMessage.typeAAAA)
      #expect(aaaa.rcode == DNSMessage.rcodeNoError && aaaa.answers.isEmpty)

      // The first goes: its name is no longer ours, so the upstream's NXDOMAIN comes back.
      try store.unregister(networkID: "net1", containerID: "c1")
      let gone = try ask(server, "web")
      #expect(gone.answers.isEmpty)
      #expect(gone.rcode == DNSMessage.rcodeNameError)
      #expect(upstream.queries == ["web"], "only the unknown name reached the upstream")
      #expect(DNSTestNet.addresses(try ask(server, "frontend")) == ["10.89.0.3"])
    }
  }

  @Test("a container on two networks finds the names of both; others do not see the second network's")
  func otherNetworks() async throws {
    let upstream = try await FakeUpstream.start()
    defer { Task { await upstream.stop() } }
    try await withServer(upstreams: [DNSUpstream(address: upstream.address, port: upstream.port)]) { server, store in
      let member = DNSTestNet.randomLoopback(), stranger = DNSTestNet.randomLoopback()
      try store.register(networkID: "net1", containerID: "both", names: ["both"], ipv4: member)
      try store.register(networkID: "net1", containerID: "only1", names: ["only1"], ipv4: stranger)
      try store.register(networkID: "net2", containerID: "both", names: ["both"], ipv4: "10.90.0.2")
      try store.register(networkID: "net2", containerID: "only2", names: ["only2"], ipv4: "10.90.0.3")
      try store.register(networkID: "net3", containerID: "only3", names: ["only3"], ipv4: "10.91.0.3")
      func ask(_ name: String, from source: String) throws -> DNSMessage {
        let query = DNSTestNet.query(name)
        let reply = try DNSTestNet.udpExchange(query.encode(), address: server.configuration.listenAddress, port: server.port, from: source)
        return try DNSMessage.decode(reply ?? [])
      }
      #expect(DNSTestNet.addresses(try ask("only2", from: member)) == ["10.90.0.3"])
      // Its own network first: "both" is its net1 address.
      #expect(DNSTestNet.addresses(try ask("both", from: member)) == [member])
      // Not on net3, not answered from it.
      #expect(try ask("only3", from: member).rcode == DNSMessage.rcodeNameError)
      // A container only on net1 does not see net2.
      #expect(try ask("only2", from: stranger).rcode == DNSMessage.rcodeNameError)
      #expect(upstream.queries == ["only3", "only2"])
    }
  }

  @Test("a container registered with its own upstreams (--dns) has other names forwarded there; the rest use the network's")
  func perClientUpstreams() async throws {
    let networkUpstream = try await FakeUpstream.start()
    let ownAnswer = "192.0.2.66"
    let ownUpstream = try await FakeUpstream.start(answer: ownAnswer)
    defer { Task { await networkUpstream.stop(); await ownUpstream.stop() } }
    try await withServer(upstreams: [DNSUpstream(address: networkUpstream.address, port: networkUpstream.port)]) { server, store in
      let custom = DNSTestNet.randomLoopback(), plain = DNSTestNet.randomLoopback()
      let own = [DNSUpstream(address: ownUpstream.address, port: ownUpstream.port)]
      try store.register(networkID: "net1", containerID: "custom", names: ["custom"], ipv4: custom, upstreams: own)
      try store.register(networkID: "net1", containerID: "plain", names: ["plain"], ipv4: plain)
      let listen = server.configuration.listenAddress
      func ask(_ name: String, from source: String, tcp: Bool = false) throws -> DNSMessage {
        let query = DNSTestNet.query(name).encode()
        if tcp { return try DNSMessage.decode(try DNSTestNet.tcpExchange(query, address: listen, port: server.port, from: source)) }
        return try DNSMessage.decode(try DNSTestNet.udpExchange(query, address: listen, port: server.port, from: source) ?? [])
      }
      #expect(DNSTestNet.addresses(try ask(FakeUpstream.knownName, from: custom)) == [ownAnswer])
      #expect(DNSTestNet.addresses(try ask(FakeUpstream.knownName, from: custom, tcp: true)) == [ownAnswer])
      #expect(DNSTestNet.addresses(try ask(FakeUpstream.knownName, from: plain)) == [FakeUpstream.knownAddress])
      // Container names are still the server's own answers, whoever asks.
      #expect(DNSTestNet.addresses(try ask("plain", from: custom)) == [plain])
      #expect(DNSTestNet.addresses(try ask("custom", from: plain)) == [custom])
      #expect(ownUpstream.queries == [FakeUpstream.knownName, FakeUpstream.knownName])
      #expect(networkUpstream.queries == [FakeUpstream.knownName])

      // Upstreams that are only the server itself would loop: the network's answer instead.
      try store.register(
        networkID: "net1", containerID: "custom", names: ["custom"], ipv4: custom, upstreams: [DNSUpstream(address: listen, port: server.port)])
      #expect(DNSTestNet.addresses(try ask(FakeUpstream.knownName, from: custom)) == [FakeUpstream.knownAddress])
      // Registered again without upstreams: the network's too.
      try store.register(networkID: "net1", containerID: "custom", names: ["custom"], ipv4: custom)
      #expect(DNSTestNet.addresses(try ask(FakeUpstream.knownName, from: custom)) == [FakeUpstream.knownAddress])
      #expect(ownUpstream.queries.count == 2)
      #expect(networkUpstream.queries.count == 3)
    }
  }

  @Test("other names are forwarded and the upstream's answer relayed, over UDP and TCP")
  func forwarding() async throws {
    let upstream = try await FakeUpstream.start()
    defer { Task { await upstream.stop() } }
    try await withServer(upstreams: [DNSUpstream(address: upstream.address, port: upstream.port)]) { server, _ in
      for tcp in [false, true] {
        let response = try ask(server, "Outside.Example", tcp: tcp)
        #expect(response.rcode == DNSMessage.rcodeNoError)
        #expect(DNSTestNet.addresses(response) == [FakeUpstream.knownAddress])
        #expect(response.answers.first?.ttl == 77, "relayed as the upstream sent it")
      }
      #expect(upstream.queries == ["outside.example", "outside.example"])
    }
  }

  @Test("a truncated upstream answer is relayed to a UDP client and asked again over TCP for a TCP client")
  func truncatedUpstream() async throws {
    let upstream = try await FakeUpstream.start()
    defer { Task { await upstream.stop() } }
    try await withServer(upstreams: [DNSUpstream(address: upstream.address, port: upstream.port)]) { server, _ in
      let overUDP = try ask(server, FakeUpstream.bigName)
      #expect(overUDP.isTruncated && overUDP.answers.isEmpty)
      let overTCP = try ask(server, FakeUpstream.bigName, tcp: true)
      #expect(!overTCP.isTruncated)
      #expect(DNSTestNet.addresses(overTCP) == FakeUpstream.bigAddresses)
      #expect(upstream.queries == [FakeUpstream.bigName, FakeUpstream.bigName, "tcp:" + FakeUpstream.bigName])
    }
  }

  @Test("SERVFAIL when the upstream does not answer; the next upstream is tried after 2 s, or at once after ICMP")
  func upstreamDown() async throws {
    let silent = try SilentUpstream()
    let upstream = try await FakeUpstream.start()
    defer { Task { await upstream.stop() } }
    let silentOnly = [DNSUpstream(address: silent.address, port: silent.port)]
    try await withServer(upstreams: silentOnly) { server, _ in
      let started = Clock.monotonicNanoseconds()
      let response = try ask(server, FakeUpstream.knownName)
      #expect(response.rcode == DNSMessage.rcodeServerFailure)
      #expect(Clock.monotonicNanoseconds() - started >= 1_900_000_000)
    }
    try await withServer(upstreams: silentOnly + [DNSUpstream(address: upstream.address, port: upstream.port)]) { server, _ in
      let response = try ask(server, FakeUpstream.knownName)
      #expect(DNSTestNet.addresses(response) == [FakeUpstream.knownAddress])
    }
    // A closed port answers with ICMP: the next upstream is asked at once.
    let closed = DNSUpstream(address: DNSTestNet.randomLoopback(), port: 9)
    try await withServer(upstreams: [closed, DNSUpstream(address: upstream.address, port: upstream.port)]) { server, _ in
      let started = Clock.monotonicNanoseconds()
      let response = try ask(server, FakeUpstream.knownName)
      #expect(DNSTestNet.addresses(response) == [FakeUpstream.knownAddress])
      // Below the 2 s a silent upstream costs, with room for a loaded machine.
      #expect(Clock.monotonicNanoseconds() - started < 1_800_000_000)
    }
    try await withServer(upstreams: []) { server, _ in
      let response = try ask(server, "anything.example")
      #expect(response.rcode == DNSMessage.rcodeServerFailure)
    }
  }

  @Test("busybox nslookup resolves a container name and a forwarded one", .enabled(if: geteuid() == 0 && access("/bin/busybox", X_OK) == 0, "needs root (port 53) and /bin/busybox"))
  func busyboxClient() async throws {
    let upstream = try await FakeUpstream.start()
    defer { Task { await upstream.stop() } }
    try await withServer(upstreams: [DNSUpstream(address: upstream.address, port: upstream.port)], port: 53) { server, store in
      try store.register(networkID: "net1", containerID: "c1", names: ["web"], ipv4: "10.89.0.2")
      let address = server.configuration.listenAddress
      for (name, expected) in [("web", "10.89.0.2"), (FakeUpstream.knownName, FakeUpstream.knownAddress)] {
        let run = try Subprocess.run("/bin/busybox", args: ["busybox", "nslookup", "-type=a", name, address], timeoutNanoseconds: 20_000_000_000)
        let output = String(decoding: run.output, as: UTF8.self)
        #expect(run.status == .exited(0), "\(output)\(String(decoding: run.error, as: UTF8.self))")
        #expect(output.contains("Address: \(expected)"), "\(output)")
      }
      let missing = try Subprocess.run("/bin/busybox", args: ["busybox", "nslookup", "-type=a", "nosuch", address], timeoutNanoseconds: 20_000_000_000)
      #expect(String(decoding: missing.output + missing.error, as: UTF8.self).contains("NXDOMAIN"))
    }
  }

  @Test("the server stops by itself when the network has no names for the idle time")
  func idleExit() async throws {
    try await DNSTestNet.withRunRoot { runRoot in
      let store = DNSRecordStore(runRoot: runRoot)
      try store.register(networkID: "idle", containerID: "c1", names: ["web"], ipv4: "10.89.0.2")
      let server = try await DNSServer.start(DNSServerConfiguration(
        networkID: "idle", listenAddress: DNSTestNet.randomLoopback(), port: 0, runRoot: runRoot, upstreams: [], idleExitSeconds: 1))
      // With a name registered it stays.
      try await Task.sleep(for: .milliseconds(1600))
      #expect(DNSTestNet.addresses(try ask(server, "web")) == ["10.89.0.2"])
      let emptied = Clock.monotonicNanoseconds()
      try store.unregister(networkID: "idle", containerID: "c1")
      await server.waitUntilStopped()
      let seconds = Double(Clock.monotonicNanoseconds() - emptied) / 1e9
      // Not before the idle time; the upper bound is loose: beside the engine suites, a busy
      // machine delayed the check by 8 s.
      #expect(seconds >= 0.9 && seconds < 30, "stopped \(seconds) s after the last name went")
      #expect(try DNSTestNet.udpExchange(DNSTestNet.query("web").encode(), address: server.configuration.listenAddress, port: server.port, timeoutMilliseconds: 300) == nil)
    }
  }

  @Test("the server stops when its network's directory is removed, and does not make it again")
  func directoryRemoved() async throws {
    try await DNSTestNet.withRunRoot { runRoot in
      try DNSRecordStore(runRoot: runRoot).register(networkID: "gone", containerID: "c1", names: ["web"], ipv4: "10.89.0.2")
      let server = try await DNSServer.start(DNSServerConfiguration(
        networkID: "gone", listenAddress: DNSTestNet.randomLoopback(), port: 0, runRoot: runRoot, upstreams: [], idleExitSeconds: 1))
      try FS.removeTree(runRoot + "/networks/gone")
      await server.waitUntilStopped()
      #expect(!FS.exists(runRoot + "/networks/gone"))
    }
  }

  @Test("a taken address is an error that names it")
  func addressInUse() async throws {
    try await withServer(upstreams: []) { server, _ in
      do {
        let second = try await DNSServer.start(DNSServerConfiguration(
          networkID: "net1", listenAddress: server.configuration.listenAddress, port: server.port,
          runRoot: server.configuration.runRoot, upstreams: [], idleExitSeconds: nil))
        second.shutdown()
        await second.waitUntilStopped()
        Issue.record("a second server bound the same address and port")
      } catch let error as BerthError {
        #expect(error.message.contains(server.configuration.listenAddress))
      }
    }
  }
}
