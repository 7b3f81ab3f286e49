import BerthNetwork
import BerthOS

/// /etc/hosts and /etc/resolv.conf as Docker writes them for a container on networks.
extension EtcFiles {
  static let localhostLines = """
    127.0.0.1\tlocalhost
    ::1\tlocalhost ip6-localhost ip6-loopback
    fe00::0\tip6-localnet
    ff00::0\tip6-mcastprefix
    ff02::1\tip6-allnodes
    ff02::2\tip6-allrouters

    """

  /// Localhost, then `--add-host` entries, then the container's own address (its first
  /// endpoint's) with its hostname and name. Host mode starts from the host's file. No other
  /// containers: on user networks the DNS server answers for them.
  static func hosts(
    hostname: String, domainname: String?, name: String, networkMode: String, address: String?,
    extraHosts: [(name: String, address: String)]
  ) -> String {
    var text = localhostLines
    if networkMode == "host", let host = try? FS.readText("/etc/hosts") {
      text = host.isEmpty || host.hasSuffix("\n") ? host : host + "\n"
    }
    for entry in extraHosts { text += "\(entry.address)\t\(entry.name)\n" }
    if let address {
      var names = [hostname]
      if let domainname, !domainname.isEmpty { names.insert(hostname + "." + domainname, at: 0) }
      if !name.isEmpty && !names.contains(name) { names.append(name) }
      text += "\(address)\t\(names.joined(separator: " "))\n"
    }
    return text
  }

  /// What a container resolves with: on a network with DNS, that network's server (at its
  /// gateway) with the host's search domains and options; on the default bridge the host's
  /// servers without loopback ones (Google's when none is left), as Docker does; in host mode
  /// the host's file. `--dns-search` and `--dns-option` replace their part ("." as the only
  /// search domain means none). `--dns` replaces the servers, except on a network with DNS:
  /// there the network's server stays the only one (container names keep resolving) and
  /// forwards other names to them, which a comment says as Docker's does.
  static func resolvConf(
    networkMode: String, dnsServer: String?, dns: [String], search: [String], options: [String]
  ) -> String {
    let host = (try? FS.readText("/etc/resolv.conf")) ?? ""
    if networkMode == "host" && dns.isEmpty && search.isEmpty && options.isEmpty { return host }
    var servers: [String] = []
    var hostSearch: [String] = []
    var hostOptions: [String] = []
    for line in host.split(separator: "\n") {
      let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
      guard let key = fields.first else { continue }
      switch key {
      case "nameserver" where fields.count > 1: servers.append(fields[1])
      case "search", "domain": hostSearch = Array(fields.dropFirst())
      case "options": hostOptions += fields.dropFirst()
      default: break
      }
    }
    if let dnsServer {
      servers = [dnsServer]
    } else if !dns.isEmpty {
      servers = dns
    } else if networkMode != "host" {
      servers = servers.filter { !($0.hasPrefix("127.") || $0 == "::1") }
      if servers.isEmpty { servers = ["8.8.8.8", "8.8.4.4"] }
    }
    var searchDomains = search.isEmpty ? hostSearch : search
    if searchDomains == ["."] { searchDomains = [] }
    let optionWords = options.isEmpty ? hostOptions : options
    var text = servers.map { "nameserver \($0)\n" }.joined()
    if !searchDomains.isEmpty { text += "search " + searchDomains.joined(separator: " ") + "\n" }
    if !optionWords.isEmpty { text += "options " + optionWords.joined(separator: " ") + "\n" }
    if dnsServer != nil && !dns.isEmpty { text += "# ExtServers: [" + dns.joined(separator: " ") + "]\n" }
    return text
  }
}

extension ContainerEngine {
  /// The container's /etc/hosts and /etc/resolv.conf for these endpoints (none: before a
  /// start, or a container without networks of its own). Written in place: they are
  /// bind-mounted into the container.
  func writeNetworkFiles(_ record: ContainerRecord, endpoints: [Endpoint]) throws {
    let options = record.options
    // host-gateway: the host as the container reaches it (Docker's default bridge gateway).
    let extra = options.extraHosts.map { value -> (name: String, address: String) in
      let (name, address) = ContainerOptions.splitExtraHost(value)
      guard address == "host-gateway" else { return (name, address) }
      return (name, endpoints.first?.gateway ?? (try? networks.defaultNetwork().gateway) ?? "127.0.0.1")
    }
    let hosts = EtcFiles.hosts(
      hostname: record.hostname, domainname: options.domainname, name: record.name, networkMode: options.networkMode,
      address: endpoints.first?.ip, extraHosts: extra)
    var dnsServer: String?
    for endpoint in endpoints {
      if let network = try? networks.network(endpoint.networkID), network.dnsEnabled {
        dnsServer = network.gateway
        break
      }
    }
    let resolv = EtcFiles.resolvConf(
      networkMode: options.networkMode, dnsServer: dnsServer, dns: options.dns, search: options.dnsSearch,
      options: options.dnsOptions)
    try FS.write(layout.container(record.id) + "/hosts", hosts)
    try FS.write(layout.container(record.id) + "/resolv.conf", resolv)
  }
}
