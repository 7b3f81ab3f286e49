#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import Testing
@testable import BerthNetwork

/// A private network world for one test: its own root and runRoot, networks on unique
/// test-only bridges and random 10.2xx.y.0/24 subnets that overlap nothing on the host. `finish`
/// removes everything and checks that nothing leaked; it restores net.ipv4.ip_forward.
final class NetworkTestBed {
  let base: String
  let store: NetworkStore
  let attacher: NetworkAttacher
  private let savedForwarding: String?
  private(set) var networks: [NetworkDefinition] = []
  private var extraCleanups: [() -> Void] = []
  private var takenSubnets: [IPv4Network] = []
  private var finished = false

  static var isRoot: Bool { geteuid() == 0 }

  init() throws {
    var template = Array("/tmp/berth-net-test-XXXXXX".utf8CString)
    guard template.withUnsafeMutableBufferPointer({ buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }) != nil else {
      throw BerthError.system("mkdtemp")
    }
    base = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    store = NetworkStore(root: base + "/root", runRoot: base + "/run")
    attacher = NetworkAttacher(store: store)
    savedForwarding = try? FS.readText("/proc/sys/net/ipv4/ip_forward", trimmingNewline: true)
  }

  /// A short unique name usable as a bridge or network name.
  static func uniqueName(_ prefix: String) -> String {
    prefix + String(UInt32.random(in: 0..<0xff_ffff), radix: 16)
  }

  /// A random /24 in 10.200-249.x.0 that no host route, address or earlier test subnet uses.
  func freeSubnet() throws -> IPv4Network {
    let routes = HostRoutes.current()
    for _ in 0..<200 {
      let candidate = IPv4Network(
        address: IPv4Address(10 << 24 | UInt32.random(in: 200...249) << 16 | UInt32.random(in: 0...255) << 8), prefixLength: 24)
      if routes.conflict(with: candidate, ignoring: nil) == nil, !takenSubnets.contains(candidate) {
        takenSubnets.append(candidate)
        return candidate
      }
    }
    throw BerthError(.internalError, "no free test subnet")
  }

  /// A network on a test-only bridge "bt<hex>".
  func makeNetwork(internal: Bool = false, ipRange: Bool = false) throws -> NetworkDefinition {
    let subnet = try freeSubnet()
    let request = NetworkCreateRequest(
      name: NetworkTestBed.uniqueName("net"), subnet: subnet.description,
      ipRange: ipRange ? IPv4Network(address: IPv4Address(subnet.address.value + 128), prefixLength: 25).description : nil,
      internal: `internal`, bridge: NetworkTestBed.uniqueName("bt"))
    let network = try store.create(request)
    networks.append(network)
    return network
  }

  /// A test container: a fresh netns attached to `networks`.
  struct Box {
    var id: String
    var netns: String
    var endpoints: [Endpoint]
    var ports: [PortMapping]
  }

  private(set) var boxes: [String: Box] = [:]

  func makeBox(_ requests: [EndpointRequest], ports: [PortMapping] = []) throws -> Box {
    let id = NetworkStore.randomID()
    let netns = try attacher.createNamespace(containerID: id)
    do {
      let endpoints = try attacher.attach(containerID: id, containerName: "c-" + id.prefix(8), netns: netns, requests: requests, ports: ports)
      let box = Box(id: id, netns: netns, endpoints: endpoints, ports: ports)
      boxes[id] = box
      return box
    } catch {
      attacher.removeNamespace(containerID: id)
      throw error
    }
  }

  func removeBox(_ box: Box) throws {
    try attacher.detach(containerID: box.id, netns: box.netns, endpoints: box.endpoints, ports: box.ports)
    attacher.removeNamespace(containerID: box.id)
    boxes[box.id] = nil
  }

  func onFinish(_ cleanup: @escaping () -> Void) { extraCleanups.append(cleanup) }

  /// Removes everything; then asserts that no bridge, rule, mount, veth or file is left.
  func finish() throws {
    if finished { return }
    finished = true
    for cleanup in extraCleanups.reversed() { cleanup() }
    for box in boxes.values { try? removeBox(box) }
    try store.removeAll()
    if let savedForwarding { try? FS.writeExisting("/proc/sys/net/ipv4/ip_forward", savedForwarding) }
    let rules = try NetworkTestBed.iptablesSave()
    for network in networks {
      #expect(!FS.exists("/sys/class/net/" + network.bridge), "bridge \(network.bridge) left behind")
      #expect(!rules.contains(Firewall.tag(network)), "firewall rules of \(network.name) left behind")
    }
    let mounts = try FS.readText("/proc/self/mountinfo")
    #expect(!mounts.contains(base), "mounts left under \(base)")
    try FS.removeTree(base)
  }

  // MARK: - Tools

  @discardableResult
  static func run(_ args: [String], input: String = "", timeoutSeconds: UInt64 = 20) throws -> (status: BerthOS.ExitStatus, output: String) {
    let result = try Subprocess.run(
      args[0], args: args, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], input: Array(input.utf8),
      timeoutNanoseconds: timeoutSeconds * 1_000_000_000)
    return (result.status, String(decoding: result.output + result.error, as: UTF8.self))
  }

  static func iptablesSave() throws -> String {
    try run(["/usr/sbin/iptables-save"]).output
  }

  /// One ping from inside `netns`; true when answered.
  static func ping(from netns: String, _ ip: String) throws -> Bool {
    try run(["/usr/bin/nsenter", "--net=" + netns, "/bin/busybox", "ping", "-c1", "-W1", ip]).status == .exited(0)
  }

  /// The interfaces enslaved to a bridge.
  static func bridgePorts(_ bridge: String) -> [String] {
    (try? FS.list("/sys/class/net/\(bridge)/brif")) ?? []
  }

  /// The host's first global IPv4 address on a non-bridge interface (eth0 here).
  static func hostAddress() -> String? {
    HostRoutes.current().entries.first { entry in
      entry.interface != "lo" && !FS.exists("/sys/class/net/\(entry.interface)/bridge") && entry.network.prefixLength < 32
    }.flatMap { entry in hostAddressOn(entry.interface) }
  }

  private static func hostAddressOn(_ interface: String) -> String? {
    guard let output = try? run(["/usr/sbin/ip", "-4", "-o", "addr", "show", "dev", interface]).output,
          let range = output.range(of: "inet ")
    else { return nil }
    return output[range.upperBound...].split(separator: "/").first.map(String.init)
  }
}
