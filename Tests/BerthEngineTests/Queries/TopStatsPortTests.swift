import BerthOS
import BerthTestSupport
import Foundation
import Testing

/// `berth top`, `berth stats` and `berth port` end to end.
@Suite("top, stats, port", .engineSandbox, .serialized)
struct TopStatsPortTests {
  @Test("top lists the container's processes, and only those")
  func top() async throws {
    try await EngineSandbox.with { sandbox in
      _ = try await sandbox.runDetached("--name", "topper", "busybox", "sleep", "100")
      let pid = try await sandbox.ok("inspect", "-f", "{{.State.Pid}}", "topper").trimmed
      let listing = try await sandbox.ok("top", "topper").stdout
      // docker's top table: columns at least twenty wide.
      #expect(listing.hasPrefix("UID                 PID                 PPID "), "\(listing)")
      let rows = tableRows(listing)
      #expect(rows.count == 1, "\(listing)")
      #expect(rows.first?["PID"] == pid)
      #expect(rows.first?["CMD"] == "sleep 100")

      try await sandbox.ok("exec", "-d", "topper", "sleep", "50")
      var commands: [String] = []
      for _ in 0..<50 {
        commands = tableRows(try await sandbox.ok("top", "topper", "-o", "pid,args").stdout).compactMap { $0["COMMAND"] }
        if commands.count == 2 { break }
        try await Task.sleep(nanoseconds: 100_000_000)
      }
      #expect(commands.sorted() == ["sleep 100", "sleep 50"], "\(commands)")

      let id = try await sandbox.ok("create", "--name", "idle", "busybox", "true").trimmed
      let stopped = try await sandbox.run("top", "idle")
      #expect(stopped.code == 1 && stopped.stderr == "Error response from daemon: container \(id) is not running\n", "\(stopped)")
      let missing = try await sandbox.run("top", "nope")
      #expect(missing.code == 1 && missing.stderr.contains("No such container: nope"), "\(missing)")
    }
  }

  @Test("stats --no-stream: the memory limit, usage, pids and a busy CPU")
  func stats() async throws {
    try await EngineSandbox.with { sandbox in
      // 20 MiB in /dev/shm is charged to the container's memory (and is not page cache); the shell
      // waits for its sleep, so two processes run.
      // No network: a bridge's first packets (IPv6 neighbour discovery) would make NET I/O vary.
      _ = try await sandbox.runDetached(
        "--name", "filled", "--network", "none", "--memory", "64m", "busybox", "sh", "-c",
        "busybox dd if=/dev/zero of=/dev/shm/fill bs=1048576 count=20 2>/dev/null; sleep 100 & wait")
      _ = try await sandbox.runDetached("--name", "spinner", "--network", "none", "busybox", "sh", "-c", "while :; do :; done")
      try await sandbox.ok("create", "--name", "idle", "busybox", "true")
      try await Task.sleep(nanoseconds: 500_000_000)

      let output = try await sandbox.ok("stats", "--no-stream").stdout
      #expect(output.hasPrefix("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS"), "\(output)")
      let rows = Dictionary(uniqueKeysWithValues: tableRows(output).map { ($0["NAME"] ?? "", $0) })
      #expect(rows.keys.sorted() == ["filled", "spinner"], "\(output)")
      let filled = rows["filled"] ?? [:]
      let memory = filled["MEM USAGE / LIMIT"] ?? ""
      #expect(memory.hasSuffix(" / 64MiB"), "\(memory)")
      let used = Double(memory.prefix { $0.isNumber || $0 == "." }) ?? 0
      #expect(memory.contains("MiB /") && used >= 20 && used < 64, "\(memory)")
      #expect(filled["PIDS"] == "2", "\(filled)")
      #expect(filled["NET I/O"] == "0B / 0B")
      let percent = Double((filled["MEM %"] ?? "").dropLast()) ?? 0
      #expect(percent > 30 && percent < 100, "\(filled)")
      // A spinning shell keeps a CPU busy: clearly above the sleeping container, and at most
      // every CPU of the host (how far above zero depends on what else the machine runs).
      let cpu = Double((rows["spinner"]?["CPU %"] ?? "").dropLast()) ?? 0
      let idleCPU = Double((filled["CPU %"] ?? "").dropLast()) ?? 100
      #expect(cpu > 2 && cpu > idleCPU + 1 && cpu <= Double(100 * ProcessInfo.processInfo.activeProcessorCount) + 1, "\(output)")

      // -a shows stopped containers with zeros; --format picks fields.
      let everything = tableRows(try await sandbox.ok("stats", "--no-stream", "-a").stdout)
      let idle = everything.first { $0["NAME"] == "idle" } ?? [:]
      #expect(idle["MEM USAGE / LIMIT"] == "0B / 0B" && idle["PIDS"] == "0", "\(everything)")
      let formatted = try await sandbox.ok("stats", "--no-stream", "--format", "{{.Container}}: {{.PIDs}}", "filled").stdout
      #expect(formatted == "filled: 2\n")
      let json = try await sandbox.ok("stats", "--no-stream", "--format", "json", "filled").stdout
      let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String]
      #expect(object?["Name"] == "filled" && object?["MemUsage"]?.hasSuffix("/ 64MiB") == true, "\(json)")

      let missing = try await sandbox.run("stats", "--no-stream", "nope")
      #expect(missing.code == 1 && missing.stderr.contains("No such container: nope"), "\(missing)")
    }
  }

  @Test("port: nothing is published")
  func port() async throws {
    try await EngineSandbox.with { sandbox in
      _ = try await sandbox.runDetached("--name", "server", "busybox", "sleep", "100")
      let all = try await sandbox.run("port", "server")
      #expect(all.code == 0 && all.stdout.isEmpty && all.stderr.isEmpty, "\(all)")
      let tcp = try await sandbox.run("port", "server", "80")
      #expect(tcp.code == 1 && tcp.stderr == "Error: No public port '80/tcp' published for server\n", "\(tcp)")
      let udp = try await sandbox.run("port", "server", "53/udp")
      #expect(udp.code == 1 && udp.stderr == "Error: No public port '53/udp' published for server\n", "\(udp)")
      let bad = try await sandbox.run("port", "server", "eighty")
      #expect(bad.code == 1 && !bad.stderr.contains("published"), "\(bad)")
      let missing = try await sandbox.run("port", "nope")
      #expect(missing.code == 1 && missing.stderr.contains("No such container: nope"), "\(missing)")
    }
  }
}
