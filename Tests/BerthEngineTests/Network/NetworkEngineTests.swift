import BerthNetwork
import BerthOS
import Foundation
import Testing

/// Containers on networks, end to end through the `berth` binary: real bridges, CNI plugins,
/// iptables rules, DNS servers, and traffic between containers and from the host (never off
/// this machine). Every sandbox's leak check also asserts no veth, IPAM entry, netns or rule
/// is left (EngineSandbox+Networks.swift).
@Suite("networks in the engine", .engineSandbox, .serialized)
struct NetworkEngineTests {
  @Test("user network: a client reaches an httpd container by name and by alias; a network in use cannot be removed")
  func nameAndAlias() async throws {
    try await NetworkTestSupport.withSandbox { sandbox in
      let network = NetworkTestSupport.name("web")
      let subnet = try NetworkTestSupport.freeSubnet()
      let networkID = try await sandbox.createNetwork(network, subnet: subnet)
      #expect(networkID.count == 64)
      try await sandbox.startServer("server", ["--network", network, "--network-alias", "www"])
      var byName = try await sandbox.fetchFromContainer("http://server/", ["--network", network])
      for _ in 0..<20 where byName.code != 0 {
        try await Task.sleep(nanoseconds: 100_000_000)
        byName = try await sandbox.fetchFromContainer("http://server/", ["--network", network])
      }
      #expect(byName.code == 0 && byName.stdout == "hello from server\n", "\(byName)")
      let byAlias = try await sandbox.fetchFromContainer("http://www/", ["--network", network])
      #expect(byAlias.code == 0 && byAlias.stdout == "hello from server\n", "\(byAlias)")
      let resolv = try await sandbox.ok("run", "--rm", "--network", network, "busybox", "cat", "/etc/resolv.conf")
      #expect(resolv.lines.first == "nameserver \(NetworkTestSupport.prefix(subnet))1", "\(resolv)")

      let inUse = try await sandbox.run("network", "rm", network)
      #expect(inUse.code == 1, "\(inUse)")
      #expect(inUse.stderr.hasPrefix("Error response from daemon: error while removing network: network \(network) id \(networkID) has active endpoints"), "\(inUse)")

      let inspected = try await sandbox.ok("network", "inspect", network).stdout
      let object = try #require((try JSONSerialization.jsonObject(with: Data(inspected.utf8)) as? [[String: Any]])?.first)
      let containers = object["Containers"] as? [String: [String: Any]] ?? [:]
      let serverID = try await sandbox.field("server", "{{.Id}}")
      #expect(containers.keys.sorted() == [serverID])
      #expect((containers[serverID]?["IPv4Address"] as? String)?.hasPrefix(NetworkTestSupport.prefix(subnet)) == true)
      let ipam = (object["IPAM"] as? [String: Any])?["Config"] as? [[String: Any]]
      #expect(ipam?.first?["Subnet"] as? String == subnet)
      // Docker's template idioms: range over a map, index by key.
      let serverIP = (containers[serverID]?["IPv4Address"] as? String)?.split(separator: "/").first.map(String.init) ?? "?"
      #expect(try await sandbox.field("server", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}") == serverIP)
      #expect(try await sandbox.ok("network", "inspect", "-f", "{{range .Containers}}{{.Name}},{{end}}", network).trimmed == "server,")
      #expect(try await sandbox.field("server", "{{index .NetworkSettings.Networks \"\(network)\"}}").contains(serverIP))
      let unbalanced = try await sandbox.run("inspect", "-f", "{{range .Mounts}}x", "server")
      #expect(unbalanced.code != 0 && unbalanced.stderr.contains("{{range}} without {{end}}"), "\(unbalanced)")

      try await sandbox.ok("rm", "-f", "server")
      #expect(try await sandbox.ok("network", "rm", network).trimmed == network)
      let gone = try await sandbox.run("network", "inspect", network)
      #expect(gone.code == 1 && gone.stderr == "Error response from daemon: network \(network) not found\n", "\(gone)")
    }
  }

  @Test("-p publishes on 127.0.0.1 and the host's address; port, ps and inspect show it; -P picks free ports")
  func publishedPorts() async throws {
    try await NetworkTestSupport.withSandbox { sandbox in
      // A user network with a subnet of its own: sandboxes running at once may pick the same
      // default subnet (see the report on NetworkStore.defaultNetwork), so the default bridge
      // is exercised by -P below only.
      let network = NetworkTestSupport.name("pub")
      try await sandbox.createNetwork(network, subnet: try NetworkTestSupport.freeSubnet())
      let hostPort = try NetworkTestSupport.freePort()
      try await sandbox.startServer("published", ["--network", network, "-p", "\(hostPort):80"])
      let inside = try await sandbox.run("exec", "published", "sh", "-c", "sleep 0.2; wget -qO- http://127.0.0.1/")
      let local = await NetworkTestSupport.fetchWhenUp("http://127.0.0.1:\(hostPort)/")
      #expect(local == "hello from published\n", "inside the container: \(inside)")
      let address = try NetworkTestSupport.hostAddress()
      #expect(NetworkTestSupport.fetch("http://\(address):\(hostPort)/") == "hello from published\n")

      #expect(try await sandbox.ok("port", "published").stdout == "80/tcp -> 0.0.0.0:\(hostPort)\n")
      #expect(try await sandbox.ok("port", "published", "80").stdout == "0.0.0.0:\(hostPort)\n")
      let other = try await sandbox.run("port", "published", "81/tcp")
      #expect(other.code == 1 && other.stderr == "Error: No public port '81/tcp' published for published\n", "\(other)")
      #expect(try await sandbox.ok("ps", "--format", "{{.Ports}}").trimmed == "0.0.0.0:\(hostPort)->80/tcp")
      #expect(try await sandbox.field("published", "{{json .NetworkSettings.Ports}}")
        == "{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"\(hostPort)\"}]}")
      #expect(try await sandbox.field("published", "{{json .HostConfig.PortBindings}}")
        == "{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"\(hostPort)\"}]}")
      // Only the default bridge fills the top-level address, as in Docker.
      #expect(try await sandbox.field("published", "{{.NetworkSettings.IPAddress}}").isEmpty)

      try await sandbox.startServer("everything", ["-P", "--expose", "80"])
      let ip = try await sandbox.field("everything", "{{.NetworkSettings.IPAddress}}")
      #expect(ip == (try await sandbox.field("everything", "{{.NetworkSettings.Networks.bridge.IPAddress}}")) && !ip.isEmpty)
      let line = try await sandbox.ok("port", "everything", "80/tcp").trimmed
      let chosen = try #require(UInt16(line.split(separator: ":").last ?? ""), "\(line)")
      #expect(await NetworkTestSupport.fetchWhenUp("http://127.0.0.1:\(chosen)/") == "hello from everything\n")

      try await sandbox.ok("rm", "-f", "published", "everything")
      #expect(NetworkTestSupport.fetch("http://127.0.0.1:\(hostPort)/") == nil)
    }
  }

  @Test("--network container:NAME shares the server's namespace; the other container must run")
  func containerMode() async throws {
    try await NetworkTestSupport.withSandbox { sandbox in
      try await sandbox.startServer("host-of-net")
      var shared = try await sandbox.fetchFromContainer("http://127.0.0.1/", ["--network", "container:host-of-net"])
      for _ in 0..<20 where shared.code != 0 {
        try await Task.sleep(nanoseconds: 100_000_000)
        shared = try await sandbox.fetchFromContainer("http://127.0.0.1/", ["--network", "container:host-of-net"])
      }
      #expect(shared.code == 0 && shared.stdout == "hello from host-of-net\n", "\(shared)")
      let serverNet = try await sandbox.ok("exec", "host-of-net", "readlink", "/proc/self/ns/net").trimmed
      let joined = try await sandbox.ok("run", "--rm", "--network", "container:host-of-net", "busybox", "readlink", "/proc/self/ns/net")
      #expect(joined.trimmed == serverNet)
      // The owner's /etc/hosts, with its address.
      let serverIP = try await sandbox.field("host-of-net", "{{.NetworkSettings.IPAddress}}")
      let hosts = try await sandbox.ok("run", "--rm", "--network", "container:host-of-net", "busybox", "cat", "/etc/hosts")
      #expect(!serverIP.isEmpty && hosts.stdout.contains("\(serverIP)\t"), "\(hosts)")

      try await sandbox.ok("create", "--name", "idle", "busybox", "true")
      let notRunning = try await sandbox.run("run", "--rm", "--network", "container:idle", "busybox", "true")
      #expect(notRunning.code == 125 && notRunning.stderr.contains("non running container"), "\(notRunning)")
      let published = try await sandbox.run("run", "--rm", "--network", "container:host-of-net", "-p", "80", "busybox", "true")
      #expect(published.code == 125, "\(published)")
      #expect(published.stderr == "Error: conflicting options: port publishing and the container type network mode\n", "\(published)")
    }
  }

  @Test("two networks cannot reach each other; an --internal network reaches nothing outside it")
  func isolation() async throws {
    try await NetworkTestSupport.withSandbox { sandbox in
      let (a, b, sealed) = (NetworkTestSupport.name("a"), NetworkTestSupport.name("b"), NetworkTestSupport.name("internal"))
      try await sandbox.createNetwork(a, subnet: try NetworkTestSupport.freeSubnet())
      try await sandbox.createNetwork(b, subnet: try NetworkTestSupport.freeSubnet())
      try await sandbox.createNetwork(sealed, subnet: try NetworkTestSupport.freeSubnet(), ["--internal"])
      try await sandbox.startServer("on-a", ["--network", a])
      try await sandbox.startServer("on-sealed", ["--network", sealed])
      let serverIP = try await sandbox.field("on-a", "{{.NetworkSettings.Networks.\(a).IPAddress}}")
      let sealedIP = try await sandbox.field("on-sealed", "{{.NetworkSettings.Networks.\(sealed).IPAddress}}")

      var same = try await sandbox.fetchFromContainer("http://\(serverIP)/", ["--network", a])
      for _ in 0..<20 where same.code != 0 {
        try await Task.sleep(nanoseconds: 100_000_000)
        same = try await sandbox.fetchFromContainer("http://\(serverIP)/", ["--network", a])
      }
      #expect(same.code == 0 && same.stdout == "hello from on-a\n", "\(same)")
      let across = try await sandbox.fetchFromContainer("http://\(serverIP)/", ["--network", b])
      #expect(across.code != 0 && across.stdout.isEmpty, "network \(b) reached a container on \(a): \(across)")

      // Inside the internal network: its peers, and nothing else (not a container on another
      // network, not the host's published port).
      let inside = try await sandbox.fetchFromContainer("http://\(sealedIP)/", ["--network", sealed])
      #expect(inside.code == 0 && inside.stdout == "hello from on-sealed\n", "\(inside)")
      let out = try await sandbox.fetchFromContainer("http://\(serverIP)/", ["--network", sealed])
      #expect(out.code != 0 && out.stdout.isEmpty, "an internal network reached \(serverIP): \(out)")
      let route = try await sandbox.ok("run", "--rm", "--network", sealed, "busybox", "ip", "route")
      #expect(!route.stdout.contains("default"), "an internal network has no default route: \(route)")
      try await sandbox.ok("rm", "-f", "on-a", "on-sealed")
    }
  }

  @Test("--ip, --mac-address, --hostname, --add-host, --dns, --dns-search, --dns-option show in the container; with --dns, names still resolve")
  func addressesAndFiles() async throws {
    // The container's --dns: a resolver this test runs on the host's loopback.
    let resolver = try TestResolver()
    defer { resolver.stop() }
    try await NetworkTestSupport.withSandbox { sandbox in
      let network = NetworkTestSupport.name("files")
      let subnet = try NetworkTestSupport.freeSubnet()
      let prefix = NetworkTestSupport.prefix(subnet)
      try await sandbox.createNetwork(network, subnet: subnet)
      try await sandbox.runDetached("--name", "peer", "--network", network, "busybox", "sleep", "1000")
      let peerIP = try await sandbox.field("peer", "{{.NetworkSettings.Networks.\(network).IPAddress}}")
      // "peer.": busybox nslookup asks a name without a dot only with the search domains.
      let script = "ip -4 -o addr show eth0; cat /sys/class/net/eth0/address; echo ---; cat /etc/hosts; echo ---; cat /etc/resolv.conf; "
        + "echo ---; nslookup -type=a peer.; echo ---; nslookup -type=a \(TestResolver.knownName)"
      let output = try await sandbox.ok(
        "run", "--rm", "--name", "files", "--network", network, "--ip", prefix + "77", "--mac-address", "02:42:ac:11:00:99",
        "--hostname", "box", "--add-host", "db.local:10.1.2.3", "--add-host", "gw:host-gateway", "--dns", resolver.address,
        "--dns-search", "example.test", "--dns-option", "ndots:2", "busybox", "sh", "-c", script)
      let parts = output.stdout.components(separatedBy: "---\n")
      #expect(parts.count == 5, "\(output)")
      #expect(parts[0].contains("inet \(prefix)77/24"), "\(parts[0])")
      #expect(parts[0].contains("02:42:ac:11:00:99"), "\(parts[0])")
      let hosts = parts.count > 1 ? parts[1] : ""
      #expect(hosts.hasPrefix("127.0.0.1\tlocalhost\n"), "\(hosts)")
      #expect(hosts.contains("10.1.2.3\tdb.local\n") && hosts.contains("\(prefix)1\tgw\n"), "\(hosts)")
      #expect(hosts.contains("\(prefix)77\tbox files\n"), "\(hosts)")
      // The network's server stays the nameserver; --dns is where it forwards (Docker's way).
      let resolv = parts.count > 2 ? parts[2] : ""
      #expect(resolv == "nameserver \(prefix)1\nsearch example.test\noptions ndots:2\n# ExtServers: [\(resolver.address)]\n", "\(resolv)")
      let peer = parts.count > 3 ? parts[3] : ""
      #expect(peer.contains("Address: \(peerIP)"), "a container name resolves with --dns set: \(peer)")
      let outside = parts.count > 4 ? parts[4] : ""
      #expect(outside.contains("Address: \(TestResolver.knownAddress)"), "an external name is answered by the --dns server: \(outside)")
      #expect(resolver.queries.contains(TestResolver.knownName), "\(resolver.queries)")
      #expect(!resolver.queries.contains("peer"), "container names are not forwarded: \(resolver.queries)")
      let wrongIP = try await sandbox.run("run", "--rm", "--network", network, "--ip", "192.0.2.9", "busybox", "true")
      #expect(wrongIP.code == 125 && wrongIP.stderr == "Error: no configured subnet or ip-range contain the IP address 192.0.2.9\n", "\(wrongIP)")
      try await sandbox.ok("rm", "-f", "peer")

      // The default bridge: the host's servers without loopback ones, or Google's; there is no
      // embedded server, so --dns replaces them.
      let bridge = try await sandbox.ok("run", "--rm", "busybox", "cat", "/etc/resolv.conf").stdout
      #expect(!bridge.contains("nameserver 127.") && bridge.contains("nameserver "), "\(bridge)")
      let bridgeDNS = try await sandbox.ok("run", "--rm", "--dns", resolver.address, "busybox", "cat", "/etc/resolv.conf").stdout
      #expect(bridgeDNS.hasPrefix("nameserver \(resolver.address)\n") && bridgeDNS.components(separatedBy: "nameserver").count == 2, "\(bridgeDNS)")
      #expect(!bridgeDNS.contains("ExtServers"), "\(bridgeDNS)")
    }
  }

  @Test("network connect and disconnect: live on a running container, recorded for a stopped one")
  func connectDisconnect() async throws {
    try await NetworkTestSupport.withSandbox { sandbox in
      let (a, b) = (NetworkTestSupport.name("ca"), NetworkTestSupport.name("cb"))
      let subnetB = try NetworkTestSupport.freeSubnet()
      try await sandbox.createNetwork(a, subnet: try NetworkTestSupport.freeSubnet())
      try await sandbox.createNetwork(b, subnet: subnetB)
      try await sandbox.startServer("target", ["--network", b])
      let targetIP = try await sandbox.field("target", "{{.NetworkSettings.Networks.\(b).IPAddress}}")
      try await sandbox.runDetached("--name", "roamer", "--network", a, "busybox", "sleep", "1000")

      let before = try await sandbox.run("exec", "roamer", "timeout", "3", "wget", "-qO-", "http://\(targetIP)/")
      #expect(before.code != 0, "\(before)")
      try await sandbox.ok("network", "connect", "--alias", "roams", b, "roamer")
      let interfaces = try await sandbox.ok("exec", "roamer", "ls", "/sys/class/net").lines.sorted()
      #expect(interfaces == ["eth0", "eth1", "lo"], "\(interfaces)")
      let after = try await sandbox.ok("exec", "roamer", "timeout", "5", "wget", "-qO-", "http://\(targetIP)/")
      #expect(after.stdout == "hello from target\n")
      // Its alias resolves on the network it joined.
      let lookup = try await sandbox.run("exec", "target", "nslookup", "roams", "\(NetworkTestSupport.prefix(subnetB))1")
      #expect(lookup.code == 0 && lookup.stdout.contains(NetworkTestSupport.prefix(subnetB)), "\(lookup)")
      let networks = try await sandbox.field("roamer", "{{json .NetworkSettings.Networks}}")
      let attached = try JSONSerialization.jsonObject(with: Data(networks.utf8)) as? [String: Any]
      #expect(attached?.keys.sorted() == [a, b].sorted(), "\(networks)")
      let twice = try await sandbox.run("network", "connect", b, "roamer")
      #expect(twice.code == 1 && twice.stderr.contains("already exists in network \(b)"), "\(twice)")

      try await sandbox.ok("network", "disconnect", b, "roamer")
      #expect(try await sandbox.ok("exec", "roamer", "ls", "/sys/class/net").lines.sorted() == ["eth0", "lo"])
      let cut = try await sandbox.run("exec", "roamer", "timeout", "3", "wget", "-qO-", "http://\(targetIP)/")
      #expect(cut.code != 0, "\(cut)")
      let notThere = try await sandbox.run("network", "disconnect", b, "roamer")
      #expect(notThere.code == 1 && notThere.stderr.contains("is not connected to network \(b)"), "\(notThere)")

      // Stopped, without a namespace: recorded, joined at start.
      try await sandbox.ok("create", "--name", "later", "--network", a, "busybox", "sleep", "1000")
      try await sandbox.ok("network", "connect", b, "later")
      try await sandbox.ok("start", "later")
      #expect(try await sandbox.ok("exec", "later", "ls", "/sys/class/net").lines.sorted() == ["eth0", "eth1", "lo"])
      try await sandbox.ok("rm", "-f", "target", "roamer", "later")
    }
  }

  @Test("stop and start keep the address; after a reboot the stale endpoint is released and a new one made")
  func restartAndReboot() async throws {
    try await NetworkTestSupport.withSandbox { sandbox in
      let network = NetworkTestSupport.name("reboot")
      try await sandbox.createNetwork(network, subnet: try NetworkTestSupport.freeSubnet())
      let hostPort = try NetworkTestSupport.freePort()
      let id = try await sandbox.startServer("survivor", ["--network", network, "-p", "127.0.0.1:\(hostPort):80"])
      let address = "{{.NetworkSettings.Networks.\(network).IPAddress}}"
      let first = try await sandbox.field("survivor", address)
      try await sandbox.ok("stop", "-t", "1", "survivor")
      #expect(FS.exists(sandbox.runRoot + "/netns/" + id), "stop keeps the network namespace")
      try await sandbox.ok("start", "survivor")
      #expect(try await sandbox.field("survivor", address) == first && !first.isEmpty)

      try await sandbox.simulateReboot()
      #expect(!FS.exists(sandbox.runRoot + "/netns/" + id))
      try await sandbox.ok("start", "survivor")
      #expect(await NetworkTestSupport.fetchWhenUp("http://127.0.0.1:\(hostPort)/") == "hello from survivor\n")
      let second = try await sandbox.field("survivor", address)
      // host-local hands out the next address; the first one was released, not leaked.
      let ipam = try FS.list(sandbox.root + "/networks/ipam").flatMap { try FS.list(sandbox.root + "/networks/ipam/" + $0) }
      #expect(ipam.filter { $0.hasPrefix("10.") } == [second], "\(ipam)")
      try await sandbox.ok("rm", "-f", "survivor")
    }
  }

  @Test("flags with Docker's errors (exit 125), checked before anything is made")
  func flagErrors() async throws {
    try await NetworkTestSupport.withSandbox { sandbox in
      func failure(_ arguments: String...) async throws -> String {
        let outcome = try await sandbox.run(["run", "--rm"] + arguments + ["busybox", "true"])
        #expect(outcome.code == 125, "\(outcome)")
        return outcome.stderr
      }
      #expect(try await failure("--ip", "10.88.0.9") == "Error: user specified IP address is supported on user defined networks only\n")
      #expect(try await failure("--network-alias", "x")
        == "Error: network-scoped alias is supported only for containers in user defined networks\n")
      #expect(try await failure("--network", "nowhere") == "Error: network nowhere not found\n")
      #expect(try await failure("--network", "host", "--network", "bridge")
        == "Error: conflicting options: cannot attach both user-defined and non-user-defined network-modes\n")
      #expect(try await failure("--add-host", "nocolon")
        == "Error: invalid argument \"nocolon\" for \"--add-host\" flag: bad format for add-host: \"nocolon\"\n")
      #expect(try await failure("--add-host", "h:not-ip")
        == "Error: invalid argument \"h:not-ip\" for \"--add-host\" flag: invalid IP address in add-host: \"not-ip\"\n")
      #expect(try await failure("--dns", "resolver") == "Error: invalid argument \"resolver\" for \"--dns\" flag: resolver is not an ip address\n")
      #expect(try await failure("--mac-address", "zz")
        == "Error: invalid argument \"zz\" for \"--mac-address\" flag: zz is not a valid mac address\n")
      #expect(try await failure("-p", "notaport").hasPrefix("Error: invalid argument \"notaport\" for \"-p, --publish\" flag: "))
      #expect(try await failure("--network", "none", "--mac-address", "02:42:ac:11:00:02")
        == "Error: conflicting options: mac-address and the network mode\n")
      #expect(try await sandbox.listedIDs().isEmpty)

      let host = try await sandbox.run("run", "--rm", "--network", "host", "-p", "80:80", "busybox", "true")
      #expect(host.code == 0 && host.stderr == "WARNING: Published ports are discarded when using host network mode\n", "\(host)")
    }
  }

  @Test("network ls, inspect, prune and the pre-defined networks")
  func networkCommands() async throws {
    try await NetworkTestSupport.withSandbox { sandbox in
      let kept = NetworkTestSupport.name("kept"), idle = NetworkTestSupport.name("idle")
      try await sandbox.createNetwork(kept, subnet: try NetworkTestSupport.freeSubnet(), ["--label", "team=blue"])
      let idleID = try await sandbox.createNetwork(idle, subnet: try NetworkTestSupport.freeSubnet())
      try await sandbox.ok("create", "--name", "user", "--network", kept, "busybox", "true")

      let table = try await sandbox.ok("network", "ls").lines
      #expect(table.first?.split(separator: " ", omittingEmptySubsequences: true) == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"])
      let names = try await sandbox.ok("network", "ls", "--format", "{{.Name}} {{.Driver}}").lines
      #expect(Set(names) == Set(["bridge bridge", "host host", "none null", "\(kept) bridge", "\(idle) bridge"]), "\(names)")
      #expect(try await sandbox.ok("network", "ls", "-q", "--filter", "name=\(idle)").trimmed == String(idleID.prefix(12)))
      #expect(try await sandbox.ok("network", "ls", "--format", "{{.Name}}", "--filter", "label=team=blue").trimmed == kept)
      #expect(try await sandbox.ok("network", "ls", "--format", "{{.Name}}", "--filter", "driver=null").trimmed == "none")
      #expect(try await sandbox.ok("network", "inspect", "-f", "{{.Internal}} {{.Labels.team}}", kept).trimmed == "false blue")

      let predefined = try await sandbox.run("network", "rm", "bridge")
      #expect(predefined.code == 1 && predefined.stderr.contains("bridge is a pre-defined network and cannot be removed"), "\(predefined)")
      let taken = try await sandbox.run("network", "create", "host")
      #expect(taken.code == 1, "\(taken)")

      // prune: the idle network goes; the one a container names stays.
      #expect(try await sandbox.ok("network", "prune", "-f").stdout == "Deleted Networks:\n\(idle)\n\n")
      #expect(try await sandbox.run("network", "inspect", kept).code == 0)
      try await sandbox.ok("rm", "user")
      try await sandbox.ok("network", "rm", kept)
    }
  }

  @Test("system prune releases what a removed container left: its address, veth, network namespace and DNS names")
  func pruneLeftovers() async throws {
    try await NetworkTestSupport.withSandbox { sandbox in
      let network = NetworkTestSupport.name("left")
      let networkID = try await sandbox.createNetwork(network, subnet: try NetworkTestSupport.freeSubnet())
      // A running container keeps the network from being pruned itself.
      try await sandbox.runDetached("--name", "holder", "--network", network, "busybox", "sleep", "100")
      // What a crash half-way through an rm leaves: no row, but a namespace and a name.
      let ghost = String(repeating: "ab", count: 32)
      let attacher = NetworkAttacher(store: sandbox.networkStore)
      let netns = try attacher.createNamespace(containerID: ghost)
      let endpoints = try attacher.attach(
        containerID: ghost, containerName: "ghost", netns: netns, requests: [EndpointRequest(network: network)], ports: [])
      let ipam = sandbox.root + "/networks/ipam/" + networkID
      #expect(FS.exists(ipam + "/" + (endpoints.first?.ip ?? "?")))
      let records = DNSRecordStore(runRoot: sandbox.runRoot)
      try records.register(networkID: networkID, containerID: ghost, names: ["ghost"], ipv4: endpoints.first?.ip ?? "")

      try await sandbox.ok("system", "prune", "-f")
      #expect(!FS.exists(netns), "the namespace of a container that is gone stays")
      #expect(!FS.exists(ipam + "/" + (endpoints.first?.ip ?? "?")), "its address stays reserved")
      let names = try records.records(networkID: networkID).flatMap(\.names)
      #expect(!names.contains("ghost") && names.contains("holder"), "\(names)")
      attacher.removeNamespace(containerID: ghost)
      try await sandbox.ok("rm", "-f", "holder")
    }
  }

  @Test("system reset removes all of a root: containers, networks with the default bridge and their rules, the directories")
  func systemReset() async throws {
    try await NetworkTestSupport.withSandbox { sandbox in
      let network = NetworkTestSupport.name("reset")
      _ = try await sandbox.createNetwork(network, subnet: try NetworkTestSupport.freeSubnet())
      try await sandbox.runDetached("--name", "on-user", "--network", network, "busybox", "sleep", "100")
      try await sandbox.runDetached("--name", "on-default", "-p", "80", "busybox", "sleep", "100")
      let bridges = try sandbox.networkStore.list().map(\.bridge)
      try #require(bridges.count == 2 && bridges.allSatisfy { FS.exists("/sys/class/net/" + $0) }, "\(bridges)")

      try await sandbox.ok("system", "reset", "-f")
      #expect(!FS.exists(sandbox.root) && !FS.exists(sandbox.runRoot))
      let rules = String(decoding: try Subprocess.run("/usr/sbin/iptables-save", args: ["iptables-save"]).output, as: UTF8.self)
      for bridge in bridges {
        #expect(!FS.exists("/sys/class/net/" + bridge), "bridge \(bridge) stays")
        #expect(!rules.contains(bridge), "firewall rules of \(bridge) stay")
      }
    }
  }
}
