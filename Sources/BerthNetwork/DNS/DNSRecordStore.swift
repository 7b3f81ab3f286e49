#if canImport(Glibc)
import Glibc
#endif
import BerthOS

/// One container's names on a network.
public struct DNSRecord: Sendable, Equatable {
  public var containerID: String
  public var names: [String]
  public var ipv4: String
  /// Where the server forwards this container's other queries (its `--dns`); empty: the
  /// network's upstreams.
  public var upstreams: [DNSUpstream]

  public init(containerID: String, names: [String], ipv4: String, upstreams: [DNSUpstream] = []) {
    self.containerID = containerID
    self.names = names
    self.ipv4 = ipv4
    self.upstreams = upstreams
  }
}

/// The names of the containers on one network, kept in runRoot/networks/<networkID>/dns-records:
/// one line per container, `<containerID> <ipv4> <name>... [upstreams=IP:PORT,...]`. The
/// upstreams field comes last, so a server of an older build reads it as one more name nobody
/// asks for, and a line without it is what older builds wrote. Several berth processes may
/// change the file at once, so each change holds an flock on dns-records.lock and replaces it
/// atomically (the DNS server only reads it, and sees the old file or the new).
public struct DNSRecordStore: Sendable {
  public let runRoot: String

  public init(runRoot: String) {
    self.runRoot = runRoot
  }

  public func directory(networkID: String) -> String { runRoot + "/networks/" + networkID }
  public func recordsPath(networkID: String) -> String { directory(networkID: networkID) + "/dns-records" }

  /// Marks the field that holds a record's upstreams.
  static let upstreamsPrefix = "upstreams="

  /// Adds or replaces the container's names (a second call for the same container replaces
  /// them). The first name is the one a reverse (PTR) lookup of `ipv4` gives. Names with
  /// spaces or control characters cannot be asked for and are left out, and so are names that
  /// would read as the upstreams field. `upstreams`: where the server sends the names it does
  /// not know when this container asks (from `ipv4`); empty means the network's.
  public func register(
    networkID: String, containerID: String, names: [String], ipv4: String, upstreams: [DNSUpstream] = []
  ) throws {
    try Self.validate(networkID: networkID)
    guard Self.isToken(containerID) else {
      throw BerthError(.invalidArgument, "container ID \(quoted(containerID)) is not valid for DNS records: it must be non-empty without spaces")
    }
    guard Self.isIPv4(ipv4) else {
      throw BerthError(.invalidArgument, "\(quoted(ipv4)) is not an IPv4 address; pass the container's address on network \(networkID)")
    }
    // Names a DNS query cannot carry (spaces, empty) are left out rather than failing the start.
    var kept: [String] = []
    for name in names where Self.isToken(name) && name.utf8.count <= 253 && !name.hasPrefix(Self.upstreamsPrefix) && !kept.contains(name) {
      kept.append(name)
    }
    for upstream in upstreams where !DNSUpstream.isIPAddress(upstream.address) || !(1...65535).contains(upstream.port) {
      throw BerthError(.invalidArgument, "DNS upstream \(quoted(upstream.description)) of container \(containerID) is not an IP address and port; pass the addresses given to --dns")
    }
    try update(networkID: networkID) { records in
      records.removeAll { $0.containerID == containerID }
      records.append(DNSRecord(containerID: containerID, names: kept, ipv4: ipv4, upstreams: upstreams))
    }
  }

  /// Removes the container's names; nothing happens when it has none.
  public func unregister(networkID: String, containerID: String) throws {
    try Self.validate(networkID: networkID)
    guard FS.exists(recordsPath(networkID: networkID)) else { return }
    try update(networkID: networkID) { records in
      records.removeAll { $0.containerID == containerID }
    }
  }

  /// The network's records; none when the file does not exist.
  public func records(networkID: String) throws -> [DNSRecord] {
    try Self.validate(networkID: networkID)
    let path = recordsPath(networkID: networkID)
    guard FS.exists(path) else { return [] }
    return Self.parse(try FS.read(path))
  }

  /// Holds the lock while `change` edits the records, then writes them back.
  private func update(networkID: String, _ change: (inout [DNSRecord]) -> Void) throws {
    let directory = directory(networkID: networkID)
    try FS.makeDirectories(directory, mode: 0o755)
    let lockPath = directory + "/dns-records.lock"
    let lock = try OwnedFD.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, mode: 0o644)
    try check("lock \(lockPath)") { flock(lock.raw, LOCK_EX) }
    defer { _ = flock(lock.raw, LOCK_UN) }
    let path = recordsPath(networkID: networkID)
    var records = FS.exists(path) ? Self.parse(try FS.read(path)) : []
    change(&records)
    try FS.writeAtomically(path, Array(Self.format(records).utf8), mode: 0o644)
  }

  static func format(_ records: [DNSRecord]) -> String {
    records.map { record in
      var fields = [record.containerID, record.ipv4] + record.names
      if !record.upstreams.isEmpty { fields.append(upstreamsPrefix + record.upstreams.map(\.description).joined(separator: ",")) }
      return fields.joined(separator: " ") + "\n"
    }.joined()
  }

  static func parse(_ bytes: [UInt8]) -> [DNSRecord] {
    var records: [DNSRecord] = []
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
      let fields = line.split(separator: " ").map(String.init)
      guard fields.count >= 2 else { continue }
      var names = Array(fields.dropFirst(2))
      var upstreams: [DNSUpstream] = []
      if let last = names.last, last.hasPrefix(upstreamsPrefix) {
        names.removeLast()
        upstreams = last.dropFirst(upstreamsPrefix.count).split(separator: ",").compactMap { DNSUpstream.parse(String($0)) }
      }
      records.append(DNSRecord(containerID: fields[0], names: names, ipv4: fields[1], upstreams: upstreams))
    }
    return records
  }

  static func validate(networkID: String) throws {
    guard isToken(networkID), !networkID.contains("/"), networkID != ".", networkID != ".." else {
      throw BerthError(.invalidArgument, "network ID \(quoted(networkID)) is not valid for DNS records: it must be a plain name")
    }
  }

  static func isToken(_ text: String) -> Bool {
    !text.isEmpty && !text.utf8.contains { $0 <= 0x20 || $0 == 0x7F }
  }

  static func isIPv4(_ text: String) -> Bool {
    var address = in_addr()
    return inet_pton(AF_INET, text, &address) == 1
  }
}
