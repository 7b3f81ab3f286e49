import Crypto
import NIOCore

// Kept apart from the files that use BerthOCI: Crypto's `Digest` protocol and BerthOCI's
// `Digest` struct share a name.

/// Incremental SHA-256 over ByteBuffers, giving lowercase hex.
struct SHA256Hasher {
  private var hasher = SHA256()

  mutating func update(_ buffer: ByteBuffer) {
    buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
  }

  mutating func update(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
  }

  /// The hex digest (the hasher can't be used afterwards).
  func finalizeHex() -> String {
    Self.hex(hasher.finalize())
  }

  static func hex(of bytes: [UInt8]) -> String {
    var hasher = SHA256Hasher()
    hasher.update(bytes)
    return hasher.finalizeHex()
  }

  static func hex(_ digest: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(64)
    for byte in digest {
      out.append(digits[Int(byte >> 4)])
      out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
  }
}
