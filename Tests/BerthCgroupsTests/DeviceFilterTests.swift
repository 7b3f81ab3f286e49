import BerthOCI
import BerthOS
import Testing

@testable import BerthCgroups

/// A tiny interpreter for the eBPF instructions DeviceFilter emits, to check the program's
/// meaning without the kernel.
func runFilter(_ program: [DeviceFilter.Instruction], type: UInt32, access: UInt32, major: UInt32, minor: UInt32) throws -> UInt64 {
  var registers = [UInt64](repeating: 0, count: 11)
  let context: [UInt32] = [type | (access << 16), major, minor]
  var pc = 0
  var steps = 0
  while true {
    steps += 1
    guard pc < program.count, steps < 10_000 else { throw BerthError(.internalError, "ran off the program at \(pc)") }
    let insn = program[pc]
    pc += 1
    let dst = Int(insn.dst), src = Int(insn.src)
    let imm = UInt64(bitPattern: Int64(insn.imm))
    switch insn.code {
    case 0x61:  // ldx w
      guard src == 1, insn.offset % 4 == 0, insn.offset >= 0, insn.offset < 12 else { throw BerthError(.internalError, "bad load") }
      registers[dst] = UInt64(context[Int(insn.offset) / 4])
    case 0xbc: registers[dst] = registers[src] & 0xffff_ffff  // mov32 reg
    case 0xb4: registers[dst] = imm & 0xffff_ffff  // mov32 imm
    case 0x54: registers[dst] = (registers[dst] & imm) & 0xffff_ffff  // and32 imm
    case 0x74: registers[dst] = ((registers[dst] & 0xffff_ffff) >> (imm & 31))  // rsh32 imm
    case 0x55: if registers[dst] != imm { pc += Int(insn.offset) }  // jne imm
    case 0x15: if registers[dst] == imm { pc += Int(insn.offset) }  // jeq imm
    case 0x95: return registers[0]
    default: throw BerthError(.internalError, "unknown opcode \(insn.code)")
    }
  }
}

@Suite("Device rules")
struct DeviceRuleTests {
  static let char: UInt32 = 2, block: UInt32 = 1
  static let m: UInt32 = 1, r: UInt32 = 2, w: UInt32 = 4

  static func rules(_ list: [LinuxDeviceCgroup]) throws -> [DeviceRule] { try DeviceRule.parse(list) }

  @Test func v1Lines() throws {
    let parsed = try Self.rules([
      .init(allow: false, access: "rwm"),
      .init(allow: true, type: "c", major: 1, minor: 3, access: "rwm"),
      .init(allow: true, type: "c", major: 136, minor: -1, access: "rw"),
      .init(allow: true, type: "a", major: 5, minor: 1, access: "m"),
      .init(allow: false, type: "b", major: nil, minor: nil, access: "w"),
    ])
    let lines = DeviceRule.v1Lines(parsed).map { "\($0.index) \($0.line.allow ? "allow" : "deny") \($0.line.text)" }
    #expect(lines == [
      "0 deny a", "1 allow c 1:3 rwm", "2 allow c 136:* rw", "3 allow b 5:1 m", "3 allow c 5:1 m", "4 deny b *:* w",
    ])
  }

  @Test(arguments: [
    (LinuxDeviceCgroup(allow: true, type: "x"), "linux.resources.devices[0].type"),
    (LinuxDeviceCgroup(allow: true, type: "c", access: "rwx"), "linux.resources.devices[0].access"),
    (LinuxDeviceCgroup(allow: true, type: "c", major: -7), "linux.resources.devices[0].major"),
  ])
  func invalid(_ rule: LinuxDeviceCgroup, _ field: String) {
    let message = errorMessage { _ = try DeviceRule.parse([rule]) }
    #expect(message?.hasPrefix(field) == true, "\(message ?? "no error")")
  }

  /// (rules, request type, access, major, minor, allowed)
  static let cases: [(String, [LinuxDeviceCgroup], UInt32, UInt32, UInt32, UInt32, Bool)] = [
    ("no rules deny", [], char, r, 1, 3, false),
    ("deny all, allow null: null read", [.init(allow: false), .init(allow: true, type: "c", major: 1, minor: 3, access: "rwm")], char, r | w, 1, 3, true),
    ("deny all, allow null: zero read", [.init(allow: false), .init(allow: true, type: "c", major: 1, minor: 3, access: "rwm")], char, r, 1, 5, false),
    ("deny all, allow null: block 1:3", [.init(allow: false), .init(allow: true, type: "c", major: 1, minor: 3, access: "rwm")], block, r, 1, 3, false),
    ("allow rw only: mknod denied", [.init(allow: true, type: "c", major: 1, minor: 3, access: "rw")], char, m, 1, 3, false),
    ("allow rw only: rw allowed", [.init(allow: true, type: "c", major: 1, minor: 3, access: "rw")], char, r | w, 1, 3, true),
    ("allow rw only: rwm denied", [.init(allow: true, type: "c", major: 1, minor: 3, access: "rw")], char, r | w | m, 1, 3, false),
    ("split access across rules", [.init(allow: true, type: "c", major: 1, minor: 3, access: "r"), .init(allow: true, type: "c", major: 1, access: "w")], char, r | w, 1, 3, true),
    ("wildcard minor", [.init(allow: true, type: "c", major: 136, minor: -1, access: "rwm")], char, r, 136, 7, true),
    ("allow all", [.init(allow: true)], block, r | w | m, 8, 0, true),
    ("allow all then deny write of 1:5", [.init(allow: true), .init(allow: false, type: "c", major: 1, minor: 5, access: "w")], char, w, 1, 5, false),
    ("allow all then deny write of 1:5, read ok", [.init(allow: true), .init(allow: true), .init(allow: false, type: "c", major: 1, minor: 5, access: "w")], char, r, 1, 5, true),
    ("later deny wins", [.init(allow: true, type: "c", major: 1, minor: 3), .init(allow: false, type: "c", major: 1, minor: 3, access: "r")], char, r, 1, 3, false),
    ("later allow wins", [.init(allow: false, type: "c", major: 1, minor: 3), .init(allow: true, type: "c", major: 1, minor: 3, access: "r")], char, r, 1, 3, true),
    ("deny all at the end wins", [.init(allow: true, type: "c", major: 1, minor: 3), .init(allow: false)], char, r, 1, 3, false),
    ("type a with numbers", [.init(allow: true, type: "a", major: 8, minor: 0, access: "r")], block, r, 8, 0, true),
  ]

  @Test(arguments: cases)
  func program(_ name: String, _ list: [LinuxDeviceCgroup], _ type: UInt32, _ access: UInt32, _ major: UInt32, _ minor: UInt32, _ allowed: Bool) throws {
    let program = DeviceFilter.program(try DeviceRule.parse(list))
    let result = try runFilter(program, type: type, access: access, major: major, minor: minor)
    #expect(result == (allowed ? 1 : 0), "\(name)")
  }

  @Test func encoding() {
    // r2 = *(u32 *)(r1 + 0): opcode 0x61, dst 2 / src 1 → 0x12, offset 0, imm 0.
    #expect(DeviceFilter.bytes([.loadWord(2, 1, 0)]) == [0x61, 0x12, 0, 0, 0, 0, 0, 0])
    // if r4 != 136 goto +3
    #expect(DeviceFilter.bytes([.jumpIfNotEqual(4, 136, 3)]) == [0x55, 0x04, 3, 0, 136, 0, 0, 0])
    // r3 &= ~4 (imm 0xfffffffb)
    #expect(DeviceFilter.bytes([.and32(3, Int32(bitPattern: ~UInt32(4)))]) == [0x54, 0x03, 0, 0, 0xfb, 0xff, 0xff, 0xff])
    #expect(DeviceFilter.bytes([.exit]) == [0x95, 0, 0, 0, 0, 0, 0, 0])
  }

  @Test func allowAllIsShort() throws {
    let program = DeviceFilter.program(try DeviceRule.parse([.init(allow: false), .init(allow: true, type: "c", major: 1, minor: 3), .init(allow: true)]))
    #expect(program.count == 8)  // prologue (6) + "return 1"
  }
}
