import BerthOS
import Synchronization

/// The records of the other networks under the same run root. A container on networks A and
/// B asks A's server (the first nameserver in its resolv.conf) for the names of B too, as
/// Docker resolves every network a container is on; the server answers those only to a client
/// whose address is registered on A by a container that B also lists.
final class DNSPeerNetworks: Sendable {
  let networksDirectory: String
  let ownNetworkID: String
  private let tables = Mutex<[String: DNSNameTable]>([:])

  init(runRoot: String, ownNetworkID: String) {
    networksDirectory = runRoot + "/networks"
    self.ownNetworkID = ownNetworkID
  }

  /// The snapshots of the other networks on which one of `containerIDs` is registered.
  func snapshots(withAny containerIDs: [String]) -> [DNSNameTable.Snapshot] {
    guard !containerIDs.isEmpty, let entries = try? FS.list(networksDirectory) else { return [] }
    var result: [DNSNameTable.Snapshot] = []
    for networkID in entries.sorted() where networkID != ownNetworkID && (try? DNSRecordStore.validate(networkID: networkID)) != nil {
      let path = networksDirectory + "/" + networkID + "/dns-records"
      guard FS.exists(path) else { continue }
      let table = tables.withLock { tables in
        if let table = tables[networkID] { return table }
        let table = DNSNameTable(path: path)
        tables[networkID] = table
        return table
      }
      let snapshot = table.current()
      if containerIDs.contains(where: snapshot.containerIDs.contains) { result.append(snapshot) }
    }
    return result
  }
}
