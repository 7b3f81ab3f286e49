#if canImport(Glibc)
import Glibc
#endif
import BerthNetwork
import BerthOS

/// The network flags of `create`/`run`, checked as docker/cli and the daemon check them.
/// Whether a named network exists is the engine's question (at create), not the parser's.
struct NetworkFlagChoices {
  var mode = "bridge"
  var networks: [EndpointRequest] = []
  var dns: [String] = []
  var extraHosts: [String] = []
  var publish: [PortMapping] = []
  var expose: [String] = []
}

extension ContainerOptions {
  // swiftlint:disable:next cyclomatic_complexity function_body_length
  static func parseNetworkFlags(_ flags: ContainerFlagValues) throws(BerthErrorMessage) -> NetworkFlagChoices {
    var result = NetworkFlagChoices()
    func invalid(_ value: String, _ long: String, _ short: Character? = nil, _ reason: String) -> BerthErrorMessage {
      FlagSyntax.invalidArgument(value, long: long, short: short, reason)
    }

    // Values pflag checks as it reads them.
    for value in flags.dns where !isIPAddress(value) {
      throw invalid(value, "dns", nil, "\(value) is not an ip address")
    }
    for value in flags.addHosts {
      do { try validateExtraHost(value) } catch { throw invalid(value, "add-host", nil, error.text) }
    }
    if let mac = flags.macAddress, !mac.isEmpty, !isMACAddress(mac) {
      throw invalid(mac, "mac-address", nil, "\(mac) is not a valid mac address")
    }
    var publish: [PortMapping] = []
    for value in flags.publish {
      do { publish += try PortSpec.parse(value) } catch {
        throw invalid(value, "publish", "p", (error as? BerthError)?.message ?? "\(error)")
      }
    }
    var expose: [String] = []
    for value in flags.expose {
      do { expose += try exposedPorts(value) } catch {
        throw BerthErrorMessage("invalid range format for --expose: \(value), error: \(error.text)")
      }
    }

    // The modes: one of none, host, container:NAME, or any number of networks.
    var names: [String] = []
    for value in flags.networks {
      let name = value.isEmpty || value == "default" ? "bridge" : value
      if names.contains(name) { throw BerthErrorMessage("network \(FlagSyntax.goQuote(name)) is specified multiple times") }
      names.append(name)
    }
    if names.isEmpty { names = ["bridge"] }
    let mode = names[0]
    if mode.hasPrefix("container:") && !isContainerMode(mode) {
      throw BerthErrorMessage("invalid container format container:<name|id>")
    }
    if names.count > 1 && names.contains(where: { !joinsNetworks($0) }) {
      throw BerthErrorMessage("conflicting options: cannot attach both user-defined and non-user-defined network-modes")
    }
    let userNetwork = joinsNetworks(mode) && mode != "bridge"
    if !flags.networkAliases.isEmpty && !userNetwork {
      throw BerthErrorMessage("network-scoped alias is supported only for containers in user defined networks")
    }
    if let ip = flags.ip, !ip.isEmpty {
      guard isIPv4Address(ip) else { throw BerthErrorMessage("invalid IPv4 address: \(ip)") }
      if !userNetwork { throw BerthErrorMessage("user specified IP address is supported on user defined networks only") }
    }
    if isContainerMode(mode) {
      if !publish.isEmpty || flags.publishAll {
        throw BerthErrorMessage("conflicting options: port publishing and the container type network mode")
      }
      if !flags.dns.isEmpty || !flags.dnsSearch.isEmpty || !flags.dnsOptions.isEmpty {
        throw BerthErrorMessage("conflicting options: dns and the network mode")
      }
      if !flags.addHosts.isEmpty {
        throw BerthErrorMessage("conflicting options: custom host-to-IP mapping and the network mode")
      }
    }
    if let mac = flags.macAddress, !mac.isEmpty, !joinsNetworks(mode) {
      throw BerthErrorMessage("conflicting options: mac-address and the network mode")
    }

    result.mode = mode
    if joinsNetworks(mode) {
      result.networks = names.map { EndpointRequest(network: $0) }
      result.networks[0].ip = flags.ip.flatMap { $0.isEmpty ? nil : $0 }
      result.networks[0].mac = flags.macAddress.flatMap { $0.isEmpty ? nil : $0.lowercased() }
      result.networks[0].aliases = flags.networkAliases
      // Published ports need the container's own network (Docker drops them on host and none,
      // and says so for host).
      result.publish = publish
    }
    result.dns = flags.dns
    result.extraHosts = flags.addHosts
    result.expose = expose
    return result
  }

  /// `--expose 80`, `80/udp`, `8000-8002/tcp`: one "PORT/PROTO" each.
  static func exposedPorts(_ value: String) throws(BerthErrorMessage) -> [String] {
    let parts = value.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    let proto = parts.count > 1 ? parts[1].lowercased() : "tcp"
    guard ["tcp", "udp", "sctp"].contains(proto) else { throw BerthErrorMessage("invalid proto: \(proto)") }
    let bounds = parts[0].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    guard let low = UInt16(bounds[0]), low > 0 else { throw BerthErrorMessage("invalid start port '\(bounds[0])'") }
    var high = low
    if bounds.count == 2 {
      guard let end = UInt16(bounds[1]), end >= low else { throw BerthErrorMessage("invalid end port '\(bounds[1])'") }
      high = end
    }
    return (low...high).map { "\($0)/\(proto)" }
  }

  /// docker/cli's ValidateExtraHost: "NAME:IP" or "NAME=IP", IP may be "host-gateway".
  static func validateExtraHost(_ value: String) throws(BerthErrorMessage) {
    let separator = value.firstIndex { $0 == "=" || $0 == ":" }
    guard let separator, value.startIndex != separator else {
      throw BerthErrorMessage("bad format for add-host: \(FlagSyntax.goQuote(value))")
    }
    var address = String(value[value.index(after: separator)...])
    if address.hasPrefix("[") && address.hasSuffix("]") { address = String(address.dropFirst().dropLast()) }
    guard address == "host-gateway" || isIPAddress(address) else {
      throw BerthErrorMessage("invalid IP address in add-host: \(FlagSyntax.goQuote(address))")
    }
  }

  /// "NAME" and "IP" of a valid `--add-host` value.
  static func splitExtraHost(_ value: String) -> (name: String, address: String) {
    guard let separator = value.firstIndex(where: { $0 == "=" || $0 == ":" }) else { return (value, "") }
    var address = String(value[value.index(after: separator)...])
    if address.hasPrefix("[") && address.hasSuffix("]") { address = String(address.dropFirst().dropLast()) }
    return (String(value[..<separator]), address)
  }

  static func isIPv4Address(_ text: String) -> Bool {
    var address = in_addr()
    return inet_pton(AF_INET, text, &address) == 1
  }

  static func isIPAddress(_ text: String) -> Bool {
    var address6 = in6_addr()
    return isIPv4Address(text) || inet_pton(AF_INET6, text, &address6) == 1
  }

  /// Six hex pairs separated by ":" (or "-"), as Go's net.ParseMAC takes the common form.
  static func isMACAddress(_ text: String) -> Bool {
    let pairs = text.split(separator: text.contains("-") ? "-" : ":", omittingEmptySubsequences: false)
    return pairs.count == 6 && pairs.allSatisfy { $0.count == 2 && $0.allSatisfy(\.isHexDigit) }
  }
}
