/// One challenge of a `WWW-Authenticate` header: `Bearer realm="…",service="…",scope="…"` or
/// `Basic realm="…"` (RFC 7235).
public struct AuthChallenge: Sendable, Equatable {
  /// The scheme, lowercased: "bearer", "basic".
  public var scheme: String
  /// The parameters, names lowercased.
  public var parameters: [String: String]

  public init(scheme: String, parameters: [String: String] = [:]) {
    self.scheme = scheme.lowercased()
    self.parameters = parameters
  }

  public var realm: String? { parameters["realm"] }
  public var service: String? { parameters["service"] }
  /// The scopes the registry asked for (space-separated in the header).
  public var scopes: [String] {
    (parameters["scope"] ?? "").split(separator: " ").map(String.init)
  }

  /// Parses every challenge of one or more `WWW-Authenticate` header values.
  public static func parse(_ headers: [String]) -> [AuthChallenge] {
    headers.flatMap(parse(_:))
  }

  /// Parses the challenges of one header value.
  public static func parse(_ header: String) -> [AuthChallenge] {
    var scanner = Scanner(Array(header.utf8))
    var challenges: [AuthChallenge] = []
    var current: AuthChallenge?
    while true {
      scanner.skip { $0 == 0x20 || $0 == 0x09 || $0 == UInt8(ascii: ",") }
      if scanner.atEnd { break }
      let token = scanner.token()
      if token.isEmpty { scanner.advance(); continue }
      scanner.skip { $0 == 0x20 || $0 == 0x09 }
      if scanner.peek == UInt8(ascii: "="), current != nil {
        scanner.advance()
        scanner.skip { $0 == 0x20 || $0 == 0x09 }
        let value = scanner.peek == UInt8(ascii: "\"") ? scanner.quoted() : scanner.token()
        current?.parameters[token.lowercased()] = value
      } else {
        if let current { challenges.append(current) }
        current = AuthChallenge(scheme: token)
      }
    }
    if let current { challenges.append(current) }
    return challenges
  }

  struct Scanner {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[index] }
    mutating func advance() { index += 1 }

    mutating func skip(while predicate: (UInt8) -> Bool) {
      while let byte = peek, predicate(byte) { index += 1 }
    }

    /// An RFC 7230 token: up to whitespace, ",", "\"" or "=".
    mutating func token() -> String {
      let start = index
      while let byte = peek, byte > 0x20, byte != UInt8(ascii: ","), byte != UInt8(ascii: "\""),
            byte != UInt8(ascii: "=") {
        index += 1
      }
      return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// A quoted string with backslash escapes; the index is on the opening quote.
    mutating func quoted() -> String {
      index += 1
      var value: [UInt8] = []
      while let byte = peek {
        index += 1
        if byte == UInt8(ascii: "\"") { break }
        if byte == UInt8(ascii: "\\"), let escaped = peek {
          index += 1
          value.append(escaped)
        } else {
          value.append(byte)
        }
      }
      return String(decoding: value, as: UTF8.self)
    }
  }
}
