#if canImport(Glibc)
import Glibc
#endif
import BerthOS

/// `-p` values: "80", "8080:80", "127.0.0.1:8080:80", "127.0.0.1::80", "8080:80/udp",
/// ranges "8000-8001:80-81", and "8000-8010:80" (one free port of the host range).
public enum PortSpec {
  /// The mappings one `-p` value asks for; an empty host port is replaced by a free one.
  public static func parse(_ text: String) throws -> [PortMapping] {
    func bad(_ why: String) -> BerthError {
      BerthError(.invalidArgument, "invalid port specification \(quoted(text)): \(why)")
    }
    var body = Substring(text)
    var proto = "tcp"
    if let slash = body.lastIndex(of: "/") {
      proto = body[body.index(after: slash)...].lowercased()
      body = body[..<slash]
      guard proto == "tcp" || proto == "udp" else { throw bad("the protocol must be tcp or udp, not \(quoted(proto))") }
    }
    // The host IP may contain ":" only as [IPv6]; Berth networks are IPv4, so refuse it plainly.
    if body.hasPrefix("[") { throw bad("IPv6 host addresses are not supported (Berth networks are IPv4)") }
    let parts = body.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    var hostIP = "", hostPart = "", containerPart = ""
    switch parts.count {
    case 1: containerPart = parts[0]
    case 2: hostPart = parts[0]; containerPart = parts[1]
    case 3: hostIP = parts[0]; hostPart = parts[1]; containerPart = parts[2]
    default: throw bad("expected [ip:][hostPort:]containerPort[/protocol]")
    }
    if !hostIP.isEmpty {
      guard IPv4Address(hostIP) != nil else { throw bad("\(quoted(hostIP)) is not an IPv4 address") }
      if hostIP == "0.0.0.0" { hostIP = "" }
    }
    guard !containerPart.isEmpty else { throw bad("the container port is missing") }
    let containerPorts = try range(containerPart, what: "container port", in: text)
    if hostPart.isEmpty {
      let free = try freeHostPorts(containerPorts.count, proto: proto, hostIP: hostIP)
      return zip(free, containerPorts).map { PortMapping(hostIP: hostIP, hostPort: $0, containerPort: $1, proto: proto) }
    }
    let hostPorts = try range(hostPart, what: "host port", in: text)
    if hostPorts.count == containerPorts.count {
      return zip(hostPorts, containerPorts).map { PortMapping(hostIP: hostIP, hostPort: $0, containerPort: $1, proto: proto) }
    }
    if containerPorts.count == 1, let port = containerPorts.first {
      // Docker: a host range for one container port means any free port of that range.
      for candidate in hostPorts where isFree(candidate, proto: proto, hostIP: hostIP) {
        return [PortMapping(hostIP: hostIP, hostPort: candidate, containerPort: port, proto: proto)]
      }
      throw BerthError(.conflict, "no free host port in \(hostPart) for \(text)")
    }
    throw bad("the host range has \(hostPorts.count) ports but the container range \(containerPorts.count)")
  }

  /// "80" or "8000-8010" as ports 1...65535.
  static func range(_ text: String, what: String, in spec: String) throws -> [UInt16] {
    let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
    let numbers = bounds.map { UInt16($0) }
    guard (1...2).contains(bounds.count), numbers.allSatisfy({ ($0 ?? 0) > 0 }), let low = numbers.first ?? nil,
          let high = numbers.last ?? nil, low <= high
    else {
      throw BerthError(
        .invalidArgument, "invalid port specification \(quoted(spec)): invalid \(what) \(quoted(text)) (1-65535, or a range low-high)")
    }
    return Array(low...high)
  }

  /// A port nobody listens on now (bind-tested) for `proto` on `hostIP` ("" = all addresses).
  public static func freeHostPort(proto: String, hostIP: String) throws -> UInt16 {
    let fd = try bindSocket(port: 0, proto: proto, hostIP: hostIP)
    defer { close(fd) }
    return try boundPort(fd, proto: proto)
  }

  /// `count` distinct free ports: every socket stays bound until all are chosen.
  static func freeHostPorts(_ count: Int, proto: String, hostIP: String) throws -> [UInt16] {
    var sockets: [Int32] = []
    defer { for fd in sockets { close(fd) } }
    var ports: [UInt16] = []
    for _ in 0..<count {
      let fd = try bindSocket(port: 0, proto: proto, hostIP: hostIP)
      sockets.append(fd)
      ports.append(try boundPort(fd, proto: proto))
    }
    return ports
  }

  private static func boundPort(_ fd: Int32, proto: String) throws -> UInt16 {
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let rc = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    if rc != 0 { throw BerthError.system("find a free \(proto) port") }
    return UInt16(bigEndian: address.sin_port)
  }

  static func isFree(_ port: UInt16, proto: String, hostIP: String) -> Bool {
    guard let fd = try? bindSocket(port: port, proto: proto, hostIP: hostIP) else { return false }
    close(fd)
    return true
  }

  private static func bindSocket(port: UInt16, proto: String, hostIP: String) throws -> Int32 {
    let type = proto == "udp" ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue)
    let fd = socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
    if fd < 0 { throw BerthError.system("open a \(proto) socket") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = (IPv4Address(hostIP)?.value ?? 0).bigEndian
    let rc = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if rc != 0 {
      let saved = errno
      close(fd)
      throw BerthError.system("bind \(proto) port \(port) on \(hostIP.isEmpty ? "0.0.0.0" : hostIP)", errno: saved)
    }
    return fd
  }
}
