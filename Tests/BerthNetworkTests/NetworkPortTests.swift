#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import Testing
@testable import BerthNetwork

/// Published ports, parallel attaches, and what detach leaves (nothing), also after a "reboot".
@Suite("NetworkPorts", .serialized, .enabled(if: NetworkTestBed.isRoot, "needs root: creates netns, bridges and iptables rules"))
struct NetworkPortTests {
  /// busybox httpd inside the namespace, serving one file.
  private func startServer(in box: NetworkTestBed.Box, bed: NetworkTestBed, text: String) throws {
    let www = bed.base + "/www-" + box.id.prefix(8)
    try FS.makeDirectories(www)
    try FS.write(www + "/index.html", text)
    let pid = try Subprocess.spawn(
      "/usr/bin/nsenter", args: ["nsenter", "--net=" + box.netns, "/bin/busybox", "httpd", "-f", "-p", "80", "-h", www],
      env: ["PATH=/usr/bin:/bin"], fds: [])
    bed.onFinish {
      kill(pid, SIGKILL)
      _ = try? Subprocess.wait(pid)
    }
    // Wait until it listens.
    for _ in 0..<100 {
      if try NetworkTestBed.run(["/usr/bin/nsenter", "--net=" + box.netns, "/bin/busybox", "wget", "-qO-", "http://127.0.0.1/"])
        .status == .exited(0) { return }
      usleep(20_000)
    }
    throw BerthError(.internalError, "httpd did not start in \(box.netns)")
  }

  private func fetch(_ url: String) throws -> String? {
    // No -T: busybox 1.35's wget crashes with it; the run's own timeout bounds the wait.
    let result = try NetworkTestBed.run(["/bin/busybox", "wget", "-qO-", url], timeoutSeconds: 5)
    return result.status == .exited(0) ? result.output : nil
  }

  @Test func publishedPortAnswersOnLoopbackAndHostAddress() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let network = try bed.makeNetwork()
    let port = try PortSpec.freeHostPort(proto: "tcp", hostIP: "")
    let box = try bed.makeBox([EndpointRequest(network: network.name)], ports: [PortMapping(hostPort: port, containerPort: 80)])
    try startServer(in: box, bed: bed, text: "hello from berth\n")
    #expect(try fetch("http://127.0.0.1:\(port)/") == "hello from berth\n")
    let host = try #require(NetworkTestBed.hostAddress())
    #expect(try fetch("http://\(host):\(port)/") == "hello from berth\n")
    // From another container of the same network through the host's address (hairpin).
    let client = try bed.makeBox([EndpointRequest(network: network.name)])
    let hairpin = try NetworkTestBed.run(
      ["/usr/bin/nsenter", "--net=" + client.netns, "/bin/busybox", "wget", "-qO-", "http://\(host):\(port)/"], timeoutSeconds: 5)
    #expect(hairpin.output == "hello from berth\n")
    let rules = try NetworkTestBed.iptablesSave()
    #expect(rules.contains(box.id), "portmap tags its rules with the container id")
    try bed.removeBox(box)
    #expect(try fetch("http://127.0.0.1:\(port)/") == nil)
    #expect(!(try NetworkTestBed.iptablesSave()).contains(box.id), "detach leaves no rule of the container")
    try bed.finish()
  }

  @Test func loopbackOnlyPort() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let network = try bed.makeNetwork()
    let port = try PortSpec.freeHostPort(proto: "tcp", hostIP: "127.0.0.1")
    let box = try bed.makeBox(
      [EndpointRequest(network: network.name)], ports: [PortMapping(hostIP: "127.0.0.1", hostPort: port, containerPort: 80)])
    try startServer(in: box, bed: bed, text: "local\n")
    #expect(try fetch("http://127.0.0.1:\(port)/") == "local\n")
    let host = try #require(NetworkTestBed.hostAddress())
    #expect(try fetch("http://\(host):\(port)/") == nil, "bound to 127.0.0.1 only")
    try bed.finish()
  }

  @Test func parallelAttachesGetDistinctAddresses() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let network = try bed.makeNetwork()
    let count = 20
    let ids = (0..<count).map { _ in NetworkStore.randomID() }
    let paths = try ids.map { try bed.attacher.createNamespace(containerID: $0) }
    bed.onFinish { for id in ids { bed.attacher.removeNamespace(containerID: id) } }
    // Separate processes would hold the same locks; threads here exercise them the same way.
    let results = ParallelResults(count: count)
    let attacher = bed.attacher
    let started = Clock.monotonicNanoseconds()
    var threads: [pthread_t] = []
    for index in 0..<count {
      let work = ThreadWork {
        results.set(index, Result {
          try attacher.attach(containerID: ids[index], containerName: "p\(index)", netns: paths[index],
                              requests: [EndpointRequest(network: network.name)], ports: [])
        })
      }
      var thread = pthread_t()
      let context = Unmanaged.passRetained(work).toOpaque()
      try #require(pthread_create(&thread, nil, { raw in
        guard let raw else { return nil }
        Unmanaged<ThreadWork>.fromOpaque(raw).takeRetainedValue().body()
        return nil
      }, context) == 0)
      threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
    let elapsed = Double(Clock.monotonicNanoseconds() - started) / 1e6
    print("20 parallel attaches: \(Int(elapsed)) ms")
    var endpoints: [[Endpoint]] = []
    for index in 0..<count {
      switch results.get(index) {
      case .success(let value): endpoints.append(value)
      case .failure(let error): Issue.record("attach \(index) failed: \(error)")
      case nil: Issue.record("attach \(index) did not finish")
      }
    }
    let ips = endpoints.compactMap { $0.first?.ip }
    #expect(ips.count == count && Set(ips).count == count, "\(ips)")
    let leases = try FS.list(Path.join(bed.store.ipamDirectory, network.id)).filter { IPv4Address($0) != nil }
    #expect(Set(leases) == Set(ips))
    #expect(NetworkTestBed.bridgePorts(network.bridge).count == count)
    for (index, endpoint) in endpoints.enumerated() {
      try bed.attacher.detach(containerID: ids[index], netns: paths[index], endpoints: endpoint, ports: [])
    }
    #expect(try FS.list(Path.join(bed.store.ipamDirectory, network.id)).filter { IPv4Address($0) != nil }.isEmpty)
    #expect(NetworkTestBed.bridgePorts(network.bridge).isEmpty, "no veth left")
    try bed.finish()
  }

  /// After a reboot the namespace and runRoot are gone; detach with the saved endpoints
  /// still frees the address and removes the port rules.
  @Test func detachAfterRebootFreesEverything() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let network = try bed.makeNetwork()
    let port = try PortSpec.freeHostPort(proto: "tcp", hostIP: "")
    let ports = [PortMapping(hostPort: port, containerPort: 80), PortMapping(hostPort: port, containerPort: 53, proto: "udp")]
    let box = try bed.makeBox([EndpointRequest(network: network.name)], ports: ports)
    let ip = try #require(box.endpoints.first?.ip)
    #expect(FS.exists(Path.join(bed.store.ipamDirectory, network.id, ip)))
    #expect((try NetworkTestBed.iptablesSave()).contains(box.id))
    // "Reboot": the namespace dies with its veth; runRoot is emptied.
    bed.attacher.removeNamespace(containerID: box.id)
    try FS.removeTree(bed.store.runRoot)
    try bed.attacher.detach(containerID: box.id, netns: box.netns, endpoints: box.endpoints, ports: ports)
    try bed.attacher.detach(containerID: box.id, netns: box.netns, endpoints: box.endpoints, ports: ports)  // idempotent
    #expect(!FS.exists(Path.join(bed.store.ipamDirectory, network.id, ip)), "the address is free again")
    #expect(!(try NetworkTestBed.iptablesSave()).contains(box.id), "no port rule left")
    #expect(NetworkTestBed.bridgePorts(network.bridge).isEmpty)
    try bed.finish()
  }

  /// A container whose saved endpoints are lost: the leases name it, and releaseLeftovers
  /// frees its addresses and port rules on every network.
  @Test func leftoversOfALostContainerAreReleased() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let netA = try bed.makeNetwork(), netB = try bed.makeNetwork()
    let port = try PortSpec.freeHostPort(proto: "tcp", hostIP: "")
    let box = try bed.makeBox(
      [EndpointRequest(network: netA.name), EndpointRequest(network: netB.name)], ports: [PortMapping(hostPort: port, containerPort: 80)])
    let other = try bed.makeBox([EndpointRequest(network: netA.name)])
    let leases = try bed.store.leases()
    #expect(Set(leases.filter { $0.containerID == box.id }.map(\.ip)) == Set(box.endpoints.map(\.ip)))
    #expect(leases.first { $0.containerID == box.id && $0.networkID == netB.id }?.interface == "eth1")
    try bed.attacher.releaseLeftovers(containerID: box.id)
    try bed.attacher.releaseLeftovers(containerID: box.id)
    #expect(!(try bed.store.leases()).contains { $0.containerID == box.id })
    #expect((try bed.store.leases()).contains { $0.containerID == other.id }, "other containers keep theirs")
    #expect(!(try NetworkTestBed.iptablesSave()).contains(box.id))
    #expect(!FS.exists(box.netns))
    // The namespace went with its veths (asynchronously in the kernel).
    for _ in 0..<100 where NetworkTestBed.bridgePorts(netB.bridge).count > 0 { usleep(10_000) }
    #expect(NetworkTestBed.bridgePorts(netB.bridge).isEmpty)
    try bed.finish()
  }

  /// A runRoot on disk survives a reboot, the rules do not: a marker from another boot must
  /// not stop the rules from coming back.
  @Test func firewallRulesReturnAfterAReboot() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let network = try bed.makeNetwork()
    try bed.removeBox(try bed.makeBox([EndpointRequest(network: network.name)]))
    try Firewall.remove(network)  // what the reboot did
    #expect(!(try NetworkTestBed.iptablesSave()).contains(Firewall.tag(network)))
    try FS.write(Path.join(bed.store.runDirectory(network.id), "firewall"), "an-older-boot")
    _ = try bed.makeBox([EndpointRequest(network: network.name)])
    let rules = try NetworkTestBed.iptablesSave()
    #expect(rules.contains("-A BERTH-POSTROUTING -s \(network.subnet) ! -o \(network.bridge)"))
    #expect(rules.contains("-A BERTH-ISOLATION-1 -i \(network.bridge) ! -o \(network.bridge)"))
    try bed.finish()
  }

  @Test func removingANetworkRemovesItsBridgeRulesAndState() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let network = try bed.makeNetwork()
    let box = try bed.makeBox([EndpointRequest(network: network.name)])
    #expect(FS.exists("/sys/class/net/" + network.bridge))
    #expect((try NetworkTestBed.iptablesSave()).contains(Firewall.tag(network)))
    try bed.removeBox(box)
    try bed.store.remove(network.name)
    #expect(!FS.exists("/sys/class/net/" + network.bridge))
    #expect(!(try NetworkTestBed.iptablesSave()).contains(Firewall.tag(network)))
    #expect(!FS.exists(Path.join(bed.store.ipamDirectory, network.id)))
    #expect(!FS.exists(bed.store.definitionPath(network.id)))
    try bed.finish()
  }
}

final class ThreadWork: @unchecked Sendable {
  let body: () -> Void
  init(_ body: @escaping () -> Void) { self.body = body }
}

/// Results written by threads, read after they are joined.
final class ParallelResults: @unchecked Sendable {
  private var values: [Result<[Endpoint], any Error>?]
  private var lock = pthread_mutex_t()
  init(count: Int) {
    values = Array(repeating: nil, count: count)
    pthread_mutex_init(&lock, nil)
  }
  func set(_ index: Int, _ value: Result<[Endpoint], any Error>) {
    pthread_mutex_lock(&lock); values[index] = value; pthread_mutex_unlock(&lock)
  }
  func get(_ index: Int) -> Result<[Endpoint], any Error>? {
    pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
    return values[index]
  }
}
