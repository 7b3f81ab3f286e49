#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import CLinux

/// The cgroup v2 device controller: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE,
/// assembled here from the rule list and attached to the cgroup directory with
/// BPF_F_ALLOW_MULTI.
///
/// The program gets `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`:
/// the low 16 bits of access_type are the device type (block 1, char 2), the high 16 bits the
/// requested access (mknod 1, read 2, write 4). It returns 1 to allow, 0 to deny.
///
/// Rules are checked from the last to the first, keeping the requested access bits that no
/// rule has decided yet in a register: a matching deny rule that covers a pending bit denies;
/// a matching allow rule clears the bits it covers and allows once none is left. Nothing left
/// to match denies. This gives "per access bit, the last matching rule wins" over a
/// default-deny start, the same result as the v1 kernel's allow/deny lists for ordinary rule
/// lists (see ``DeviceRule``).
///
/// Why written here rather than taken from a library: the program is some twenty
/// instructions, and loading it takes three bpf(2) calls; libbpf would add a dependency and
/// ELF loading to the container start path for no gain.
enum DeviceFilter {
  // bpf(2) commands and constants (linux/bpf.h).
  static let progLoad: Int32 = 5
  static let progAttach: Int32 = 8
  static let progDetach: Int32 = 9
  static let progGetFDByID: Int32 = 13
  static let progQuery: Int32 = 16
  static let progTypeCgroupDevice: UInt32 = 15
  static let attachCgroupDevice: UInt32 = 6
  static let allowMulti: UInt32 = 2
  static let replace: UInt32 = 4
  /// The size of union bpf_attr in the headers this was written against; the kernel accepts a
  /// larger or smaller one as long as unknown trailing bytes are zero.
  static let attrSize = 144

  // MARK: Assembly

  /// One eBPF instruction: opcode, dst_reg (low nibble) and src_reg (high nibble), a signed
  /// 16-bit offset and a signed 32-bit immediate, little-endian on every architecture Berth
  /// supports.
  struct Instruction: Equatable {
    var code: UInt8
    var dst: UInt8 = 0
    var src: UInt8 = 0
    var offset: Int16 = 0
    var imm: Int32 = 0

    func append(to bytes: inout [UInt8]) {
      bytes.append(code)
      bytes.append((src << 4) | (dst & 0x0f))
      let off = UInt16(bitPattern: offset)
      bytes.append(UInt8(off & 0xff)); bytes.append(UInt8(off >> 8))
      let value = UInt32(bitPattern: imm)
      for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8((value >> UInt32(shift)) & 0xff)) }
    }

    // Opcode parts: class | operation | source.
    static let classLDX: UInt8 = 0x01, classALU: UInt8 = 0x04, classJMP: UInt8 = 0x05
    static let sizeW: UInt8 = 0x00, modeMEM: UInt8 = 0x60
    static let opAND: UInt8 = 0x50, opRSH: UInt8 = 0x70, opMOV: UInt8 = 0xb0
    static let opJEQ: UInt8 = 0x10, opJNE: UInt8 = 0x50, opEXIT: UInt8 = 0x90
    static let sourceK: UInt8 = 0x00, sourceX: UInt8 = 0x08

    /// dst = *(u32 *)(src + offset)
    static func loadWord(_ dst: UInt8, _ src: UInt8, _ offset: Int16) -> Instruction {
      Instruction(code: classLDX | sizeW | modeMEM, dst: dst, src: src, offset: offset)
    }
    /// dst = src (32-bit, zero-extends)
    static func move32(_ dst: UInt8, register src: UInt8) -> Instruction {
      Instruction(code: classALU | opMOV | sourceX, dst: dst, src: src)
    }
    /// dst = imm (32-bit)
    static func move32(_ dst: UInt8, _ imm: Int32) -> Instruction {
      Instruction(code: classALU | opMOV | sourceK, dst: dst, imm: imm)
    }
    /// dst &= imm (32-bit)
    static func and32(_ dst: UInt8, _ imm: Int32) -> Instruction {
      Instruction(code: classALU | opAND | sourceK, dst: dst, imm: imm)
    }
    /// dst >>= imm (32-bit)
    static func rsh32(_ dst: UInt8, _ imm: Int32) -> Instruction {
      Instruction(code: classALU | opRSH | sourceK, dst: dst, imm: imm)
    }
    /// if dst != imm goto +offset
    static func jumpIfNotEqual(_ dst: UInt8, _ imm: Int32, _ offset: Int16) -> Instruction {
      Instruction(code: classJMP | opJNE | sourceK, dst: dst, offset: offset, imm: imm)
    }
    /// if dst == imm goto +offset
    static func jumpIfEqual(_ dst: UInt8, _ imm: Int32, _ offset: Int16) -> Instruction {
      Instruction(code: classJMP | opJEQ | sourceK, dst: dst, offset: offset, imm: imm)
    }
    static let exit = Instruction(code: classJMP | opEXIT)
  }

  /// The program for `rules`: a prologue that loads the context, one block per rule (last rule
  /// first), and a final "deny".
  ///
  /// Registers: r1 context, r2 device type, r3 access bits still undecided, r4 major, r5 minor,
  /// r0 scratch and result.
  static func program(_ rules: [DeviceRule]) -> [Instruction] {
    var code: [Instruction] = [
      .loadWord(2, 1, 0),  // r2 = access_type
      .move32(3, register: 2),  // r3 = access_type
      .and32(2, 0xffff),  // r2 = type
      .rsh32(3, 16),  // r3 = requested access
      .loadWord(4, 1, 4),  // r4 = major
      .loadWord(5, 1, 8),  // r5 = minor
    ]
    for rule in rules.reversed() {
      if rule.matchesEverything {
        // Decides everything still pending: nothing after it could run.
        code += [.move32(0, rule.allow ? 1 : 0), .exit]
        return code
      }
      var checks: [(register: UInt8, value: Int32)] = []
      switch rule.kind {
      case .block: checks.append((2, 1))
      case .char: checks.append((2, 2))
      case .all: break
      }
      if let major = rule.major { checks.append((4, Int32(bitPattern: major))) }
      if let minor = rule.minor { checks.append((5, Int32(bitPattern: minor))) }
      let body: [Instruction]
      if rule.allow {
        body = [
          .and32(3, Int32(bitPattern: ~rule.access)),  // these bits are decided: allowed
          .jumpIfNotEqual(3, 0, 2),  // bits left: go on with the next rule
          .move32(0, 1), .exit,
        ]
      } else {
        body = [
          .move32(0, register: 3), .and32(0, Int32(bitPattern: rule.access)),
          .jumpIfEqual(0, 0, 2),  // no pending bit is denied here: next rule
          .move32(0, 0), .exit,
        ]
      }
      let length = checks.count + body.count
      for (index, check) in checks.enumerated() {
        // Not this device: jump past the block.
        code.append(.jumpIfNotEqual(check.register, check.value, Int16(length - index - 1)))
      }
      code += body
    }
    code += [.move32(0, 0), .exit]
    return code
  }

  static func bytes(_ program: [Instruction]) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(program.count * 8)
    for instruction in program { instruction.append(to: &bytes) }
    return bytes
  }

  // MARK: Loading and attaching

  /// Loads the program for `rules` and attaches it to the cgroup directory `cgroup`, replacing
  /// the device programs attached there before (atomically with BPF_F_REPLACE when there was
  /// exactly one).
  static func install(_ rules: [DeviceRule], cgroup dir: String) throws {
    let dirFD = try check("open cgroup directory \(dir)") { open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    defer { close(dirFD) }
    let old = try attachedPrograms(dirFD, dir: dir)
    let program = try load(bytes(program(rules)))
    defer { close(program) }
    if old.count == 1, let oldFD = programFD(id: old[0]) {
      defer { close(oldFD) }
      try attach(program, to: dirFD, dir: dir, replacing: oldFD)
      return
    }
    try attach(program, to: dirFD, dir: dir, replacing: nil)
    for id in old {
      guard let oldFD = programFD(id: id) else { continue }
      defer { close(oldFD) }
      var attr = Attr()
      attr.put32(0, UInt32(bitPattern: dirFD))
      attr.put32(4, UInt32(bitPattern: oldFD))
      attr.put32(8, attachCgroupDevice)
      if attr.call(progDetach) < 0 && errno != ENOENT {
        throw BerthError.system("detach the old device program \(id) from \(dir)")
      }
    }
  }

  /// BPF_PROG_LOAD; on failure loads again with the verifier log to explain why.
  static func load(_ instructions: [UInt8]) throws -> Int32 {
    func attempt(logLevel: UInt32, log: UnsafeMutableBufferPointer<UInt8>?) -> Int32 {
      let license: StaticString = "Apache-2.0"
      return instructions.withUnsafeBufferPointer { insns in
        var attr = Attr()
        attr.put32(0, progTypeCgroupDevice)
        attr.put32(4, UInt32(instructions.count / 8))
        attr.put64(8, UInt64(UInt(bitPattern: insns.baseAddress)))
        attr.put64(16, UInt64(UInt(bitPattern: license.utf8Start)))
        if let log {
          attr.put32(24, logLevel)
          attr.put32(28, UInt32(log.count))
          attr.put64(32, UInt64(UInt(bitPattern: log.baseAddress)))
        }
        attr.putName(48, "berth_devices")
        attr.put32(68, attachCgroupDevice)  // expected_attach_type
        return attr.call(progLoad)
      }
    }
    let fd = attempt(logLevel: 0, log: nil)
    if fd >= 0 { return fd }
    let error = errno
    var detail = ""
    if error == EINVAL || error == EACCES {
      let log = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 65536)
      defer { log.deallocate() }
      log.initialize(repeating: 0)
      let retry = attempt(logLevel: 1, log: log)
      if retry >= 0 { return retry }
      let text = String(decoding: log.prefix { $0 != 0 }, as: UTF8.self)
      let lines = text.split(separator: "\n").suffix(3).joined(separator: "; ")
      if !lines.isEmpty { detail = " (verifier: \(lines))" }
    }
    throw BerthError(.system, "load the eBPF device filter: \(errnoDescription(error))\(detail)", errno: error)
  }

  static func attach(_ program: Int32, to dirFD: Int32, dir: String, replacing old: Int32?) throws {
    var attr = Attr()
    attr.put32(0, UInt32(bitPattern: dirFD))
    attr.put32(4, UInt32(bitPattern: program))
    attr.put32(8, attachCgroupDevice)
    attr.put32(12, allowMulti | (old == nil ? 0 : replace))
    if let old { attr.put32(16, UInt32(bitPattern: old)) }
    if attr.call(progAttach) < 0 {
      throw BerthError.system("attach the eBPF device filter to \(dir)")
    }
  }

  /// The ids of the device programs attached to the cgroup itself (not inherited ones).
  static func attachedPrograms(_ dirFD: Int32, dir: String) throws -> [UInt32] {
    var ids = [UInt32](repeating: 0, count: 64)
    let count: UInt32? = ids.withUnsafeMutableBufferPointer { buffer in
      var attr = Attr()
      attr.put32(0, UInt32(bitPattern: dirFD))
      attr.put32(4, attachCgroupDevice)
      attr.put64(16, UInt64(UInt(bitPattern: buffer.baseAddress)))
      attr.put32(24, UInt32(buffer.count))
      if attr.call(progQuery) < 0 { return nil }
      return attr.get32(24)
    }
    guard let count else { throw BerthError.system("query the device programs of \(dir)") }
    return Array(ids.prefix(Int(min(count, 64))))
  }

  /// A descriptor of a loaded program; nil when it is gone.
  static func programFD(id: UInt32) -> Int32? {
    var attr = Attr()
    attr.put32(0, id)
    let fd = attr.call(progGetFDByID)
    return fd >= 0 ? fd : nil
  }

  /// A zeroed union bpf_attr.
  struct Attr {
    var bytes = [UInt8](repeating: 0, count: DeviceFilter.attrSize)

    mutating func put32(_ offset: Int, _ value: UInt32) {
      for index in 0..<4 { bytes[offset + index] = UInt8((value >> UInt32(index * 8)) & 0xff) }
    }
    mutating func put64(_ offset: Int, _ value: UInt64) {
      for index in 0..<8 { bytes[offset + index] = UInt8((value >> UInt64(index * 8)) & 0xff) }
    }
    mutating func putName(_ offset: Int, _ name: String) {
      for (index, byte) in name.utf8.prefix(15).enumerated() { bytes[offset + index] = byte }
    }
    func get32(_ offset: Int) -> UInt32 {
      (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << UInt32($1 * 8) }
    }
    mutating func call(_ command: Int32) -> Int32 {
      let size = UInt32(bytes.count)
      return bytes.withUnsafeMutableBytes { raw in
        retryOnInterrupt { berth_bpf(command, raw.baseAddress, size) }
      }
    }
  }
}
