/// Answers queries for the containers' names from snapshots of the records (the server's own
/// network first, then other networks the asking container is on); says when a query is for
/// someone else (to forward).
struct DNSAnswerer {
  enum Outcome: Equatable {
    case reply([UInt8])
    case forward
    case drop
  }

  /// The zone a container's name may also be asked in: "web" and "web.dns.berth" are the same.
  static let domain = "dns.berth"
  /// Containers come and go: resolvers must not keep their addresses.
  static let ttl: UInt32 = 0

  let snapshots: [DNSNameTable.Snapshot]

  init(snapshot: DNSNameTable.Snapshot) { snapshots = [snapshot] }
  init(snapshots: [DNSNameTable.Snapshot]) { self.snapshots = snapshots }

  /// What to do with a packet that came over UDP (`udp` true: the answer must fit the client's
  /// buffer, 512 bytes or its EDNS size) or TCP.
  func respond(to packet: [UInt8], udp: Bool) -> Outcome {
    let query: DNSMessage
    do {
      query = try DNSMessage.decode(packet)
    } catch {
      guard let header = DNSMessage.peekHeader(packet), header.flags & 0x8000 == 0 else { return .drop }
      let reply = DNSMessage(id: header.id, flags: DNSMessage.responseFlags(to: header.flags, rcode: DNSMessage.rcodeFormatError, authoritative: false))
      return .reply(reply.encode())
    }
    if query.isResponse { return .drop }
    guard query.opcode == 0 else { return .reply(error(query, DNSMessage.rcodeNotImplemented)) }
    guard query.questions.count == 1, let question = query.questions.first else {
      return .reply(error(query, DNSMessage.rcodeFormatError))
    }
    guard question.recordClass == DNSMessage.classIN || question.recordClass == DNSMessage.classANY else { return .forward }
    let name = question.name.lowercased
    if let addresses = addresses(for: name) {
      var answers: [DNSResourceRecord] = []
      if question.type == DNSMessage.typeA || question.type == DNSMessage.typeANY {
        answers = addresses.compactMap { DNSResourceRecord.a(question.name, ipv4: $0, ttl: Self.ttl) }
      }
      // Other types (AAAA, MX...) of a known name: the name exists, it has no such record.
      return .reply(encodeFitting(query, answers: answers, udp: udp))
    }
    if question.type == DNSMessage.typePTR || question.type == DNSMessage.typeANY,
      let address = Self.reverseIPv4(name), let target = snapshots.lazy.compactMap({ $0.names[address] }).first
    {
      let answer = DNSResourceRecord(name: question.name, type: DNSMessage.typePTR, ttl: Self.ttl, data: DNSWriter.uncompressed(DNSName(target)))
      return .reply(encodeFitting(query, answers: [answer], udp: udp))
    }
    return .forward
  }

  /// The addresses of a container name ("web" or "web.dns.berth") in the first snapshot that
  /// has it; nil when no container has it.
  func addresses(for name: String) -> [String]? {
    let suffix = "." + Self.domain
    let short = name.hasSuffix(suffix) ? String(name.dropLast(suffix.count)) : nil
    for snapshot in snapshots {
      if let found = snapshot.addresses[name] { return found }
      if let short, let found = snapshot.addresses[short] { return found }
    }
    return nil
  }

  /// The response; over UDP, answers that do not fit are left out and TC is set (the client
  /// then asks again over TCP).
  private func encodeFitting(_ query: DNSMessage, answers: [DNSResourceRecord], udp: Bool) -> [UInt8] {
    let limit = udp ? Self.udpLimit(of: query) : 65535
    var kept = answers
    while true {
      let truncated = kept.count < answers.count
      let response = DNSMessage(
        id: query.id, flags: DNSMessage.responseFlags(to: query.flags, rcode: DNSMessage.rcodeNoError, authoritative: true, truncated: truncated),
        questions: query.questions, answers: kept)
      let bytes = response.encode()
      if bytes.count <= limit || kept.isEmpty { return bytes }
      kept.removeLast(max(1, (bytes.count - limit) / 16))
    }
  }

  private func error(_ query: DNSMessage, _ rcode: UInt8) -> [UInt8] {
    DNSMessage(id: query.id, flags: DNSMessage.responseFlags(to: query.flags, rcode: rcode, authoritative: false),
               questions: query.questions.count == 1 ? query.questions : []).encode()
  }

  /// 512 bytes, or the size the client's EDNS OPT record offers (RFC 6891), at most 4096.
  static func udpLimit(of query: DNSMessage) -> Int {
    guard let opt = query.additionals.first(where: { $0.type == DNSMessage.typeOPT }) else { return 512 }
    return min(max(512, Int(opt.recordClass)), 4096)
  }

  /// "4.3.2.1.in-addr.arpa" → "1.2.3.4".
  static func reverseIPv4(_ name: String) -> String? {
    let suffix = ".in-addr.arpa"
    guard name.hasSuffix(suffix) else { return nil }
    let parts = name.dropLast(suffix.count).split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4, parts.allSatisfy({ !$0.isEmpty && $0.count <= 3 && UInt8($0) != nil }) else { return nil }
    return parts.reversed().joined(separator: ".")
  }
}
