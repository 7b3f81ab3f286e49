import BerthOCI
import Crypto

/// SHA-256 over data that arrives in pieces: a blob streaming from a registry, a layer being
/// written. Feed it with `update`, then read `digest`.
///
/// ```swift
/// var digest = StreamingDigest()
/// for chunk in chunks { digest.update(chunk) }
/// guard digest.finalize() == expected else { throw ... }
/// ```
// @unchecked: swift-crypto's SHA256 is a copy-on-write value that does not declare Sendable.
public struct StreamingDigest: @unchecked Sendable {
  private var hasher = SHA256()
  /// How many bytes went in so far.
  public private(set) var byteCount: Int64 = 0

  public init() {}

  /// Adds bytes to the hash.
  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    hasher.update(bufferPointer: bytes)
    byteCount += Int64(bytes.count)
  }

  /// Adds bytes to the hash.
  public mutating func update(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { update($0) }
  }

  /// The digest of everything added so far ("sha256:<hex>"). The hasher can keep going: a
  /// later call covers the bytes added in between as well.
  public func finalize() -> BerthOCI.Digest {
    Digest(algorithm: "sha256", encoded: hexString(hasher.finalize()))
  }
}

/// Lowercase hex of a byte sequence (digests' text form).
public func hexString(_ bytes: some Sequence<UInt8>) -> String {
  let digits = Array("0123456789abcdef".utf8)
  var out: [UInt8] = []
  out.reserveCapacity(64)
  for byte in bytes {
    out.append(digits[Int(byte >> 4)])
    out.append(digits[Int(byte & 0x0f)])
  }
  return String(decoding: out, as: UTF8.self)
}
