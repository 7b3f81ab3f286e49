#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import BerthTestSupport
import Testing
@testable import BerthNetwork

@Suite("DNS record store")
struct DNSRecordStoreTests {
  @Test("register, replace, unregister (twice), and what the file holds")
  func lifecycle() async throws {
    try await DNSTestNet.withRunRoot { runRoot in
      let store = DNSRecordStore(runRoot: runRoot)
      #expect(try store.records(networkID: "n1").isEmpty)
      try store.register(networkID: "n1", containerID: "aaa", names: ["web", "alias", "web", "bad name", ""], ipv4: "10.89.0.2")
      try store.register(networkID: "n1", containerID: "bbb", names: ["db"], ipv4: "10.89.0.3")
      #expect(try store.records(networkID: "n1") == [
        DNSRecord(containerID: "aaa", names: ["web", "alias"], ipv4: "10.89.0.2"),
        DNSRecord(containerID: "bbb", names: ["db"], ipv4: "10.89.0.3"),
      ])
      #expect(try FS.readText(runRoot + "/networks/n1/dns-records") == "aaa 10.89.0.2 web alias\nbbb 10.89.0.3 db\n")
      try store.register(networkID: "n1", containerID: "aaa", names: ["web2"], ipv4: "10.89.0.9")
      #expect(try store.records(networkID: "n1").map(\.names) == [["db"], ["web2"]])
      try store.unregister(networkID: "n1", containerID: "aaa")
      try store.unregister(networkID: "n1", containerID: "aaa")
      try store.unregister(networkID: "other", containerID: "aaa")
      #expect(try store.records(networkID: "n1").map(\.containerID) == ["bbb"])
      #expect(!FS.exists(runRoot + "/networks/other"), "unregister on an unknown network creates nothing")
    }
  }

  @Test("a container's upstreams are the line's last field; lines without it (older builds) still parse")
  func upstreams() async throws {
    try await DNSTestNet.withRunRoot { runRoot in
      let store = DNSRecordStore(runRoot: runRoot)
      let path = runRoot + "/networks/n1/dns-records"
      // An older build's file, as it wrote it.
      try FS.makeDirectories(runRoot + "/networks/n1")
      try FS.write(path, "old 10.89.0.3 db alias\n")
      let upstreams = [DNSUpstream(address: "192.0.2.53"), DNSUpstream(address: "fd00::53", port: 5353)]
      try store.register(
        networkID: "n1", containerID: "new", names: ["web", "upstreams=evil"], ipv4: "10.89.0.2", upstreams: upstreams)
      #expect(try FS.readText(path) == "old 10.89.0.3 db alias\nnew 10.89.0.2 web upstreams=192.0.2.53:53,[fd00::53]:5353\n")
      #expect(try store.records(networkID: "n1") == [
        DNSRecord(containerID: "old", names: ["db", "alias"], ipv4: "10.89.0.3"),
        DNSRecord(containerID: "new", names: ["web"], ipv4: "10.89.0.2", upstreams: upstreams),
      ])
      let snapshot = DNSNameTable.load(try FS.read(path))
      #expect(snapshot.upstreams == ["10.89.0.2": upstreams])
      #expect(snapshot.addresses["web"] == ["10.89.0.2"] && snapshot.addresses.count == 3, "the field is no name")
      // Names only, no upstreams: the old line form.
      try store.register(networkID: "n1", containerID: "new", names: ["web"], ipv4: "10.89.0.2")
      #expect(try FS.readText(path) == "old 10.89.0.3 db alias\nnew 10.89.0.2 web\n")
      do {
        try store.register(networkID: "n1", containerID: "bad", names: ["x"], ipv4: "10.89.0.4", upstreams: [DNSUpstream(address: "resolver")])
        Issue.record("an upstream that is not an IP address was taken")
      } catch let error as BerthError {
        #expect(error.message.contains("resolver"))
      }
    }
  }

  @Test("bad input is refused with a message that names it")
  func refusals() async throws {
    try await DNSTestNet.withRunRoot { runRoot in
      let store = DNSRecordStore(runRoot: runRoot)
      #expect(throws: BerthError.self) { try store.register(networkID: "n", containerID: "c", names: ["x"], ipv4: "10.0.0.300") }
      #expect(throws: BerthError.self) { try store.register(networkID: "../up", containerID: "c", names: ["x"], ipv4: "10.0.0.3") }
      #expect(throws: BerthError.self) { try store.register(networkID: "n", containerID: "a b", names: ["x"], ipv4: "10.0.0.3") }
      do {
        try store.register(networkID: "n", containerID: "c", names: ["x"], ipv4: "fe80::1")
      } catch let error as BerthError {
        #expect(error.message.contains("fe80::1") && error.message.contains("IPv4"))
      }
    }
  }

  @Test("parallel registrations are all kept (the file lock serializes writers)")
  func parallel() async throws {
    try await DNSTestNet.withRunRoot { runRoot in
      let store = DNSRecordStore(runRoot: runRoot)
      try await withThrowingTaskGroup(of: Void.self) { group in
        for index in 0..<40 {
          group.addTask {
            try store.register(networkID: "busy", containerID: "c\(index)", names: ["n\(index)"], ipv4: "10.9.0.\(index + 2)")
          }
        }
        try await group.waitForAll()
      }
      #expect(try store.records(networkID: "busy").count == 40)
      try await withThrowingTaskGroup(of: Void.self) { group in
        for index in 0..<40 where index % 2 == 0 {
          group.addTask { try store.unregister(networkID: "busy", containerID: "c\(index)") }
        }
        try await group.waitForAll()
      }
      #expect(Set(try store.records(networkID: "busy").map(\.containerID)) == Set((0..<40).filter { $0 % 2 == 1 }.map { "c\($0)" }))
    }
  }
}

@Suite("DNS name table reload")
struct DNSNameTableTests {
  @Test("a same-size rewrite in the same clock tick is seen; a settled file is not read again while its stat holds")
  func reload() async throws {
    try await DNSTestNet.withRunRoot { directory in
      let path = directory + "/dns-records"
      let table = DNSNameTable(path: path)
      #expect(table.current().recordCount == 0)
      try FS.write(path, "c1 10.0.0.2 aaa\n")
      #expect(table.current().addresses["aaa"] == ["10.0.0.2"])
      // In place: same inode, same size, most likely the same mtime.
      try FS.write(path, "c1 10.0.0.3 bbb\n")
      #expect(table.current().addresses["bbb"] == ["10.0.0.3"])
      #expect(table.current().addresses["aaa"] == nil)

      // Settled (mtime 10 s ago): the stat is trusted, so content changed behind an identical
      // stat goes unseen; a real change of mtime is seen.
      func setMtime(_ seconds: Int) {
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, path, &times, 0)
      }
      let old = Int(time(nil)) - 10
      setMtime(old)
      #expect(table.current().addresses["bbb"] == ["10.0.0.3"])
      try FS.write(path, "c1 10.0.0.4 ccc\n")
      setMtime(old)
      #expect(table.current().addresses["bbb"] == ["10.0.0.3"], "one stat per query, no read")
      setMtime(old + 1)
      #expect(table.current().addresses["ccc"] == ["10.0.0.4"])
      unlink(path)
      #expect(table.current().recordCount == 0)
    }
  }
}
