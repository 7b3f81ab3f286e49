import BerthOS
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The host-wide figures Docker's stats are relative to.
enum HostUsage {
  /// Total CPU time of the host in nanoseconds: the first seven fields of /proc/stat's "cpu"
  /// line (user, nice, system, idle, iowait, irq, softirq), in clock ticks, as Docker sums them.
  static func systemCPUNanoseconds(stat: String? = nil) -> UInt64? {
    guard let text = stat ?? (try? FS.readText("/proc/stat")),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
    else { return nil }
    let ticks = line.split(separator: " ").dropFirst().prefix(7).compactMap { UInt64($0) }
    guard ticks.count == 7 else { return nil }
    let hz = UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
    return ticks.reduce(0, +) * (1_000_000_000 / hz)
  }

  static var onlineCPUs: Int { max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1) }

  /// MemTotal of /proc/meminfo in bytes: the limit Docker shows for a container without one.
  static func memoryTotal(meminfo: String? = nil) -> UInt64? {
    guard let text = meminfo ?? (try? FS.readText("/proc/meminfo")),
      let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
      let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) })
    else { return nil }
    return kilobytes * 1024
  }

  /// Received and sent bytes over a /proc/PID/net/dev table, loopback left out (Docker counts
  /// the container's network interfaces, and loopback is none).
  static func networkBytes(netDev text: String) -> (received: UInt64, sent: UInt64) {
    var received: UInt64 = 0
    var sent: UInt64 = 0
    // "  eth0: rx_bytes rx_packets errs drop fifo frame compressed multicast tx_bytes ..."
    for line in text.split(separator: "\n").dropFirst(2) {
      guard let colon = line.firstIndex(of: ":") else { continue }
      let name = line[..<colon].trimmingCharacters(in: .whitespaces)
      if name == "lo" { continue }
      let fields = line[line.index(after: colon)...].split(separator: " ").compactMap { UInt64($0) }
      guard fields.count >= 9 else { continue }
      received += fields[0]
      sent += fields[8]
    }
    return (received, sent)
  }
}
