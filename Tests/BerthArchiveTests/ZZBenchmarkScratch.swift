// THROWAWAY benchmark (not committed): BERTH_ARCHIVE_BENCH=<layer>:<dest-parent>:<mode>
import BerthArchive
import BerthOS
import BerthOCI
import Testing
#if canImport(Glibc)
  import Glibc
#endif

@Suite("ZZ benchmark scratch")
struct ZZBenchmarkScratch {
  @Test func bench() async throws {
    guard let spec = getenv("BERTH_ARCHIVE_BENCH").map({ String(cString: $0) }) else { return }
    let parts = spec.split(separator: ":").map(String.init)
    let layer = parts[0], parent = parts[1], mode = parts[2]
    let dest = parent + "/out-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FS.makeDirectories(dest)
    let start = Clock.monotonicNanoseconds()
    let result: LayerUnpackResult
    if mode == "file" {
      result = try LayerUnpacker.unpack(file: layer, into: dest, compression: nil)
    } else {
      let fd = try OwnedFD.open(layer, O_RDONLY)
      let unpacker = try LayerUnpacker(destination: dest, compression: nil)
      var buffer = [UInt8](repeating: 0, count: 64 << 10)
      while true {
        let n = buffer.withUnsafeMutableBytes { read(fd.raw, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        try await unpacker.write(Array(buffer[0..<n]))
      }
      result = try await unpacker.finish()
    }
    let elapsed = Double(Clock.monotonicNanoseconds() - start) / 1e9
    print("BENCH \(mode) \(elapsed)s entries=\(result.entries) diffID=\(result.diffID) size=\(result.uncompressedSize) dest=\(dest)")
  }
}

