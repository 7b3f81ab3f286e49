import BerthOCI
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Namespaces, hostname, sysctl: checked from inside the container.
@Suite("Namespaces", .needsRoot)
struct NamespaceTests {
  /// The file name under /proc/<pid>/ns/ for a namespace type.
  static func nsFile(_ type: NamespaceType) -> String {
    switch type {
    case .network: "net"
    case .mount: "mnt"
    default: type.rawValue
    }
  }

  @Test("hostname is set in the UTS namespace")
  func hostname() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.spec.hostname = "berth-box"
      let r = try await c.run(["sh", "-c", "hostname; cat /proc/sys/kernel/hostname"])
      expectSuccess(r)
      #expect(r.lines == ["berth-box", "berth-box"], "\(r)")
      var name = utsname()
      uname(&name)
      let hostName = withUnsafeBytes(of: &name.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
      #expect(hostName != "berth-box", "the host's hostname must not change")
    }
  }

  @Test("domainname is set in the UTS namespace", .berthOnly("runc 1.1.5 ignores `domainname` (added in runc 1.2)"))
  func domainname() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.spec.domainname = "example.test"
      let r = try await c.run(["cat", "/proc/sys/kernel/domainname"])
      expectSuccess(r)
      #expect(r.out == "example.test", "\(r)")
    }
  }

  @Test("the process is PID 1 of its PID namespace")
  func pidOne() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      let r = try await c.run(["sh", "-c", "echo $$; cat /proc/1/comm; ls -d /proc/[0-9]* | wc -l"])
      expectSuccess(r)
      #expect(r.lines.first == "1", "\(r)")
      #expect(r.lines.dropFirst().first == "sh", "\(r)")
      #expect(r.lines.last.flatMap { Int($0) } ?? 99 <= 4, "only the container's processes are visible: \(r)")
    }
  }

  @Test(
    "a namespace in the config is new; without it the host's is shared",
    arguments: [NamespaceType.network, .ipc, .uts, .cgroup, .pid])
  func namespacePresence(type: NamespaceType) async throws {
    try await withSandbox { sb in
      let file = Self.nsFile(type)
      let host = try #require(readLink("/proc/self/ns/\(file)"))

      let isolated = try sb.container("new")
      let inside = try await isolated.run(["readlink", "/proc/self/ns/\(file)"])
      expectSuccess(inside)
      #expect(inside.out.hasPrefix("\(file):["), "\(inside)")
      #expect(inside.out != host, "\(type) namespace must be new when listed")

      let shared = try sb.container("shared")
      shared.setNamespace(type, present: false)
      if type == .uts { shared.spec.hostname = nil }
      let outside = try await shared.run(["readlink", "/proc/self/ns/\(file)"])
      expectSuccess(outside)
      #expect(outside.out == host, "\(type) namespace must be the host's when not listed: \(outside)")
    }
  }

  @Test("the mount namespace is new")
  func mountNamespace() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      let r = try await c.run(["readlink", "/proc/self/ns/mnt"])
      expectSuccess(r)
      #expect(r.out.hasPrefix("mnt:[") && r.out != readLink("/proc/self/ns/mnt"), "\(r)")
    }
  }

  @Test("namespaces with a path are joined (network, ipc, uts, pid of another container)")
  func joinByPath() async throws {
    try await withSandbox { sb in
      let first = try sb.container("first")
      first.spec.hostname = "first-host"
      try await first.runDetached(["sleep", "100"])
      let pid = try await first.pid()

      let second = try sb.container("second")
      second.spec.hostname = nil  // joining a UTS namespace must not rename it
      for type in [NamespaceType.network, .ipc, .uts, .pid] {
        second.setNamespace(type, path: "/proc/\(pid)/ns/\(Self.nsFile(type))")
      }
      let r = try await second.run([
        "sh", "-c", "for n in net ipc uts pid; do readlink /proc/self/ns/$n; done; hostname; cat /proc/1/comm",
      ])
      expectSuccess(r)
      let expected = ["net", "ipc", "uts", "pid"].map { readLink("/proc/\(pid)/ns/\($0)") ?? "?" }
      #expect(Array(r.lines.prefix(4)) == expected, "\(r)")
      #expect(r.lines.dropFirst(4).first == "first-host", "the joined UTS namespace's hostname: \(r)")
      #expect(r.lines.last == "sleep", "PID 1 of the joined PID namespace is the first container's init: \(r)")
      #expect(try await first.state().status == .running, "the second container must not disturb the first")
    }
  }

  @Test("a user namespace maps container root to the configured host IDs")
  func userNamespace() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.setNamespace(.user)
      c.linux.uidMappings = [IDMapping(containerID: 0, hostID: 100_000, size: 65536)]
      c.linux.gidMappings = [IDMapping(containerID: 0, hostID: 200_000, size: 65536)]
      let r = try await c.run([
        "sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; readlink /proc/self/ns/user; touch /tmp/owned",
      ])
      expectSuccess(r)
      #expect(Array(r.lines.prefix(2)) == ["0", "0"], "\(r)")
      let maps = r.lines.dropFirst(2).prefix(2).map { $0.split(separator: " ").map(String.init) }
      #expect(maps == [["0", "100000", "65536"], ["0", "200000", "65536"]], "\(r)")
      #expect(r.lines.dropFirst(4).first != readLink("/proc/self/ns/user"), "user namespace must be new")
      var st = stat()
      #expect(stat(c.hostPath("/tmp/owned"), &st) == 0)
      #expect(st.st_uid == 100_000 && st.st_gid == 200_000, "a file made by container root belongs to the mapped IDs")
    }
  }

  @Test("a cgroup namespace makes the container's cgroup its root")
  func cgroupNamespace() async throws {
    try await withSandbox { sb in
      let c = try sb.container("ns")
      let r = try await c.run(["cat", "/proc/self/cgroup"])
      expectSuccess(r)
      #expect(!r.lines.isEmpty)
      for line in r.lines {
        #expect(line.hasSuffix(":/"), "every hierarchy must show / inside a cgroup namespace: \(line)")
      }

      let noNS = try sb.container("nons")
      noNS.setNamespace(.cgroup, present: false)
      let outside = try await noNS.run(["cat", "/proc/self/cgroup"])
      expectSuccess(outside)
      let memory = outside.lines.first { $0.contains(":memory:") || $0.hasPrefix("0::") }
      #expect(memory?.hasSuffix(noNS.cgroupsPath) == true, "without a cgroup namespace the path shows: \(outside)")
    }
  }

  @Test(
    "a time namespace applies timeOffsets (boottime, monotonic)",
    .berthOnly("runc 1.1.5 does not support time namespaces (added in runc 1.2)"))
  func timeNamespace() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.setNamespace(.time)
      c.linux.timeOffsets = ["boottime": TimeOffset(secs: 864_000, nanosecs: 0), "monotonic": TimeOffset(secs: 86_400)]
      let r = try await c.run(["sh", "-c", "cut -d' ' -f1 /proc/uptime; readlink /proc/self/ns/time"])
      expectSuccess(r)
      let uptime = Double(r.lines.first ?? "") ?? 0
      let hostUptime = Double(readText("/proc/uptime")?.split(separator: " ").first ?? "") ?? 0
      #expect(uptime >= 864_000 + hostUptime - 5, "boottime offset of 10 days: \(r)")
      #expect(r.lines.last != readLink("/proc/self/ns/time"))
    }
  }

  @Test("linux.sysctl is applied inside the container's namespaces")
  func sysctl() async throws {
    try await withSandbox { sb in
      let hostForward = readText("/proc/sys/net/ipv4/ip_forward")
      let c = try sb.container()
      c.linux.sysctl = ["net.ipv4.ip_forward": "1", "kernel.domainname": "sysctl.test", "net.ipv4.ping_group_range": "0 0"]
      let r = try await c.run([
        "sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/domainname /proc/sys/net/ipv4/ping_group_range",
      ])
      expectSuccess(r)
      #expect(r.lines.count == 3)
      #expect(r.lines.first == "1", "\(r)")
      #expect(r.lines.dropFirst().first == "sysctl.test", "\(r)")
      #expect(r.lines.last?.split(whereSeparator: \.isWhitespace) == ["0", "0"], "\(r)")
      #expect(readText("/proc/sys/net/ipv4/ip_forward") == hostForward, "the host's sysctl must not change")
    }
  }

  @Test("a network sysctl without a network namespace is refused")
  func sysctlNeedsNamespace() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.setNamespace(.network, present: false)
      c.linux.sysctl = ["net.ipv4.ip_forward": "1"]
      let r = try await c.create(["true"])
      #expect(!r.succeeded, "setting a host-wide sysctl must be refused: \(r)")
    }
  }
}
