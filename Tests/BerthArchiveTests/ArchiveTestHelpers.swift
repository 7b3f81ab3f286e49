import BerthArchive
import BerthOCI
import BerthOS
import BerthTestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Why tests that create devices, chown files or set trusted.* attributes skip.
let rootOnly = Testing.ConditionTrait.enabled(
  if: ArchiveFixtures.isRoot, "needs root: devices, owners and trusted.* xattrs")

/// A tar stream built in memory with `TarWriter`.
func makeTar(
  compression: LayerCompression = .none, _ build: (TarWriter) throws -> Void
) throws -> (bytes: [UInt8], result: TarWriteResult) {
  var bytes: [UInt8] = []
  let writer = try TarWriter(compression: compression) { bytes.append(contentsOf: $0) }
  try build(writer)
  let result = try writer.finish()
  return (bytes, result)
}

/// Feeds `bytes` to a `LayerUnpacker` in chunks of `chunkSize` (or the sizes `chunkSizes`
/// yields) and finishes it.
func unpack(
  _ bytes: [UInt8], into destination: String, compression: LayerCompression? = nil,
  options: UnpackOptions = .init(), chunkSizes: (() -> Int)? = nil
) async throws -> LayerUnpackResult {
  let unpacker = try LayerUnpacker(destination: destination, compression: compression, options: options)
  // One copy that outlives every write: the pointer API gets slices of it, the array API
  // copies; chunks alternate between the two.
  let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
  defer { memory.deallocate() }
  bytes.withUnsafeBytes { memory.copyMemory(from: $0) }
  var offset = 0
  var chunk = 0
  do {
    while offset < bytes.count {
      let size = max(1, min(chunkSizes?() ?? 65536, bytes.count - offset))
      if chunk % 2 == 0 {
        try await unpacker.write(UnsafeRawBufferPointer(rebasing: memory[offset..<(offset + size)]))
      } else {
        try await unpacker.write(Array(bytes[offset..<(offset + size)]))
      }
      offset += size
      chunk += 1
    }
  } catch {
    await unpacker.cancel()
    throw error
  }
  return try await unpacker.finish()
}

/// Writes `bytes` to a new file at `path`.
func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
  try FS.write(path, bytes, mode: mode)
}

/// A scratch directory with an empty `dest` inside, removed after `body`.
func withDestination<R>(_ body: (_ base: String, _ dest: String) async throws -> R) async throws -> R {
  try await ArchiveFixtures.withTemporaryDirectory("unpack") { base in
    let dest = base + "/dest"
    try FS.makeDirectories(dest)
    return try await body(base, dest)
  }
}

/// Deterministic pseudo-random bytes.
func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
  var state = seed &+ 0x9E37_79B9_7F4A_7C15
  var result = [UInt8](repeating: 0, count: count)
  for index in 0..<count {
    state ^= state << 13
    state ^= state >> 7
    state ^= state << 17
    result[index] = UInt8(truncatingIfNeeded: state)
  }
  return result
}

/// A seeded generator for chunk sizes.
struct SeededGenerator: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state ^= state << 13
    state ^= state >> 7
    state ^= state << 17
    return state
  }
}

func lstatOrNil(_ path: String) -> stat? {
  var info = stat()
  return lstat(path, &info) == 0 ? info : nil
}

/// A valid VFS_CAP_REVISION_2 `security.capability` value granting CAP_NET_BIND_SERVICE
/// (permitted and effective).
let netBindServiceCapability: [UInt8] = [
  0x01, 0x00, 0x00, 0x02,  // magic_etc: revision 2 | effective
  0x00, 0x04, 0x00, 0x00,  // permitted[0]: bit 10
  0x00, 0x00, 0x00, 0x00,  // inheritable[0]
  0x00, 0x00, 0x00, 0x00,  // permitted[1]
  0x00, 0x00, 0x00, 0x00,  // inheritable[1]
]
