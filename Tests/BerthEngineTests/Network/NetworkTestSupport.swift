import BerthNetwork
import BerthOS
import Foundation
import Testing

/// Helpers of the network tests: unique networks, the host's view, the ip_forward setting.
enum NetworkTestSupport {
  /// A /24 in 10.200.0.0-10.254.255.0 that no host route or address covers now (the default
  /// networks of sandboxes take 10.88/16 upwards).
  static func freeSubnet() throws -> String {
    let routes = try Subprocess.run("/usr/sbin/ip", args: ["ip", "-4", "route", "show", "table", "all"])
    let table = String(decoding: routes.output, as: UTF8.self)
    for _ in 0..<200 {
      let second = Int.random(in: 200...254), third = Int.random(in: 0...255)
      let prefix = "10.\(second).\(third)."
      if !table.contains(prefix) && !table.contains("10.\(second).0.0/16") { return prefix + "0/24" }
    }
    throw BerthError(.invalidState, "no free 10.2xx.y.0/24 for a test network")
  }

  /// "10.201.3" of "10.201.3.0/24".
  static func prefix(_ subnet: String) -> String { String(subnet.dropLast("0/24".count)) }

  /// A unique network name.
  static func name(_ stem: String) -> String { "\(stem)-\(UInt32.random(in: 0...UInt32.max) % 1_000_000)" }

  /// The host's own address on its main interface (the source of its default route).
  static func hostAddress() throws -> String {
    let route = try Subprocess.run("/usr/sbin/ip", args: ["ip", "-4", "-o", "route", "get", "192.0.2.1"])
    let words = String(decoding: route.output, as: UTF8.self).split(separator: " ").map(String.init)
    guard let index = words.firstIndex(of: "src"), index + 1 < words.count else {
      throw BerthError(.invalidState, "no source address in: \(words.joined(separator: " "))")
    }
    return words[index + 1]
  }

  /// An HTTP GET from the host with busybox wget (5 s at most); the body, or nil.
  static func fetch(_ url: String) -> String? {
    guard let result = try? Subprocess.run(
      "/bin/busybox", args: ["busybox", "timeout", "5", "busybox", "wget", "-qO-", url], timeoutNanoseconds: 10_000_000_000),
      result.status == .exited(0)
    else { return nil }
    return String(decoding: result.output, as: UTF8.self)
  }

  /// `fetch` again every 100 ms until it answers (at most `seconds`): a server just started,
  /// on a busy host.
  static func fetchWhenUp(_ url: String, seconds: Double = 20) async -> String? {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
      if let body = fetch(url) { return body }
      if Date() >= deadline { return nil }
      try? await Task.sleep(nanoseconds: 100_000_000)
    }
  }

  /// A free TCP port on the host.
  static func freePort() throws -> UInt16 { try PortSpec.freeHostPort(proto: "tcp", hostIP: "") }

  static let ipForward = "/proc/sys/net/ipv4/ip_forward"

  /// Runs `body` in a sandbox, then puts net.ipv4.ip_forward back as it was (the bridge
  /// plugin turns it on).
  static func withSandbox<T>(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: (EngineSandbox) async throws -> T
  ) async throws -> T {
    let forward = try FS.readText(ipForward, trimmingNewline: true)
    defer { try? FS.writeExisting(ipForward, forward) }
    return try await EngineSandbox.with(sourceLocation: sourceLocation, body)
  }
}

extension EngineSandbox {
  /// `network create --subnet S NAME`: its ID.
  @discardableResult
  func createNetwork(_ name: String, subnet: String, _ extra: [String] = []) async throws -> String {
    try await ok(["network", "create", "--subnet", subnet] + extra + [name]).trimmed
  }

  /// Starts busybox httpd on port 80 serving "hello from NAME" (detached): its ID.
  @discardableResult
  func startServer(_ name: String, _ flags: [String] = []) async throws -> String {
    let script = "mkdir -p /www && echo hello from \(name) > /www/index.html && exec httpd -f -p 80 -h /www"
    return try await runDetached(["--name", name] + flags + ["busybox", "sh", "-c", script])
  }

  /// A client's `wget -qO- URL` (at most 5 s) in a throwaway container: its outcome. Under a
  /// shell that does not exec it (a second command follows): busybox timeout execs its
  /// command, which as PID 1 would ignore the SIGTERM.
  func fetchFromContainer(_ url: String, _ flags: [String]) async throws -> EngineOutcome {
    try await run(["run", "--rm"] + flags + ["busybox", "sh", "-c", "timeout 5 wget -qO- \(url); exit $?"])
  }

  /// `inspect -f TEMPLATE NAME`, trimmed.
  func field(_ name: String, _ template: String) async throws -> String {
    try await ok("inspect", "-f", template, name).trimmed
  }
}
