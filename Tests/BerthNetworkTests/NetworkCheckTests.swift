#if canImport(Glibc)
import Glibc
#endif
import BerthJSON
import BerthOS
import Foundation
import Testing
@testable import BerthNetwork

/// CNI CHECK on real namespaces, bridges and plugins: what the engine runs before it reuses a
/// stopped container's network.
@Suite("NetworkCheck", .serialized, .enabled(if: NetworkTestBed.isRoot, "needs root: creates netns, bridges and iptables rules"))
struct NetworkCheckTests {
  @Test func checkPassesOnAFreshAttachAndFailsWithoutTheVeth() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let network = try bed.makeNetwork()
    let box = try bed.makeBox([EndpointRequest(network: network.name)])
    #expect(box.endpoints.first?.cniResult != nil)
    try bed.attacher.check(containerID: box.id, netns: box.netns, endpoints: box.endpoints, ports: [])
    // Other containers coming and going change the bridge's MAC: still healthy.
    let other = try bed.makeBox([EndpointRequest(network: network.name)])
    try bed.removeBox(other)
    try bed.attacher.check(containerID: box.id, netns: box.netns, endpoints: box.endpoints, ports: [])
    // The saved endpoint (network.json) round-trips and still checks.
    let saved = try JSON.decode([Endpoint].self, from: try JSON.encode(box.endpoints))
    #expect(saved == box.endpoints)
    try bed.attacher.check(containerID: box.id, netns: box.netns, endpoints: saved, ports: [])

    let veths = NetworkTestBed.bridgePorts(network.bridge)
    #expect(veths.count == 1, "\(veths)")
    let veth = try #require(veths.first)
    #expect(try NetworkTestBed.run(["/usr/sbin/ip", "link", "delete", veth]).status == .exited(0))
    let error = #expect(throws: BerthError.self) {
      try bed.attacher.check(containerID: box.id, netns: box.netns, endpoints: box.endpoints, ports: [])
    }
    #expect(error?.message.contains("check network \(network.name)") == true, "\(error?.message ?? "")")
    // What the engine does then: detach (frees the lease), a new namespace, attach again.
    try bed.removeBox(box)
    let again = try bed.makeBox([EndpointRequest(network: network.name)])
    try bed.attacher.check(containerID: again.id, netns: again.netns, endpoints: again.endpoints, ports: [])
    #expect(try NetworkTestBed.ping(from: again.netns, network.gateway))
    try bed.finish()
  }

  @Test func checkFailsWithoutTheLeaseOrTheSavedResult() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let network = try bed.makeNetwork()
    let box = try bed.makeBox([EndpointRequest(network: network.name)])
    let endpoint = try #require(box.endpoints.first)
    // A network.json of an older build: no ADD result, so nothing to check against.
    var old = endpoint
    old.cniResult = nil
    let decoded = try JSON.decode(Endpoint.self, from: Array(#"""
      {"network":"n","networkID":"\#(network.id)","interface":"eth0","ip":"\#(endpoint.ip)","prefixLength":24,
       "gateway":"\#(network.gateway)","mac":"\#(endpoint.mac)","aliases":[]}
      """#.utf8))
    #expect(decoded.cniResult == nil && decoded.ip == endpoint.ip)
    let legacy = #expect(throws: BerthError.self) {
      try bed.attacher.check(containerID: box.id, netns: box.netns, endpoints: [old], ports: [])
    }
    #expect(legacy?.message.contains("without its CNI result") == true, "\(legacy?.message ?? "")")
    // host-local's lease flushed: its CHECK finds no address for the container.
    let lease = Path.join(bed.store.ipamDirectory, network.id, endpoint.ip)
    #expect(FS.exists(lease))
    unlink(lease)
    #expect(throws: BerthError.self) {
      try bed.attacher.check(containerID: box.id, netns: box.netns, endpoints: box.endpoints, ports: [])
    }
    try bed.finish()
  }

  @Test func checkFailsWithoutTheBridgeAndAFreshAttachMakesItAgain() throws {
    let bed = try NetworkTestBed()
    defer { try? bed.finish() }
    let network = try bed.makeNetwork()
    let box = try bed.makeBox([EndpointRequest(network: network.name)])
    #expect(try NetworkTestBed.run(["/usr/sbin/ip", "link", "delete", network.bridge]).status == .exited(0))
    let error = #expect(throws: BerthError.self) {
      try bed.attacher.check(containerID: box.id, netns: box.netns, endpoints: box.endpoints, ports: [])
    }
    #expect(error?.message.contains(network.bridge) == true, "\(error?.message ?? "")")
    try bed.removeBox(box)
    let again = try bed.makeBox([EndpointRequest(network: network.name)])
    try bed.attacher.check(containerID: again.id, netns: again.netns, endpoints: again.endpoints, ports: [])
    #expect(try NetworkTestBed.ping(from: again.netns, network.gateway))
    try bed.finish()
  }
}
