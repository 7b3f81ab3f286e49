#if canImport(Glibc)
import Glibc
#endif
import BerthOS

/// The IPv4 networks this host already reaches: its routes (/proc/net/route, every table the
/// kernel shows there) and its interface addresses. A new Berth subnet must not overlap them.
struct HostRoutes {
  struct Entry { var network: IPv4Network; var interface: String }
  var entries: [Entry]

  static func current() -> HostRoutes {
    var entries: [Entry] = []
    // /proc/net/route: Iface Destination Gateway Flags RefCnt Use Metric Mask ..., hex in
    // network byte order printed as a little-endian integer.
    if let text = try? FS.readText("/proc/net/route") {
      for line in text.split(separator: "\n").dropFirst() {
        let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
        guard fields.count >= 8, let dest = UInt32(fields[1], radix: 16), let mask = UInt32(fields[7], radix: 16)
        else { continue }
        let length = mask.nonzeroBitCount
        if length == 0 { continue }  // the default route covers everything; not a conflict
        entries.append(Entry(
          network: IPv4Network(address: IPv4Address(dest.byteSwapped), prefixLength: length),
          interface: String(fields[0])))
      }
    }
    var list: UnsafeMutablePointer<ifaddrs>?
    if getifaddrs(&list) == 0, let first = list {
      var cursor: UnsafeMutablePointer<ifaddrs>? = first
      while let item = cursor {
        defer { cursor = item.pointee.ifa_next }
        guard let addr = item.pointee.ifa_addr, addr.pointee.sa_family == sa_family_t(AF_INET),
              let netmask = item.pointee.ifa_netmask else { continue }
        let ip = addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
        let mask = netmask.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
        let length = UInt32(bigEndian: mask).nonzeroBitCount
        entries.append(Entry(
          network: IPv4Network(address: IPv4Address(UInt32(bigEndian: ip)), prefixLength: max(length, 1)),
          interface: String(cString: item.pointee.ifa_name)))
      }
      freeifaddrs(first)
    }
    return HostRoutes(entries: entries)
  }

  /// The first host route or address that overlaps `network`, ignoring those on `bridge`
  /// (the network's own bridge, when it exists already).
  func conflict(with network: IPv4Network, ignoring bridge: String?) -> Entry? {
    entries.first { $0.interface != bridge && $0.interface != "lo" && $0.network.overlaps(network) }
  }
}
