#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import BerthTestSupport
import Testing
@testable import BerthNetwork

/// `ensureRunning` and `stop` with the real `berth` binary built next to the tests.
@Suite("DNS server process", .serialized)
struct DNSServerControlTests {
  static let berth: String = {
    let exe = (try? FS.readLink("/proc/self/exe")) ?? CommandLine.arguments[0]
    return Path.dirname(exe) + "/berth"
  }()

  static let unavailableReason: String? = {
    if geteuid() != 0 { return "needs root: the server listens on port 53" }
    if access(berth, X_OK) != 0 { return "\(berth) is missing: swift build --scratch-path .build-lead --build-tests" }
    return nil
  }()

  func pid(_ runRoot: String, _ network: String) throws -> pid_t {
    let text = try FS.readText(runRoot + "/networks/\(network)/dns.pid", trimmingNewline: true)
    guard let pid = pid_t(text) else { throw BerthError(.internalError, "dns.pid holds \(quoted(text))") }
    return pid
  }

  /// True once the process is gone (reaped here: the test started it, so it is our child).
  func gone(_ pid: pid_t) -> Bool {
    var status: Int32 = 0
    _ = waitpid(pid, &status, WNOHANG)
    return kill(pid, 0) != 0 && errno == ESRCH
  }

  /// Resident and proportional set sizes in KiB, from /proc/PID/smaps_rollup.
  func memory(_ pid: pid_t) -> (rss: Int, pss: Int) {
    guard let text = try? FS.readText("/proc/\(pid)/smaps_rollup") else { return (0, 0) }
    func field(_ name: String) -> Int {
      for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
      }
      return 0
    }
    return (field("Rss"), field("Pss"))
  }

  @Test("ensureRunning starts one listening server, again is a no-op, stop ends it", .enabled(if: unavailableReason == nil, "\(unavailableReason ?? "")"))
  func startStop() async throws {
    let upstream = try await FakeUpstream.start()
    defer { Task { await upstream.stop() } }
    setenv("BERTH_DNS_UPSTREAM", upstream.spec, 1)
    defer { unsetenv("BERTH_DNS_UPSTREAM") }
    try await DNSTestNet.withRunRoot { runRoot in
      let address = DNSTestNet.randomLoopback()
      try DNSRecordStore(runRoot: runRoot).register(networkID: "netA", containerID: "c1", names: ["web"], ipv4: "10.89.0.2")
      #expect(!DNSServerControl.isRunning(networkID: "netA", runRoot: runRoot))
      try DNSServerControl.ensureRunning(networkID: "netA", listenAddress: address, runRoot: runRoot, berthExecutable: Self.berth)
      let server = try pid(runRoot, "netA")
      defer {
        if kill(server, 0) == 0 { kill(server, SIGKILL); _ = waitpid(server, nil, 0) }
      }
      #expect(DNSServerControl.isRunning(networkID: "netA", runRoot: runRoot))
      // Listening as soon as ensureRunning returned: no retry here.
      let reply = try DNSTestNet.udpExchange(DNSTestNet.query("web").encode(), address: address, port: 53, timeoutMilliseconds: 2000)
      #expect(try reply.map { DNSTestNet.addresses(try DNSMessage.decode($0)) } == ["10.89.0.2"])
      let forwarded = try DNSTestNet.tcpExchange(DNSTestNet.query(FakeUpstream.knownName).encode(), address: address, port: 53)
      #expect(DNSTestNet.addresses(try DNSMessage.decode(forwarded)) == [FakeUpstream.knownAddress], "BERTH_DNS_UPSTREAM reached the server")
      // Its own session, detached.
      #expect(getsid(server) == server)

      try DNSServerControl.ensureRunning(networkID: "netA", listenAddress: address, runRoot: runRoot, berthExecutable: Self.berth)
      #expect(try pid(runRoot, "netA") == server, "a second ensureRunning keeps the running server")

      let usage = memory(server)
      print("dns-server memory: RSS \(usage.rss) KiB, PSS \(usage.pss) KiB")
      #expect(usage.rss > 0)

      DNSServerControl.stop(networkID: "netA", runRoot: runRoot)
      #expect(gone(server))
      #expect(!DNSServerControl.isRunning(networkID: "netA", runRoot: runRoot))
      #expect(!FS.exists(runRoot + "/networks/netA/dns.pid"))
      DNSServerControl.stop(networkID: "netA", runRoot: runRoot)
    }
  }

  @Test("ensureRunning from several threads at once starts one server", .enabled(if: unavailableReason == nil, "\(unavailableReason ?? "")"))
  func concurrentStarts() async throws {
    try await DNSTestNet.withRunRoot { runRoot in
      let address = DNSTestNet.randomLoopback()
      try DNSRecordStore(runRoot: runRoot).register(networkID: "netD", containerID: "c1", names: ["web"], ipv4: "10.89.0.2")
      let before = try FS.list("/proc").filter { pid_t($0) != nil }.count
      try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<4 {
          group.addTask {
            try DNSServerControl.ensureRunning(networkID: "netD", listenAddress: address, runRoot: runRoot, berthExecutable: Self.berth)
          }
        }
        try await group.waitForAll()
      }
      let server = try pid(runRoot, "netD")
      defer {
        if kill(server, 0) == 0 { kill(server, SIGKILL); _ = waitpid(server, nil, 0) }
      }
      // Only one of them holds the port: a second server would have failed to bind and made
      // its ensureRunning throw; count the processes with this network in their arguments too.
      let servers = try FS.list("/proc").compactMap(pid_t.init).filter { candidate in
        guard let command = try? FS.read("/proc/\(candidate)/cmdline") else { return false }
        let arguments = command.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return arguments.contains("dns-server") && arguments.contains(runRoot)
      }
      #expect(servers == [server], "processes before: \(before)")
      DNSServerControl.stop(networkID: "netD", runRoot: runRoot)
      #expect(gone(server))
    }
  }

  @Test("the process exits by itself when its network has no containers left", .enabled(if: unavailableReason == nil, "\(unavailableReason ?? "")"))
  func idleExit() async throws {
    try await DNSTestNet.withRunRoot { runRoot in
      let address = DNSTestNet.randomLoopback()
      let store = DNSRecordStore(runRoot: runRoot)
      try store.register(networkID: "netB", containerID: "c1", names: ["web"], ipv4: "10.89.0.2")
      try DNSServerControl.ensureRunning(
        networkID: "netB", listenAddress: address, port: 53, runRoot: runRoot, berthExecutable: Self.berth,
        extraArguments: ["--idle-exit", "1"])
      let server = try pid(runRoot, "netB")
      defer {
        if kill(server, 0) == 0 { kill(server, SIGKILL); _ = waitpid(server, nil, 0) }
      }
      try store.unregister(networkID: "netB", containerID: "c1")
      let deadline = Clock.monotonicNanoseconds() + 10_000_000_000
      while !gone(server) && Clock.monotonicNanoseconds() < deadline { try await Task.sleep(for: .milliseconds(100)) }
      #expect(gone(server))
      #expect(!DNSServerControl.isRunning(networkID: "netB", runRoot: runRoot))
      #expect(!FS.exists(runRoot + "/networks/netB/dns.pid"), "the server removed its pid file")
    }
  }

  @Test("a server that cannot listen makes ensureRunning fail with the reason", .enabled(if: unavailableReason == nil, "\(unavailableReason ?? "")"))
  func cannotListen() async throws {
    try await DNSTestNet.withRunRoot { runRoot in
      // 192.0.2.1 (TEST-NET-1) is on no interface here.
      do {
        try DNSServerControl.ensureRunning(networkID: "netC", listenAddress: "192.0.2.1", runRoot: runRoot, berthExecutable: Self.berth)
        DNSServerControl.stop(networkID: "netC", runRoot: runRoot)
        Issue.record("a server started on an address of no interface")
      } catch let error as BerthError {
        #expect(error.message.contains("192.0.2.1"), "\(error.message)")
      }
      #expect(!DNSServerControl.isRunning(networkID: "netC", runRoot: runRoot))
    }
  }
}
