import BerthCgroups
import BerthOS
import Testing

@testable import BerthEngine

#if canImport(Glibc)
  import Glibc
#endif

@Suite("ps, stats and top arithmetic")
struct QueryUnitTests {
  static let now = DockerTime(seconds: 1_800_000_000)

  static func time(_ secondsBefore: Int64) -> String {
    DockerTime(seconds: now.seconds - secondsBefore).rfc3339NanoFixed
  }

  @Test(
    "durations in docker's words",
    arguments: [
      (0.5, "Less than a second"), (1, "1 second"), (45, "45 seconds"), (60, "About a minute"), (150, "2 minutes"),
      (3600, "About an hour"), (5 * 3600, "5 hours"), (3 * 86400, "3 days"), (20 * 86400, "2 weeks"),
      (90 * 86400, "3 months"), (800 * 86400, "2 years"),
    ] as [(Double, String)])
  func durations(seconds: Double, words: String) {
    #expect(HumanDuration.describe(seconds: seconds) == words)
  }

  @Test("status texts")
  func statusTexts() {
    var state = ContainerState()
    #expect(state.statusText(hasHealthcheck: false, now: Self.now) == "Created")
    state.status = .running
    state.startedAt = Self.time(5)
    #expect(state.statusText(hasHealthcheck: false, now: Self.now) == "Up 5 seconds")
    #expect(state.statusText(hasHealthcheck: true, now: Self.now) == "Up 5 seconds (health: starting)")
    state.healthJSON = Array(#"{"Status":"healthy","FailingStreak":0,"Log":[]}"#.utf8)
    #expect(state.statusText(hasHealthcheck: true, now: Self.now) == "Up 5 seconds (healthy)")
    state.status = .paused
    state.startedAt = Self.time(180)
    #expect(state.statusText(hasHealthcheck: false, now: Self.now) == "Up 3 minutes (Paused)")
    state.status = .exited
    state.exitCode = 137
    state.finishedAt = Self.time(2 * 3600)
    #expect(state.statusText(hasHealthcheck: false, now: Self.now) == "Exited (137) 2 hours ago")
    state.status = .restarting
    state.exitCode = 1
    state.finishedAt = Self.time(2)
    #expect(state.statusText(hasHealthcheck: false, now: Self.now) == "Restarting (1) 2 seconds ago")
    state.status = .dead
    #expect(state.statusText(hasHealthcheck: false, now: Self.now) == "Dead")
  }

  static func sample(cpu: UInt64, system: UInt64, memory: UInt64, limit: UInt64, raw: [String: UInt64]) -> ContainerStatsSample {
    var stats = CgroupStats()
    stats.cpu.usage.total = cpu
    stats.memory.usage.usage = memory
    stats.memory.usage.limit = limit
    stats.memory.raw = raw
    stats.pids.current = 3
    stats.blkio.ioServiceBytesRecursive = [
      .init(major: 8, minor: 0, op: "Read", value: 4096), .init(major: 8, minor: 16, op: "Read", value: 4096),
      .init(major: 8, minor: 0, op: "Write", value: 1000), .init(major: 8, minor: 0, op: "Total", value: 9192),
    ]
    return ContainerStatsSample(cgroup: stats, systemCPU: system, onlineCPUs: 2, hostMemory: 8 << 30)
  }

  @Test("stats readings: CPU share from two samples, memory without the inactive cache (v1 and v2)")
  func readings() {
    let before = Self.sample(cpu: 1_000_000_000, system: 100_000_000_000, memory: 0, limit: 0, raw: [:])
    // Half a CPU-second used while the host's two CPUs spent two seconds: 50% of one CPU.
    let v1 = Self.sample(
      cpu: 1_500_000_000, system: 102_000_000_000, memory: 30 << 20, limit: 64 << 20,
      raw: ["total_inactive_file": 10 << 20, "inactive_file": 1 << 20])
    let reading = ContainerStatsReading(v1, previous: before)
    #expect(abs(reading.cpuPercent - 50) < 0.001)
    #expect(reading.memoryUsage == 20 << 20)
    #expect(reading.memoryLimit == 64 << 20)
    #expect(abs(reading.memoryPercent - 31.25) < 0.001)
    #expect(reading.blockRead == 8192 && reading.blockWritten == 1000 && reading.pids == 3)
    #expect(ContainerStatsReading(v1, previous: nil).cpuPercent == 0)

    // v2 names it inactive_file; no limit shows the host's memory.
    let v2 = Self.sample(cpu: 0, system: 0, memory: 30 << 20, limit: UInt64.max, raw: ["inactive_file": 5 << 20])
    let unlimited = ContainerStatsReading(v2, previous: nil)
    #expect(unlimited.memoryUsage == 25 << 20)
    #expect(unlimited.memoryLimit == 8 << 30)
  }

  @Test("host figures: /proc/stat, /proc/meminfo, /proc/PID/net/dev")
  func hostFigures() throws {
    let hz = UInt64(sysconf(Int32(_SC_CLK_TCK)))
    let stat = "cpu  10 20 30 40 50 60 70 80 90 100\ncpu0 1 2 3 4 5 6 7 8 9 10\n"
    #expect(HostUsage.systemCPUNanoseconds(stat: stat) == 280 * (1_000_000_000 / hz))
    #expect(HostUsage.memoryTotal(meminfo: "MemTotal:       24576000 kB\nMemFree: 1 kB\n") == 24_576_000 * 1024)
    let netDev = """
      Inter-|   Receive                                                |  Transmit
       face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
          lo:  999999      10    0    0    0     0          0         0   999999      10    0    0    0     0       0          0
        eth0:    1500      12    0    0    0     0          0         0      700       9    0    0    0     0       0          0
        eth1:     500       2    0    0    0     0          0         0      300       1    0    0    0     0       0          0
      """
    let bytes = HostUsage.networkBytes(netDev: netDev)
    #expect(bytes.received == 2000 && bytes.sent == 1000)
  }

  @Test("top keeps the container's rows and the command's spaces")
  func topRows() throws {
    let output = """
      UID          PID    PPID  C STIME TTY          TIME CMD
      root           1       0  0 08:00 ?        00:00:01 /sbin/init splash
      root        4242    4240  0 08:47 ?        00:00:00 sleep 100
      nobody      4243    4242  0 08:47 pts/0    00:00:00 sh -c echo  two  spaces
      """
    let list = try ContainerProcessList.parse(psOutput: output, pids: [4242, 4243])
    #expect(list.titles == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"])
    #expect(list.processes == [
      ["root", "4242", "4240", "0", "08:47", "?", "00:00:00", "sleep 100"],
      ["nobody", "4243", "4242", "0", "08:47", "pts/0", "00:00:00", "sh -c echo two spaces"],
    ])
    #expect(throws: BerthError.self) { try ContainerProcessList.parse(psOutput: "USER COMMAND\nroot init\n", pids: [1]) }
  }

  @Test("filter errors are worded like docker's daemon's")
  func filterErrors() {
    func message(_ filters: [String]) -> String? {
      do {
        _ = try ContainerFilters(filters)
        return nil
      } catch let error as BerthError {
        return error.message
      } catch {
        return "\(error)"
      }
    }
    #expect(message(["status=running", "label=a=b", "name=x", "health=none", "exited=1"]) == nil)
    #expect(message(["publish=80"]) == "invalid filter 'publish'")
    #expect(message(["status=asleep"]) == "invalid filter 'status=asleep'")
    #expect(message(["health=fine"]) == "Unrecognised filter value for health: fine")
    #expect(message(["exited=x"]) == "invalid filter 'exited=x'")
  }

  @Test("name filters are regular expressions over \"/name\", labels key or key=value")
  func matching() {
    #expect(ResolvedContainerFilters.regexMatches("^/web$", "/web"))
    #expect(ResolvedContainerFilters.regexMatches("we", "/web"))
    #expect(!ResolvedContainerFilters.regexMatches("^/db", "/web"))
    #expect(!ResolvedContainerFilters.regexMatches("([", "/web"))
    #expect(ResolvedContainerFilters.labelMatches("tier", ["tier": "web"]))
    #expect(ResolvedContainerFilters.labelMatches("tier=web", ["tier": "web"]))
    #expect(!ResolvedContainerFilters.labelMatches("tier=db", ["tier": "web"]))
    #expect(ResolvedContainerFilters.labelMatches("a=b=c", ["a": "b=c"]))
  }
}
