/// A content digest, "sha256:<64 lowercase hex>" (the only algorithm Berth accepts for now;
/// sha512 digests parse but are refused where content is verified).
public struct Digest: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
  public let algorithm: String
  public let encoded: String

  public init(algorithm: String, encoded: String) {
    self.algorithm = algorithm
    self.encoded = encoded
  }

  /// Parses "sha256:…" (64 hex) or "sha512:…" (128 hex), lowercase as the spec requires.
  public init(parsing text: String) throws {
    guard let colon = text.firstIndex(of: ":") else { throw DigestError(text: text) }
    let algorithm = String(text[..<colon])
    let encoded = String(text[text.index(after: colon)...])
    let expectedLength: Int
    switch algorithm {
    case "sha256": expectedLength = 64
    case "sha512": expectedLength = 128
    default: throw DigestError(text: text)
    }
    guard encoded.utf8.count == expectedLength,
          encoded.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
      throw DigestError(text: text)
    }
    self.init(algorithm: algorithm, encoded: encoded)
  }

  public var description: String { "\(algorithm):\(encoded)" }

  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    try self.init(parsing: text)
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }

  public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }
}

/// A string that is not a digest.
public struct DigestError: Error, CustomStringConvertible {
  public var text: String
  public var description: String { "invalid digest \"\(text)\": expected sha256: followed by 64 lowercase hex digits" }
}
