@testable import BerthRuntime
import BerthJSON
import BerthOCI
import BerthOS
import BerthSeccomp
import Testing

#if canImport(Glibc)
  import Glibc
#endif

@Suite("SeccompCache")
struct SeccompCacheTests {
  static let profile = LinuxSeccomp(
    defaultAction: .allow,
    syscalls: [SeccompSyscall(names: ["mkdir", "mkdirat"], action: .errno, errnoRet: 1)])
  static let otherProfile = LinuxSeccomp(
    defaultAction: .allow,
    syscalls: [SeccompSyscall(names: ["chmod"], action: .errno, errnoRet: 13)])

  /// The cache's one `.bpf` file.
  func entries(_ cache: SeccompCache) throws -> [String] {
    try FS.list(cache.directory).filter { $0.hasSuffix(".bpf") }.sorted()
  }

  func inode(_ path: String) throws -> UInt {
    UInt(try #require(try FS.lstatIfPresent(path)).st_ino)
  }

  /// An entry as the cache writes it: identity, profile, program.
  func entry(identity: [UInt8], profile: [UInt8], program: SeccompProgram) -> [UInt8] {
    var bytes: [UInt8] = []
    for part in [identity, profile] {
      let length = UInt32(part.count)
      bytes += [UInt8(length & 0xff), UInt8(length >> 8 & 0xff), UInt8(length >> 16 & 0xff), UInt8(length >> 24)]
      bytes += part
    }
    return bytes + program.serialized
  }

  @Test("the first call compiles and stores; the second returns an equal program from the stored file")
  func cacheHit() throws {
    try withUnitBundle { dir in
      let cache = SeccompCache(directory: dir + "/cache/seccomp")
      let first = try cache.program(for: Self.profile)
      #expect(first == (try Seccomp.compile(Self.profile)))
      let names = try entries(cache)
      try #require(names.count == 1)
      let path = cache.directory + "/" + names[0]
      #expect(try #require(try FS.lstatIfPresent(cache.directory)).st_mode & 0o777 == 0o700)
      #expect(try #require(try FS.lstatIfPresent(path)).st_mode & 0o777 == 0o600)
      let stored = try FS.read(path)
      let inodeBefore = try inode(path)

      let second = try cache.program(for: Self.profile)
      #expect(second == first)
      // Not rewritten (writeAtomically would give a new inode) ...
      #expect(try inode(path) == inodeBefore)
      #expect(try FS.read(path) == stored)
      #expect(try entries(cache) == names)

      // ... and really read: plant another valid program under the same identity and profile.
      let identity = Array(Seccomp.compilerIdentity.utf8)
      let planted = try Seccomp.compile(Self.otherProfile)
      #expect(planted != first)
      try FS.write(path, entry(identity: identity, profile: try JSON.encode(Self.profile), program: planted))
      #expect(try cache.program(for: Self.profile) == planted)
    }
  }

  @Test("different profiles get different entries")
  func twoProfiles() throws {
    try withUnitBundle { dir in
      let cache = SeccompCache(directory: dir + "/seccomp")
      let a = try cache.program(for: Self.profile)
      let b = try cache.program(for: Self.otherProfile)
      #expect(a != b)
      #expect(try entries(cache).count == 2)
    }
  }

  @Test("an entry whose stored profile differs by one byte is not used, and is rewritten")
  func tamperedProfile() throws {
    try withUnitBundle { dir in
      let cache = SeccompCache(directory: dir + "/seccomp")
      let good = try cache.program(for: Self.profile)
      let path = cache.directory + "/" + (try entries(cache)).joined()
      let original = try FS.read(path)

      // Same length, one byte of the profile changed, and another program behind it: if the
      // entry were trusted, that program would come back.
      let identity = Array(Seccomp.compilerIdentity.utf8)
      var profile = try JSON.encode(Self.profile)
      let index = try #require(profile.firstIndex(of: UInt8(ascii: "1")))  // errnoRet 1 -> 2
      profile[index] = UInt8(ascii: "2")
      try FS.write(path, entry(identity: identity, profile: profile, program: try Seccomp.compile(Self.otherProfile)))
      let inodeBefore = try inode(path)

      #expect(try cache.program(for: Self.profile) == good)
      #expect(try inode(path) != inodeBefore)
      #expect(try FS.read(path) == original)
    }
  }

  @Test("a damaged program in the entry is not used, and is rewritten")
  func damagedProgram() throws {
    try withUnitBundle { dir in
      let cache = SeccompCache(directory: dir + "/seccomp")
      let good = try cache.program(for: Self.profile)
      let path = cache.directory + "/" + (try entries(cache)).joined()
      let original = try FS.read(path)
      var damaged = original
      damaged[damaged.count - 10] ^= 0xff  // an instruction byte: the checksum no longer matches
      try FS.write(path, damaged)
      #expect(try cache.program(for: Self.profile) == good)
      #expect(try FS.read(path) == original)
    }
  }

  @Test("decode: the whole entry decodes; any truncation, another identity or another profile does not")
  func decode() throws {
    let identity = Array(Seccomp.compilerIdentity.utf8)
    let profile = try JSON.encode(Self.profile)
    let program = try Seccomp.compile(Self.profile)
    let bytes = entry(identity: identity, profile: profile, program: program)
    #expect(SeccompCache.decode(bytes, identity: identity, profile: profile) == program)

    let cuts = [0, 1, 3, 4, 5, identity.count + 3, identity.count + 4, identity.count + 8 + profile.count, bytes.count - 8, bytes.count - 1]
    for length in cuts {
      #expect(SeccompCache.decode(Array(bytes.prefix(length)), identity: identity, profile: profile) == nil, "cut to \(length) bytes")
    }
    #expect(SeccompCache.decode(bytes, identity: identity + [0x20], profile: profile) == nil)
    #expect(SeccompCache.decode(bytes, identity: identity, profile: try JSON.encode(Self.otherProfile)) == nil)
    // A length field that points past the end.
    var lying = bytes
    lying[3] = 0x7f
    #expect(SeccompCache.decode(lying, identity: identity, profile: profile) == nil)
  }

  @Test("the cache keeps at most maximumEntries entries, dropping the oldest")
  func prune() throws {
    try withUnitBundle { dir in
      let cache = SeccompCache(directory: dir + "/seccomp")
      try FS.makeDirectories(cache.directory, mode: 0o700)
      let extra = SeccompCache.maximumEntries + 5
      for index in 0..<extra {
        let path = cache.directory + "/old-\(index).bpf"
        try FS.write(path, "stale")
        var times = [timeval(tv_sec: 1_000_000 + index, tv_usec: 0), timeval(tv_sec: 1_000_000 + index, tv_usec: 0)]
        #expect(utimes(path, &times) == 0)
      }
      _ = try cache.program(for: Self.profile)
      let names = try entries(cache)
      #expect(names.count == SeccompCache.maximumEntries)
      #expect(!names.contains("old-0.bpf"))
      #expect(names.contains("old-\(extra - 1).bpf"))
      #expect(names.contains { !$0.hasPrefix("old-") })
    }
  }
}
