#if canImport(Glibc)
import Glibc
#endif
import BerthOS

/// One container's names on a network.
public struct DNSRecord: Sendable, Equatable {
  public var containerID: String
  public var names: [String]
  public var ipv4: String

  public init(containerID: String, names: [String], ipv4: String) {
    self.containerID = containerID
    self.names = names
    self.ipv4 = ipv4
  }
}

/// The names of the containers on one network, kept in runRoot/networks/<networkID>/dns-records:
/// one line per container, `<containerID> <ipv4> <name>...`. Several berth processes may change
/// it at once, so each change holds an flock on dns-records.lock and replaces the file atomically
/// (the DNS server only reads it, and sees the old file or the new).
public struct DNSRecordStore: Sendable {
  public let runRoot: String

  public init(runRoot: String) {
    self.runRoot = runRoot
  }

  public func directory(networkID: String) -> String { runRoot + "/networks/" + networkID }
  public func recordsPath(networkID: String) -> String { directory(networkID: networkID) + "/dns-records" }

  /// Adds or replaces the container's names (a second call for the same container replaces
  /// them). The first name is the one a reverse (PTR) lookup of `ipv4` gives. Names with
  /// spaces or control characters cannot be asked for and are left out.
  public func register(networkID: String, containerID: String, names: [String], ipv4: String) throws {
    try Self.validate(networkID: networkID)
    guard Self.isToken(containerID) else {
      throw BerthError(.invalidArgument, "container ID \(quoted(containerID)) is not valid for DNS records: it must be non-empty without spaces")
    }
    guard Self.isIPv4(ipv4) else {
      throw BerthError(.invalidArgument, "\(quoted(ipv4)) is not an IPv4 address; pass the container's address on network \(networkID)")
    }
    // Names a DNS query cannot carry (spaces, empty) are left out rather than failing the start.
    var kept: [String] = []
    for name in names where Self.isToken(name) && name.utf8.count <= 253 && !kept.contains(name) { kept.append(name) }
    try update(networkID: networkID) { records in
      records.removeAll { $0.containerID == containerID }
      records.append(DNSRecord(containerID: containerID, names: kept, ipv4: ipv4))
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
    records.map { ([$0.containerID, $0.ipv4] + $0.names).joined(separator: " ") + "\n" }.joined()
  }

  static func parse(_ bytes: [UInt8]) -> [DNSRecord] {
    var records: [DNSRecord] = []
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
      let fields = line.split(separator: " ").map(String.init)
      guard fields.count >= 2 else { continue }
      records.append(DNSRecord(containerID: fields[0], names: Array(fields.dropFirst(2)), ipv4: fields[1]))
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
