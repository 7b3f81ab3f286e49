#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import Testing
@testable import BerthNetwork

/// Real namespaces, bridges, CNI plugins and iptables rules; traffic stays inside this machine.
@Suite("NetworkAttach", .serialized, .enabled(if: NetworkTestBed.isRoot, "needs root: creates netns, bridges and iptables rules"))
struct NetworkAttachTests {
  @Test func namespaceHasLoopbackUp() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let id = NetworkStore.randomID()
    let path = try bed.attacher.createNamespace(containerID: id)
    #expect(path == bed.attacher.namespacePath(containerID: id))
    let links = try NetworkTestBed.run(["/usr/bin/nsenter", "--net=" + path, "/usr/sbin/ip", "-o", "link"]).output
    #expect(links.contains("lo:") && links.contains("UP"), "\(links)")
    #expect(!links.contains("eth0"))
    #expect(try NetworkTestBed.ping(from: path, "127.0.0.1"))
    // A different namespace from the host's.
    let hostNS = try FS.readLink("/proc/self/ns/net")
    let nsInode = try FS.readText("/proc/self/mountinfo").contains(path)
    #expect(nsInode && !hostNS.isEmpty)
    #expect(throws: BerthError.self) { try bed.attacher.createNamespace(containerID: id) }
    bed.attacher.removeNamespace(containerID: id)
    bed.attacher.removeNamespace(containerID: id)
    #expect(!FS.exists(path))
    try bed.finish()
  }

  @Test func containersOnOneNetworkTalk() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let network = try bed.makeNetwork()
    let a = try bed.makeBox([EndpointRequest(network: network.name, aliases: ["web"])])
    let b = try bed.makeBox([EndpointRequest(network: network.id)])
    let ea = try #require(a.endpoints.first), eb = try #require(b.endpoints.first)
    #expect(ea.interface == "eth0" && ea.network == network.name && ea.networkID == network.id)
    #expect(ea.gateway == network.gateway && ea.prefixLength == 24 && ea.aliases == ["web"])
    #expect(ea.ip != eb.ip && ea.mac.count == 17)
    #expect(try NetworkTestBed.ping(from: a.netns, eb.ip))
    #expect(try NetworkTestBed.ping(from: b.netns, ea.ip))
    #expect(try NetworkTestBed.ping(from: a.netns, network.gateway))
    #expect(NetworkTestBed.bridgePorts(network.bridge).count == 2)
    try bed.finish()
  }

  @Test func staticAddressAndMAC() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let network = try bed.makeNetwork()
    let subnet = try IPv4Network.parse(network.subnet, what: "s")
    let ip = IPv4Address(subnet.address.value + 77).description
    let box = try bed.makeBox([EndpointRequest(network: network.name, ip: ip, mac: "02:42:0a:0b:0c:0d")])
    #expect(box.endpoints.first?.ip == ip)
    #expect(box.endpoints.first?.mac == "02:42:0a:0b:0c:0d")
    let shown = try NetworkTestBed.run(["/usr/bin/nsenter", "--net=" + box.netns, "/usr/sbin/ip", "addr", "show", "eth0"]).output
    #expect(shown.contains(ip + "/24") && shown.contains("02:42:0a:0b:0c:0d"), "\(shown)")
    // The same address twice is refused, and the failed attach leaves nothing behind.
    let veths = NetworkTestBed.bridgePorts(network.bridge).count
    let error = #expect(throws: BerthError.self) { try bed.makeBox([EndpointRequest(network: network.name, ip: ip)]) }
    #expect(error?.message.contains(ip) == true, "\(error?.message ?? "")")
    #expect(NetworkTestBed.bridgePorts(network.bridge).count == veths)
    let outside = #expect(throws: BerthError.self) { try bed.makeBox([EndpointRequest(network: network.name, ip: "192.168.250.3")]) }
    #expect(outside?.message.contains("not in the subnet") == true)
    try bed.finish()
  }

  @Test func ipRangeLimitsAddresses() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let network = try bed.makeNetwork(ipRange: true)
    let range = try IPv4Network.parse(try #require(network.ipRange), what: "r")
    let box = try bed.makeBox([EndpointRequest(network: network.name)])
    let text = try #require(box.endpoints.first?.ip)
    let ip = try #require(IPv4Address(text))
    #expect(range.contains(ip))
    try bed.finish()
  }

  @Test func networksAreIsolated() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let netA = try bed.makeNetwork(), netB = try bed.makeNetwork()
    let a = try bed.makeBox([EndpointRequest(network: netA.name)])
    let b = try bed.makeBox([EndpointRequest(network: netB.name)])
    let ipA = try #require(a.endpoints.first?.ip), ipB = try #require(b.endpoints.first?.ip)
    #expect(try !NetworkTestBed.ping(from: a.netns, ipB))
    #expect(try !NetworkTestBed.ping(from: b.netns, ipA))
    // A container on both networks reaches both.
    let both = try bed.makeBox([EndpointRequest(network: netA.name), EndpointRequest(network: netB.name)])
    #expect(both.endpoints.map(\.interface) == ["eth0", "eth1"])
    #expect(try NetworkTestBed.ping(from: both.netns, ipA))
    #expect(try NetworkTestBed.ping(from: both.netns, ipB))
    try bed.finish()
  }

  /// An "outside host": a netns behind a veth pair with its own subnet, routed by the host.
  /// A normal network reaches it (forwarding + masquerade); an internal one does not.
  @Test func internalNetworksHaveNoWayOut() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let outsideNet = try bed.freeSubnet()
    let hostSide = NetworkTestBed.uniqueName("bo"), peer = NetworkTestBed.uniqueName("bp")
    let outsideID = NetworkStore.randomID()
    let outsideNS = try bed.attacher.createNamespace(containerID: outsideID)
    bed.onFinish {
      _ = try? NetworkTestBed.run(["/usr/sbin/ip", "link", "delete", hostSide])
      bed.attacher.removeNamespace(containerID: outsideID)
    }
    let hostIP = IPv4Address(outsideNet.address.value + 1).description
    let outsideIP = IPv4Address(outsideNet.address.value + 2).description
    for command in [
      ["/usr/sbin/ip", "link", "add", hostSide, "type", "veth", "peer", "name", peer],
      ["/usr/sbin/ip", "addr", "add", "\(hostIP)/24", "dev", hostSide],
      ["/usr/sbin/ip", "link", "set", hostSide, "up"],
      ["/usr/sbin/ip", "link", "set", peer, "netns", outsideNS],
      ["/usr/bin/nsenter", "--net=" + outsideNS, "/usr/sbin/ip", "addr", "add", "\(outsideIP)/24", "dev", peer],
      ["/usr/bin/nsenter", "--net=" + outsideNS, "/usr/sbin/ip", "link", "set", peer, "up"],
      ["/usr/bin/nsenter", "--net=" + outsideNS, "/usr/sbin/ip", "route", "add", "default", "via", hostIP],
    ] {
      let result = try NetworkTestBed.run(command)
      try #require(result.status == .exited(0), "\(command): \(result.output)")
    }
    let open = try bed.makeNetwork(), closed = try bed.makeNetwork(internal: true)
    let inside = try bed.makeBox([EndpointRequest(network: closed.name)])
    let normal = try bed.makeBox([EndpointRequest(network: open.name)])
    #expect(try NetworkTestBed.ping(from: normal.netns, outsideIP), "a normal network reaches outside")
    #expect(try !NetworkTestBed.ping(from: inside.netns, outsideIP), "an internal network must not")
    let routes = try NetworkTestBed.run(["/usr/bin/nsenter", "--net=" + inside.netns, "/usr/sbin/ip", "route"]).output
    #expect(!routes.contains("default"), "\(routes)")
    // Even with a default route added by hand, the firewall drops the way out.
    let gatewayRoute = try NetworkTestBed.run(
      ["/usr/bin/nsenter", "--net=" + inside.netns, "/usr/sbin/ip", "route", "add", "default", "via", closed.gateway])
    try #require(gatewayRoute.status == .exited(0), "\(gatewayRoute.output)")
    #expect(try !NetworkTestBed.ping(from: inside.netns, outsideIP), "the firewall must drop it")
    // Masquerade: the outside host sees the host's address, not the container's.
    let nat = try NetworkTestBed.iptablesSave()
    #expect(nat.contains("-A BERTH-POSTROUTING -s \(open.subnet) ! -o \(open.bridge)"))
    #expect(!nat.contains("-s \(closed.subnet) ! -o \(closed.bridge)"))
    // Internal containers still reach each other and their gateway.
    let inside2 = try bed.makeBox([EndpointRequest(network: closed.name)])
    #expect(try NetworkTestBed.ping(from: inside2.netns, try #require(inside.endpoints.first?.ip)))
    try bed.finish()
  }

  /// Each root has its own default bridge; a second root's default network avoids the first's
  /// subnet once that bridge is up (it is a host route then).
  @Test func defaultNetworksOfTwoRootsStayApart() throws {
    let first = try NetworkTestBed(), second = try NetworkTestBed()
    defer { try? first.finish(); try? second.finish() }
    let box = try first.makeBox([EndpointRequest(network: "bridge")])
    let network = try first.store.defaultNetwork()
    #expect(box.endpoints.first?.networkID == network.id)
    #expect(FS.exists("/sys/class/net/\(network.bridge)/bridge"))
    #expect(try NetworkTestBed.ping(from: box.netns, network.gateway))
    let other = try second.store.defaultNetwork()
    #expect(other.bridge != network.bridge)
    #expect(try !IPv4Network.parse(other.subnet, what: "s").overlaps(try IPv4Network.parse(network.subnet, what: "s")))
    try first.finish()
    #expect(!FS.exists("/sys/class/net/" + network.bridge), "removeAll takes the default bridge too")
    try second.finish()
  }

  @Test func connectAndDisconnect() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let netA = try bed.makeNetwork(), netB = try bed.makeNetwork()
    let box = try bed.makeBox([EndpointRequest(network: netA.name)])
    let peer = try bed.makeBox([EndpointRequest(network: netB.name)])
    let peerIP = try #require(peer.endpoints.first?.ip)
    #expect(try !NetworkTestBed.ping(from: box.netns, peerIP))
    let added = try bed.attacher.connect(
      containerID: box.id, containerName: "box", netns: box.netns, request: EndpointRequest(network: netB.name), existing: box.endpoints)
    #expect(added.interface == "eth1" && added.networkID == netB.id)
    #expect(try NetworkTestBed.ping(from: box.netns, peerIP))
    let again = #expect(throws: BerthError.self) {
      try bed.attacher.connect(containerID: box.id, containerName: "box", netns: box.netns,
                               request: EndpointRequest(network: netB.name), existing: box.endpoints + [added])
    }
    #expect(again?.code == .conflict)
    try bed.attacher.disconnect(containerID: box.id, netns: box.netns, endpoint: added)
    #expect(try !NetworkTestBed.ping(from: box.netns, peerIP))
    let links = try NetworkTestBed.run(["/usr/bin/nsenter", "--net=" + box.netns, "/usr/sbin/ip", "-o", "link"]).output
    #expect(!links.contains("eth1"))
    #expect(!FS.exists(Path.join(bed.store.ipamDirectory, netB.id, added.ip)))
    try bed.finish()
  }
}
