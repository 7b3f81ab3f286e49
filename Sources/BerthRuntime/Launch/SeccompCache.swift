#if canImport(Glibc)
import Glibc
#endif
import BerthJSON
import BerthOCI
import BerthOS
import BerthSeccomp

/// Compiled seccomp filters kept in the state directory, so that a profile is compiled once:
/// libseccomp takes about 12 ms for Docker's default profile (three architectures), more than
/// the rest of a container start; reading a cached program takes microseconds.
///
/// An entry holds the compiler's identity and the profile's canonical JSON next to the
/// program, and is used only when both match byte for byte: the file name's hash only finds
/// the entry, it does not vouch for it.
struct SeccompCache {
  /// Readable by its owner only (a filter is security policy).
  let directory: String
  static let maximumEntries = 64

  /// Shared by every state directory (--root), so that engines and tests with roots of their
  /// own share compiled profiles: /run/berth-runtime-cache/seccomp for root, else under
  /// $XDG_RUNTIME_DIR; BERTH_RUNTIME_CACHE overrides the parent.
  static var defaultDirectory: String {
    if let custom = getenv("BERTH_RUNTIME_CACHE").map({ String(cString: $0) }), !custom.isEmpty {
      return Path.join(custom, "seccomp")
    }
    if getuid() != 0, let xdg = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), !xdg.isEmpty {
      return Path.join(xdg, "berth-runtime-cache/seccomp")
    }
    return "/run/berth-runtime-cache/seccomp"
  }

  func program(for config: LinuxSeccomp) throws -> SeccompProgram {
    let identity = Array(Seccomp.compilerIdentity.utf8)
    let profile = try JSON.encode(config)
    let path = Path.join(directory, hexadecimal(fnv1a(identity + profile)) + ".bpf")
    if let bytes = try? FS.read(path), let program = SeccompCache.decode(bytes, identity: identity, profile: profile) {
      return program
    }
    let program = try Seccomp.compile(config)
    // A cache that cannot be written only costs the next start its compile time.
    try? store(program, at: path, identity: identity, profile: profile)
    return program
  }

  private func store(_ program: SeccompProgram, at path: String, identity: [UInt8], profile: [UInt8]) throws {
    if mkdir(directory, 0o700) != 0 && errno != EEXIST {
      try FS.makeDirectories(Path.dirname(directory), mode: 0o700)
      if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw BerthError.system("mkdir \(directory)") }
    }
    var entry: [UInt8] = []
    for part in [identity, profile] {
      entry += withUnsafeBytes(of: UInt32(part.count).littleEndian, Array.init)
      entry += part
    }
    entry += program.serialized
    try FS.writeAtomically(path, entry, mode: 0o600)
    try prune()
  }

  /// Keeps the newest entries (by modification time) when there are too many.
  private func prune() throws {
    let names = try FS.list(directory).filter { $0.hasSuffix(".bpf") }
    guard names.count > SeccompCache.maximumEntries else { return }
    var dated: [(name: String, time: Int)] = []
    for name in names {
      var info = stat()
      if stat(Path.join(directory, name), &info) == 0 { dated.append((name, info.st_mtim.tv_sec)) }
    }
    for old in dated.sorted(by: { $0.time < $1.time }).prefix(dated.count - SeccompCache.maximumEntries) {
      unlink(Path.join(directory, old.name))
    }
  }

  /// The program of an entry whose identity and profile match; nil for any other entry.
  static func decode(_ bytes: [UInt8], identity: [UInt8], profile: [UInt8]) -> SeccompProgram? {
    var offset = 0
    func field() -> ArraySlice<UInt8>? {
      guard offset + 4 <= bytes.count else { return nil }
      let length = Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
        | UInt32(bytes[offset + 3]) << 24)
      offset += 4
      guard length <= bytes.count - offset else { return nil }
      defer { offset += length }
      return bytes[offset..<offset + length]
    }
    guard let storedIdentity = field(), storedIdentity.elementsEqual(identity),
          let storedProfile = field(), storedProfile.elementsEqual(profile) else {
      return nil
    }
    return try? SeccompProgram(serialized: Array(bytes[offset...]))
  }

  /// 64-bit FNV-1a: a quick, stable file name for the entry.
  func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
      hash ^= UInt64(byte)
      hash = hash &* 0x0000_0100_0000_01b3
    }
    return hash
  }

  func hexadecimal(_ value: UInt64) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: 16 - text.count) + text
  }
}
