#if canImport(Glibc)
import Glibc
#endif
import BerthOS

/// Where names that are not containers' get forwarded: the host's resolvers.
public struct DNSUpstream: Sendable, Equatable, CustomStringConvertible {
  public var address: String
  public var port: Int

  public init(address: String, port: Int = 53) {
    self.address = address
    self.port = port
  }

  public var description: String { address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)" }

  /// The upstreams from BERTH_DNS_UPSTREAM ("IP:PORT,IP:PORT", "[v6]:PORT", a bare IP means
  /// port 53) when set, else the nameservers of the host's /etc/resolv.conf. The server runs
  /// in the host's network namespace, so loopback resolvers (systemd-resolved) work too.
  public static func configured(environment: String? = getenv("BERTH_DNS_UPSTREAM").map { String(cString: $0) },
                                resolvConf: String = "/etc/resolv.conf") -> [DNSUpstream] {
    if let environment, !environment.isEmpty {
      return environment.split(separator: ",").compactMap { parse(String($0).trimmingSpaces) }
    }
    guard let text = try? FS.readText(resolvConf) else { return [] }
    return fromResolvConf(text)
  }

  /// `nameserver` lines, in order (a zone index such as "%eth0" is dropped).
  public static func fromResolvConf(_ text: String) -> [DNSUpstream] {
    var upstreams: [DNSUpstream] = []
    for line in text.split(separator: "\n") {
      let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard fields.count >= 2, fields[0] == "nameserver" else { continue }
      let address = String(fields[1].split(separator: "%").first ?? fields[1])
      if isIPAddress(address) { upstreams.append(DNSUpstream(address: address)) }
    }
    return upstreams
  }

  /// "1.2.3.4", "1.2.3.4:5353", "[::1]:5353", "::1".
  public static func parse(_ text: String) -> DNSUpstream? {
    if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
      let address = String(text[text.index(after: text.startIndex)..<close])
      let rest = text[text.index(after: close)...]
      guard isIPAddress(address) else { return nil }
      if rest.isEmpty { return DNSUpstream(address: address) }
      guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65535).contains(port) else { return nil }
      return DNSUpstream(address: address, port: port)
    }
    if isIPAddress(text) { return DNSUpstream(address: text) }
    let parts = text.split(separator: ":")
    guard parts.count == 2, isIPAddress(String(parts[0])), let port = Int(parts[1]), (1...65535).contains(port) else { return nil }
    return DNSUpstream(address: String(parts[0]), port: port)
  }

  static func isIPAddress(_ text: String) -> Bool {
    var buffer = in6_addr()
    return inet_pton(AF_INET, text, &buffer) == 1 || inet_pton(AF_INET6, text, &buffer) == 1
  }
}

extension String {
  fileprivate var trimmingSpaces: String {
    String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
  }
}
