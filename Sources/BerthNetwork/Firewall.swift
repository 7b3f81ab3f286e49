import BerthOS

/// Berth's iptables rules, per network rather than per container: installed once when a
/// network's bridge is first used, removed with the network. Every per-network rule carries the
/// comment "berth-net-<12 hex of id>" so removal finds exactly its rules. Changes go through one
/// iptables-save and one iptables-restore (atomic per table), under a host-wide lock.
///
/// filter: FORWARD -> BERTH-FORWARD -> BERTH-ISOLATION-1 (from a Berth bridge to elsewhere) ->
///         BERTH-ISOLATION-2 (DROP into another Berth bridge); then per network ACCEPT (out,
///         replies in, published ports in) or, for internal networks, DROP in and out.
/// nat:    POSTROUTING -> BERTH-POSTROUTING: MASQUERADE from the subnet out of other interfaces.
enum Firewall {
  static let forwardChain = "BERTH-FORWARD"
  static let isolation1 = "BERTH-ISOLATION-1"
  static let isolation2 = "BERTH-ISOLATION-2"
  static let postrouting = "BERTH-POSTROUTING"
  /// Host-wide: every Berth root shares the chains.
  static let lockPath = "/run/berth-firewall.lock"

  static func tag(_ network: NetworkDefinition) -> String { "berth-net-" + network.id.prefix(12) }

  /// The network's rules, in iptables-restore syntax without the "-A", per table.
  static func rules(_ network: NetworkDefinition) -> (filter: [String], nat: [String]) {
    let bridge = network.bridge
    let comment = "-m comment --comment \(tag(network))"
    var filter = [
      "\(isolation1) -i \(bridge) ! -o \(bridge) \(comment) -j \(isolation2)",
      // Published ports of containers on other networks stay reachable (DNAT'd traffic).
      "\(isolation2) -o \(bridge) -m conntrack ! --ctstate DNAT \(comment) -j DROP",
      "\(forwardChain) -i \(bridge) -o \(bridge) \(comment) -j ACCEPT",
    ]
    var nat: [String] = []
    if network.internal {
      filter += [
        "\(forwardChain) -i \(bridge) ! -o \(bridge) \(comment) -j DROP",
        "\(forwardChain) ! -i \(bridge) -o \(bridge) \(comment) -j DROP",
      ]
    } else {
      filter += [
        "\(forwardChain) -o \(bridge) -m conntrack --ctstate RELATED,ESTABLISHED \(comment) -j ACCEPT",
        "\(forwardChain) -o \(bridge) -m conntrack --ctstate DNAT \(comment) -j ACCEPT",
        "\(forwardChain) -i \(bridge) ! -o \(bridge) \(comment) -j ACCEPT",
      ]
      nat.append("\(postrouting) -s \(network.subnet) ! -o \(bridge) \(comment) -j MASQUERADE")
    }
    return (filter, nat)
  }

  /// Installs the network's rules (and the shared chains) unless present. Idempotent.
  static func ensure(_ network: NetworkDefinition) throws {
    try NetworkLock.withLock(lockPath) {
      let saved = try IPTablesDump.current()
      let rules = rules(network)
      var script = ""
      let filterChains = [forwardChain, isolation1, isolation2]
      var filterLines: [String] = []
      for chain in filterChains where !saved.filter.chains.contains(chain) { filterLines.append(":\(chain) - [0:0]") }
      // Checked by rule, not by chain: a chain someone flushed gets its first rule back.
      if !saved.filter.rules.contains("-A \(forwardChain) -j \(isolation1)") {
        filterLines.append("-I \(forwardChain) 1 -j \(isolation1)")
      }
      if !saved.filter.rules.contains("-A FORWARD -j \(forwardChain)") {
        filterLines.append("-I FORWARD 1 -j \(forwardChain)")
      }
      if !saved.filter.rules.contains(where: { $0.contains(tag(network)) }) {
        filterLines += rules.filter.map { "-A " + $0 }
      }
      if !filterLines.isEmpty { script += "*filter\n" + filterLines.joined(separator: "\n") + "\nCOMMIT\n" }
      var natLines: [String] = []
      if !rules.nat.isEmpty {
        if !saved.nat.chains.contains(postrouting) { natLines.append(":\(postrouting) - [0:0]") }
        if !saved.nat.rules.contains("-A POSTROUTING -j \(postrouting)") {
          natLines.append("-A POSTROUTING -j \(postrouting)")
        }
        if !saved.nat.rules.contains(where: { $0.contains(tag(network)) }) { natLines += rules.nat.map { "-A " + $0 } }
      }
      if !natLines.isEmpty { script += "*nat\n" + natLines.joined(separator: "\n") + "\nCOMMIT\n" }
      if !script.isEmpty { try IPTablesDump.restore(script, purpose: "install the firewall rules of network \(network.name)") }
    }
  }

  /// Removes the network's rules; the shared chains too once no network uses them. Idempotent.
  static func remove(_ network: NetworkDefinition) throws {
    try NetworkLock.withLock(lockPath) {
      let saved = try IPTablesDump.current()
      let mine = tag(network)
      var script = ""
      let filterDeletes = saved.filter.rules.filter { $0.contains(mine) }.map { "-D" + $0.dropFirst(2) }
      let filterLeft = saved.filter.rules.filter { $0.contains("berth-net-") && !$0.contains(mine) }
      var filterLines = filterDeletes
      if filterLeft.isEmpty {
        if saved.filter.rules.contains("-A FORWARD -j \(forwardChain)") { filterLines.append("-D FORWARD -j \(forwardChain)") }
        for chain in [forwardChain, isolation1, isolation2] where saved.filter.chains.contains(chain) {
          filterLines.append("-F \(chain)")
        }
        for chain in [forwardChain, isolation1, isolation2] where saved.filter.chains.contains(chain) {
          filterLines.append("-X \(chain)")
        }
      }
      if !filterLines.isEmpty { script += "*filter\n" + filterLines.joined(separator: "\n") + "\nCOMMIT\n" }
      var natLines = saved.nat.rules.filter { $0.contains(mine) }.map { "-D" + $0.dropFirst(2) }
      if !saved.nat.rules.contains(where: { $0.contains("berth-net-") && !$0.contains(mine) }) {
        if saved.nat.rules.contains("-A POSTROUTING -j \(postrouting)") { natLines.append("-D POSTROUTING -j \(postrouting)") }
        if saved.nat.chains.contains(postrouting) { natLines += ["-F \(postrouting)", "-X \(postrouting)"] }
      }
      if !natLines.isEmpty { script += "*nat\n" + natLines.joined(separator: "\n") + "\nCOMMIT\n" }
      if !script.isEmpty { try IPTablesDump.restore(script, purpose: "remove the firewall rules of network \(network.name)") }
    }
  }
}

/// The output of iptables-save: per table, its chain names and its "-A ..." lines.
struct IPTablesDump {
  struct Table { var chains: Set<String> = []; var rules: [String] = [] }
  var filter = Table()
  var nat = Table()

  /// One iptables-save of every table (one process, not one per table).
  static func current() throws -> IPTablesDump {
    let result = try Subprocess.run(Tools.iptablesSave, args: ["iptables-save"])
    guard result.status == .exited(0) else {
      throw BerthError(
        .commandFailed, "iptables-save failed (\(result.status)): \(String(decoding: result.error, as: UTF8.self))")
    }
    var dump = IPTablesDump()
    var current: String?
    var table = Table()
    func finish() {
      if current == "filter" { dump.filter = table } else if current == "nat" { dump.nat = table }
    }
    for line in String(decoding: result.output, as: UTF8.self).split(separator: "\n") {
      if line.hasPrefix("*") {
        finish()
        current = String(line.dropFirst())
        table = Table()
      } else if line.hasPrefix(":") {
        if let name = line.dropFirst().split(separator: " ").first { table.chains.insert(String(name)) }
      } else if line.hasPrefix("-A ") {
        table.rules.append(String(line))
      }
    }
    finish()
    return dump
  }

  static func restore(_ script: String, purpose: String) throws {
    let result = try Subprocess.run(
      Tools.iptablesRestore, args: ["iptables-restore", "-w", "--noflush"], input: Array(script.utf8))
    guard result.status == .exited(0) else {
      let message = String(decoding: result.error, as: UTF8.self).trimmingTrailingNewlines
      throw BerthError(.commandFailed, "\(purpose): iptables-restore failed (\(result.status)): \(message)")
    }
  }
}

/// Paths of the host tools Berth runs.
enum Tools {
  static let iptablesSave = firstExisting(["/usr/sbin/iptables-save", "/sbin/iptables-save", "/usr/bin/iptables-save"])
  static let iptablesRestore = firstExisting(["/usr/sbin/iptables-restore", "/sbin/iptables-restore", "/usr/bin/iptables-restore"])
  static let ip = firstExisting(["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"])

  static func firstExisting(_ paths: [String]) -> String {
    paths.first(where: FS.exists) ?? paths[0]
  }
}

extension String {
  var trimmingTrailingNewlines: String {
    var text = self
    while text.last == "\n" || text.last == "\r" { text.removeLast() }
    return text
  }
}
