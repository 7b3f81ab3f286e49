import BerthOS
import Testing
@testable import BerthNetwork

@Suite("DNS codec")
struct DNSCodecTests {
  @Test("a query survives encode and decode")
  func queryRoundTrip() throws {
    let query = DNSTestNet.query("Web.Example.COM", type: DNSMessage.typeAAAA, id: 0xBEEF)
    let bytes = query.encode()
    #expect(bytes.count == 12 + 17 + 4)
    #expect(Array(bytes[0..<4]) == [0xBE, 0xEF, 0x01, 0x00])
    let decoded = try DNSMessage.decode(bytes)
    #expect(decoded == query)
    #expect(decoded.questions[0].name.description == "Web.Example.COM")
    #expect(decoded.questions[0].name.lowercased == "web.example.com")
    #expect(decoded.recursionDesired && !decoded.isResponse)
  }

  @Test("answers for the question's name are compressed to a pointer at offset 12")
  func answerCompression() throws {
    let name = DNSName("db.dns.berth")
    let answers = ["10.1.0.2", "10.1.0.3", "10.1.0.4"].compactMap { DNSResourceRecord.a(DNSName("DB.dns.berth"), ipv4: $0, ttl: 0) }
    let response = DNSMessage(
      id: 7, flags: DNSMessage.responseFlags(to: 0x0100, rcode: 0, authoritative: true),
      questions: [DNSQuestion(name: name, type: DNSMessage.typeA)], answers: answers)
    let bytes = response.encode()
    // Header, the question (14-byte name + 4), then 3 answers of pointer (2) + 10 + 4 bytes.
    #expect(bytes.count == 12 + 18 + 3 * 16)
    #expect(Array(bytes[30..<32]) == [0xC0, 0x0C])
    let decoded = try DNSMessage.decode(bytes)
    #expect(DNSTestNet.addresses(decoded) == ["10.1.0.2", "10.1.0.3", "10.1.0.4"])
    // The pointer leads to the question's spelling.
    #expect(decoded.answers[0].name.description == "db.dns.berth")
    #expect(decoded.flags & 0x8400 == 0x8400)
  }

  @Test("a pointer to a suffix written by someone else's encoder")
  func handWrittenPointer() throws {
    var bytes: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]
    bytes += [7] + Array("example".utf8) + [3] + Array("com".utf8) + [0, 0, 1, 0, 1]
    // Answer "www" + pointer to "example.com" at offset 12.
    bytes += [3] + Array("www".utf8) + [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]
    let message = try DNSMessage.decode(bytes)
    #expect(message.answers.count == 1)
    #expect(message.answers[0].name.description == "www.example.com")
    #expect(message.answers[0].ttl == 60)
    #expect(DNSTestNet.addresses(message) == ["1.2.3.4"])
  }

  @Test("malformed packets are errors, not crashes", arguments: [
    ("empty", [UInt8]()),
    ("short header", [0x00, 0x01, 0x01]),
    ("question count without a question", [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
    ("label past the end", [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, 0x61, 0x62]),
    ("pointer to itself", [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1]),
    ("pointer forwards", [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 14, 0, 0, 1, 0, 1]),
    ("cut pointer", [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0]),
    ("reserved label type", [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 1, 0, 1]),
    ("record data past the end", [0, 1, 0x81, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 9, 1]),
  ] as [(String, [UInt8])])
  func malformed(_ label: String, _ bytes: [UInt8]) {
    #expect(throws: BerthError.self, "\(label)") { try DNSMessage.decode(bytes) }
  }

  @Test("a chain of pointers cannot loop: each must go further back")
  func pointerChain() {
    // Offset 12: pointer to 14; offset 14: pointer to 12 (forward first, so refused).
    let bytes: [UInt8] = [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 14, 0xC0, 12, 0, 1, 0, 1]
    #expect(throws: BerthError.self) { try DNSMessage.decode(bytes) }
  }

  @Test("names over 255 bytes are refused")
  func longName() {
    var bytes: [UInt8] = [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    for _ in 0..<5 { bytes += [63] + [UInt8](repeating: 0x61, count: 63) }
    bytes += [0, 0, 1, 0, 1]
    #expect(throws: BerthError.self) { try DNSMessage.decode(bytes) }
  }

  @Test("random and mutated packets never crash the decoder or the answerer")
  func fuzz() {
    var generator = SystemRandomNumberGenerator()
    let valid = DNSTestNet.query("a.b.example").encode()
    let answerer = DNSAnswerer(snapshot: DNSNameTable.load(Array("c1 10.0.0.2 web\n".utf8)))
    var decoded = 0
    for round in 0..<20_000 {
      var bytes: [UInt8]
      if round % 2 == 0 {
        bytes = (0..<Int.random(in: 0..<80, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
      } else {
        bytes = valid
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
          bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
        }
        if Bool.random(using: &generator) { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &generator)) }
      }
      if (try? DNSMessage.decode(bytes)) != nil { decoded += 1 }
      _ = answerer.respond(to: bytes, udp: true)
    }
    // Some mutations only touch IDs or types: those still parse.
    #expect(decoded > 0)
  }
}

@Suite("DNS answers")
struct DNSAnswerTests {
  let answerer = DNSAnswerer(snapshot: DNSNameTable.load(Array("""
    c1 10.89.0.2 web webalias c1short
    c2 10.89.0.3 db shared
    c3 10.89.0.4 cache shared

    """.utf8)))

  func reply(_ query: DNSMessage, udp: Bool = true) throws -> DNSMessage {
    guard case .reply(let bytes) = answerer.respond(to: query.encode(), udp: udp) else {
      Issue.record("no reply to \(query.questions)")
      throw BerthError(.internalError, "no reply")
    }
    return try DNSMessage.decode(bytes)
  }

  @Test("a container's name, alias and short ID, in any case, with or without .dns.berth",
        arguments: ["web", "WEB", "webalias", "c1short", "web.dns.berth", "Web.DNS.Berth"])
  func known(_ name: String) throws {
    let response = try reply(DNSTestNet.query(name, id: 99))
    #expect(response.id == 99)
    #expect(response.isResponse && response.rcode == DNSMessage.rcodeNoError)
    #expect(response.flags & 0x0400 != 0, "authoritative")
    #expect(DNSTestNet.addresses(response) == ["10.89.0.2"])
    #expect(response.answers[0].ttl == DNSAnswerer.ttl)
    #expect(response.questions[0].name.description == name)
  }

  @Test("a name several containers share returns all their addresses")
  func shared() throws {
    #expect(DNSTestNet.addresses(try reply(DNSTestNet.query("shared"))) == ["10.89.0.3", "10.89.0.4"])
  }

  @Test("AAAA and MX of a known name: NOERROR without answers")
  func otherTypes() throws {
    for type: UInt16 in [DNSMessage.typeAAAA, 15] {
      let response = try reply(DNSTestNet.query("db", type: type))
      #expect(response.rcode == DNSMessage.rcodeNoError)
      #expect(response.answers.isEmpty)
    }
  }

  @Test("a reverse lookup of a container's address gives its first name")
  func pointerRecord() throws {
    let response = try reply(DNSTestNet.query("2.0.89.10.in-addr.arpa", type: DNSMessage.typePTR))
    #expect(response.answers.count == 1)
    var reader = DNSReader(bytes: response.answers[0].data)
    #expect(try reader.name().description == "web")
    #expect(answerer.respond(to: DNSTestNet.query("9.0.89.10.in-addr.arpa", type: DNSMessage.typePTR).encode(), udp: true) == .forward)
  }

  @Test("unknown names, and container names under other domains, are forwarded",
        arguments: ["example.com", "web.example.com", "dns.berth", "nosuch"])
  func forwarded(_ name: String) {
    #expect(answerer.respond(to: DNSTestNet.query(name).encode(), udp: true) == .forward)
  }

  @Test("over UDP, answers beyond 512 bytes are cut and TC is set; TCP gets them all")
  func truncation() throws {
    let lines = (1...60).map { "c\($0) 10.0.\($0 / 250).\($0 % 250 + 1) many\n" }.joined()
    let big = DNSAnswerer(snapshot: DNSNameTable.load(Array(lines.utf8)))
    guard case .reply(let udpBytes) = big.respond(to: DNSTestNet.query("many").encode(), udp: true),
      case .reply(let tcpBytes) = big.respond(to: DNSTestNet.query("many").encode(), udp: false)
    else {
      Issue.record("no reply")
      return
    }
    #expect(udpBytes.count <= 512)
    let udp = try DNSMessage.decode(udpBytes), tcp = try DNSMessage.decode(tcpBytes)
    #expect(udp.isTruncated && !tcp.isTruncated)
    #expect(udp.answers.count < 60 && udp.answers.count > 20)
    #expect(tcp.answers.count == 60)
  }

  @Test("two questions: FORMERR; an inverse query: NOTIMP; a response: dropped; garbage with a header: FORMERR")
  func refusals() throws {
    var two = DNSTestNet.query("web")
    two.questions.append(two.questions[0])
    #expect(try reply(two).rcode == DNSMessage.rcodeFormatError)
    var inverse = DNSTestNet.query("web")
    inverse.flags |= 1 << 11
    #expect(try reply(inverse).rcode == DNSMessage.rcodeNotImplemented)
    var response = DNSTestNet.query("web")
    response.flags |= 0x8000
    #expect(answerer.respond(to: response.encode(), udp: true) == .drop)
    guard case .reply(let bytes) = answerer.respond(to: [0, 5, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0], udp: true) else {
      Issue.record("no FORMERR")
      return
    }
    #expect(DNSMessage.peekHeader(bytes)?.id == 5)
    #expect(bytes[3] & 0x0F == DNSMessage.rcodeFormatError)
    #expect(answerer.respond(to: [1, 2, 3], udp: true) == .drop)
  }

  @Test("upstreams from BERTH_DNS_UPSTREAM and resolv.conf")
  func upstreams() {
    #expect(DNSUpstream.configured(environment: "127.0.0.5:5353, 10.0.0.1,[::1]:54,bad:1,1.2.3.4:0") == [
      DNSUpstream(address: "127.0.0.5", port: 5353), DNSUpstream(address: "10.0.0.1", port: 53), DNSUpstream(address: "::1", port: 54),
    ])
    let conf = "# comment\nsearch example.com\nnameserver 10.255.255.53\nnameserver\tfe80::1%eth0\nnameserver bogus\noptions ndots:2\n"
    #expect(DNSUpstream.fromResolvConf(conf) == [DNSUpstream(address: "10.255.255.53"), DNSUpstream(address: "fe80::1")])
  }
}
