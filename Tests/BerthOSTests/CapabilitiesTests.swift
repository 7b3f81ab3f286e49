import BerthOS
import Testing

@Suite("Capabilities")
struct CapabilitiesTests {
  @Test(
    "number accepts names with or without CAP_, in any case",
    arguments: [
      ("CAP_CHOWN", 0), ("chown", 0), ("CAP_KILL", 5), ("cap_kill", 5), ("CAP_NET_BIND_SERVICE", 10),
      ("SYS_ADMIN", 21), ("Cap_Sys_Admin", 21), ("CAP_AUDIT_WRITE", 29), ("CAP_BPF", 39), ("CAP_CHECKPOINT_RESTORE", 40),
    ] as [(String, Int)])
  func number(_ name: String, _ expected: Int) {
    #expect(Capabilities.number(name) == expected)
  }

  @Test("number of an unknown name is nil", arguments: ["", "CAP_", "CAP_BOGUS", "SYS_ADMINX", "CAP_SYS ADMIN", "21"])
  func unknownNumber(_ name: String) {
    #expect(Capabilities.number(name) == nil)
  }

  @Test("the table is in number order and matches the kernel's last capability")
  func table() {
    #expect(Capabilities.all.count == 41)
    #expect(Set(Capabilities.all).count == Capabilities.all.count)
    #expect(Capabilities.all.allSatisfy { $0.hasPrefix("CAP_") })
    #expect(Capabilities.lastCapability() >= 37 && Capabilities.lastCapability() < 64)
  }

  @Test(
    "mask",
    arguments: [
      ([String]?.none, UInt64(0)),
      ([], 0),
      (["CAP_CHOWN"], 0x1),
      (["CAP_CHOWN", "CAP_KILL"], 0x21),
      (["CAP_KILL", "kill", "CAP_KILL"], 0x20),
      (["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"], 0x2000_0420),
      (["CAP_CHECKPOINT_RESTORE"], 1 << 40),
      (Capabilities.all, (1 << 41) - 1),
    ] as [([String]?, UInt64)])
  func mask(_ names: [String]?, _ expected: UInt64) throws {
    #expect(try Capabilities.mask(names, field: "process.capabilities.bounding") == expected)
  }

  @Test("mask of an unknown name is an error naming the field and the name")
  func maskUnknown() {
    let error = #expect(throws: BerthError.self) {
      try Capabilities.mask(["CAP_KILL", "CAP_BOGUS"], field: "process.capabilities.ambient")
    }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.contains("process.capabilities.ambient") == true)
    #expect(error?.message.contains("\"CAP_BOGUS\"") == true)
  }
}
