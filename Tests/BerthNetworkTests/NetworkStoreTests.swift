import BerthOS
import Foundation
import Synchronization
import Testing
@testable import BerthNetwork

/// The store alone: validation, lookup, the default network's subnet. A created network's
/// bridge exists (with its gateway address) but nothing is attached.
@Suite("NetworkStore")
struct NetworkStoreTests {
  @Test func createsAndFindsByNameIDAndPrefix() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let network = try bed.makeNetwork()
    #expect(network.id.count == 64 && network.id.allSatisfy(\.isHexDigit))
    #expect(network.dnsEnabled)
    #expect(network.gateway == IPv4Address(try IPv4Network.parse(network.subnet, what: "s").address.value + 1).description)
    #expect(try bed.store.network(network.name) == network)
    #expect(try bed.store.network(network.id) == network)
    #expect(try bed.store.network(String(network.id.prefix(10))) == network)
    let names = try bed.store.list().map(\.name)
    #expect(names.contains(network.name) && names.contains("bridge"))
    // A second store on the same root (another berth process) sees the same networks.
    let other = NetworkStore(root: bed.store.root, runRoot: bed.store.runRoot)
    #expect(try other.network(network.name) == network)
    try bed.store.remove(network.name)
    #expect(throws: BerthError.self) { try bed.store.network(network.name) }
    try bed.finish()
  }

  @Test func missingNetworkIsNotFound() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let error = #expect(throws: BerthError.self) { try bed.store.network("nosuchnet") }
    #expect(error?.code == .notFound)
    #expect(error?.message == "network nosuchnet not found")
  }

  @Test(arguments: [
    ("10.1.2.0", "invalid subnet \"10.1.2.0\""),
    ("10.1.2.0/33", "invalid subnet \"10.1.2.0/33\""),
    ("300.1.2.0/24", "invalid subnet \"300.1.2.0/24\""),
    ("10.1.2.3/24", "the host bits are set; use 10.1.2.0/24"),
    ("10.1.2.0/31", "too small"),
  ])
  func refusesBadSubnets(subnet: String, message: String) throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let error = #expect(throws: BerthError.self) { try bed.store.create(NetworkCreateRequest(name: "n1", subnet: subnet)) }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
  }

  @Test func refusesGatewayAndRangeOutsideTheSubnet() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let subnet = try bed.freeSubnet()
    let outside = IPv4Address(subnet.address.value + 256).description
    let gatewayError = #expect(throws: BerthError.self) {
      try bed.store.create(NetworkCreateRequest(name: "n1", subnet: subnet.description, gateway: outside))
    }
    #expect(gatewayError?.message == "gateway \(outside) is not a host address of subnet \(subnet)")
    let broadcast = subnet.last.description
    #expect(throws: BerthError.self) {
      try bed.store.create(NetworkCreateRequest(name: "n1", subnet: subnet.description, gateway: broadcast))
    }
    let rangeError = #expect(throws: BerthError.self) {
      try bed.store.create(NetworkCreateRequest(name: "n1", subnet: subnet.description, ipRange: outside + "/28"))
    }
    #expect(rangeError?.message == "ip-range \(outside)/28 is not inside subnet \(subnet)")
    let noSubnet = #expect(throws: BerthError.self) { try bed.store.create(NetworkCreateRequest(name: "n1", gateway: "10.1.1.1")) }
    #expect(noSubnet?.message == "--gateway and --ip-range need --subnet")
    #expect(try bed.store.stored().isEmpty, "a refused network must not be saved")
  }

  @Test func refusesOverlapsAndTakenNames() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let first = try bed.makeNetwork()
    let subnet = try IPv4Network.parse(first.subnet, what: "subnet")
    let wider = IPv4Network(address: subnet.address, prefixLength: 20)
    let overlap = #expect(throws: BerthError.self) {
      try bed.store.create(NetworkCreateRequest(name: "other", subnet: wider.description))
    }
    #expect(overlap?.code == .conflict)
    #expect(overlap?.message == "subnet \(wider) overlaps \(subnet) of network \(first.name); choose another --subnet")
    let duplicate = #expect(throws: BerthError.self) { try bed.store.create(NetworkCreateRequest(name: first.name)) }
    #expect(duplicate?.code == .conflict)
    #expect(duplicate?.message == "network with name \(first.name) already exists")
    for reserved in ["bridge", "host", "none"] {
      let error = #expect(throws: BerthError.self) { try bed.store.create(NetworkCreateRequest(name: reserved)) }
      #expect(error?.code == .conflict)
    }
    let hostInterface = #expect(throws: BerthError.self) {
      try bed.store.create(NetworkCreateRequest(name: "onlo", subnet: try bed.freeSubnet().description, bridge: "lo"))
    }
    #expect(hostInterface?.message == "lo is a host interface that is not a bridge; choose another bridge name")
    let badName = #expect(throws: BerthError.self) { try bed.store.create(NetworkCreateRequest(name: "-bad/name")) }
    #expect(badName?.message.hasPrefix("invalid network name \"-bad/name\"") == true)
  }

  @Test func refusesSubnetsOfTheHost() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    guard let route = HostRoutes.current().entries.first(where: { $0.interface != "lo" }) else { return }
    let error = #expect(throws: BerthError.self) {
      try bed.store.create(NetworkCreateRequest(name: "hostclash", subnet: route.network.description))
    }
    #expect(error?.code == .conflict)
    #expect(error?.message.contains("on the host's interface") == true, "\(error?.message ?? "")")
  }

  @Test func automaticSubnetsAvoidEachOtherAndTheHost() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let a = try bed.store.create(NetworkCreateRequest(name: "auto-a", bridge: NetworkTestBed.uniqueName("bt")))
    let b = try bed.store.create(NetworkCreateRequest(name: "auto-b", bridge: NetworkTestBed.uniqueName("bt")))
    let subnetA = try IPv4Network.parse(a.subnet, what: "s"), subnetB = try IPv4Network.parse(b.subnet, what: "s")
    #expect(!subnetA.overlaps(subnetB))
    #expect(subnetA.prefixLength == 24 && a.subnet.hasPrefix("10."))
    // The bridge exists with its gateway address from the start, so that the subnet shows as
    // taken to every other engine root choosing at the same time.
    #expect(HostRoutes.current().conflict(with: subnetA, ignoring: nil)?.interface == a.bridge)
    #expect(HostRoutes.current().conflict(with: subnetA, ignoring: a.bridge) == nil)
  }

  @Test func defaultNetworksOfTwoRootsChosenAtOnceDoNotOverlap() throws {
    let first = try NetworkTestBed(), second = try NetworkTestBed()
    defer { try? first.finish(); try? second.finish() }
    // Neither root has a bridge yet; each process picks a /16 at the same moment.
    let results = Mutex<[NetworkDefinition]>([])
    let threads = [first.store, second.store].map { store in
      Thread { if let network = try? store.defaultNetwork() { results.withLock { $0.append(network) } } }
    }
    threads.forEach { $0.start() }
    let deadline = Date().addingTimeInterval(20)
    while results.withLock({ $0.count }) < 2 && Date() < deadline { usleep(10_000) }
    let networks = results.withLock { $0 }
    try #require(networks.count == 2)
    let subnets = try networks.map { try IPv4Network.parse($0.subnet, what: "s") }
    #expect(!subnets[0].overlaps(subnets[1]), "\(networks.map(\.subnet))")
  }

  @Test func defaultNetworkIsStableFreeAndPermanent() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let first = try bed.store.defaultNetwork()
    #expect(first.name == "bridge" && !first.dnsEnabled && first.bridge.hasPrefix("berth"))
    #expect(first.bridge != NetworkStore.defaultBridgeName, "a private root must not share berth0")
    let subnet = try IPv4Network.parse(first.subnet, what: "s")
    #expect(subnet.prefixLength == 16)
    #expect(HostRoutes.current().conflict(with: subnet, ignoring: first.bridge) == nil)
    if FS.exists("/sys/class/net/cni-podman0") { #expect(first.subnet != "10.88.0.0/16") }
    #expect(try bed.store.defaultNetwork() == first)
    #expect(try bed.store.network("bridge") == first)
    let error = #expect(throws: BerthError.self) { try bed.store.remove("bridge") }
    #expect(error?.message == "bridge is a pre-defined network and cannot be removed")
  }
}
