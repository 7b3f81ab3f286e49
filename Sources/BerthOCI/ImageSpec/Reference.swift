/// A reference to an image in a registry, parsed and normalized by Docker's rules
/// (distribution's reference grammar):
///
/// ```
/// reference       := name [ ":" tag ] [ "@" digest ]
/// name            := [ domain "/" ] path
/// domain          := host [ ":" port ]
/// host            := domain-name | IPv4 address | "[" IPv6 address "]"
/// domain-name     := component ( "." component )*     component := [a-zA-Z0-9] ([a-zA-Z0-9-]* [a-zA-Z0-9])?
/// path            := path-component ( "/" path-component )*
/// path-component  := [a-z0-9]+ ( separator [a-z0-9]+ )*     separator := "." | "_" | "__" | "-"+
/// tag             := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
/// ```
///
/// The first component of the name is a domain when it contains "." or ":", is `localhost`,
/// or has an uppercase letter; otherwise the image is on Docker Hub (`docker.io`), whose
/// single-component names live under `library/`. `index.docker.io` and `registry-1.docker.io`
/// are spelled `docker.io`. A reference with neither tag nor digest gets the tag `latest`;
/// one with both keeps both (the digest decides what is pulled).
///
/// ```swift
/// let ref = try ImageReference(parsing: "busybox")
/// ref.description     // "docker.io/library/busybox:latest"
/// ref.familiarString  // "busybox:latest"
/// ```
public struct ImageReference: Hashable, Sendable, CustomStringConvertible, Codable {
  /// The registry: "docker.io", "localhost:5000", "127.0.0.1:5000", "[::1]:5000".
  public let domain: String
  /// The repository path inside the registry: "library/busybox", "user/app".
  public let path: String
  /// The tag, if any ("latest" when the reference named neither tag nor digest).
  public let tag: String?
  /// The digest, if the reference pins one.
  public let digest: Digest?

  /// Docker Hub's canonical domain.
  public static let dockerHubDomain = "docker.io"
  /// The host that serves Docker Hub's registry API.
  public static let dockerHubAPIHost = "registry-1.docker.io"
  /// The tag a reference without tag or digest gets.
  public static let defaultTag = "latest"
  /// The longest name (domain and path) the grammar allows.
  public static let maximumNameLength = 255

  /// Parses and normalizes a reference such as `busybox`, `user/app:1.0`,
  /// `localhost:5000/x@sha256:…` or `registry.example.com/a/b:tag@sha256:…`.
  public init(parsing text: String) throws(ReferenceError) {
    func fail(_ reason: String) -> ReferenceError { ReferenceError(input: text, reason: reason) }
    guard !text.isEmpty else { throw fail("the reference is empty") }
    if ReferenceGrammar.isImageID(text) {
      throw fail("a 64-character hexadecimal string is an image ID, not a repository name")
    }

    // name[:tag][@digest]: the digest follows the first "@"; the tag follows the last ":"
    // after the last "/" (an earlier ":" belongs to the domain's port).
    var rest = Substring(text)
    var digest: Digest?
    if let at = rest.firstIndex(of: "@") {
      let digestText = String(rest[rest.index(after: at)...])
      rest = rest[..<at]
      digest = try ReferenceGrammar.parseDigest(digestText, fail: fail)
    }
    var tag: String?
    if let colon = rest.lastIndex(of: ":") {
      let afterSlash = rest.lastIndex(of: "/").map { colon > $0 } ?? true
      if afterSlash {
        let tagText = String(rest[rest.index(after: colon)...])
        guard ReferenceGrammar.isValidTag(tagText) else { throw fail(ReferenceGrammar.tagProblem(tagText)) }
        tag = tagText
        rest = rest[..<colon]
      }
    }
    let name = String(rest)
    guard !name.isEmpty else { throw fail("the repository name is empty") }
    guard name.utf8.count <= Self.maximumNameLength else {
      throw fail("the repository name is longer than \(Self.maximumNameLength) characters")
    }

    // Split the domain off the path.
    var domain = Self.dockerHubDomain
    var path = name
    if let slash = name.firstIndex(of: "/") {
      let first = name[..<slash]
      let isDomain = first.contains(".") || first.contains(":") || first == "localhost"
        || first.contains(where: { $0.isASCII && $0.isUppercase })
      if isDomain {
        domain = String(first)
        path = String(name[name.index(after: slash)...])
        try ReferenceGrammar.validateDomain(domain, fail: fail)
      }
    }
    try ReferenceGrammar.validatePath(path, fail: fail)
    if domain == "index.docker.io" || domain == Self.dockerHubAPIHost { domain = Self.dockerHubDomain }
    if domain == Self.dockerHubDomain && !path.contains("/") { path = "library/" + path }

    self.domain = domain
    self.path = path
    self.digest = digest
    self.tag = tag ?? (digest == nil ? Self.defaultTag : nil)
  }

  /// Parses and normalizes a reference (the same as ``init(parsing:)``).
  public static func parse(_ text: String) throws(ReferenceError) -> ImageReference {
    try ImageReference(parsing: text)
  }

  /// The familiar form of a reference string ("docker.io/library/busybox:latest" →
  /// "busybox:latest"); the text itself when it is not a valid reference.
  public static func familiar(_ text: String) -> String {
    (try? ImageReference(parsing: text))?.familiarString ?? text
  }

  /// Builds a reference from its parts, validating each (no normalization besides
  /// spelling Docker Hub `docker.io`).
  public init(domain: String, path: String, tag: String? = nil, digest: Digest? = nil) throws(ReferenceError) {
    let whole = domain + "/" + path + (tag.map { ":" + $0 } ?? "") + (digest.map { "@" + $0.description } ?? "")
    func fail(_ reason: String) -> ReferenceError { ReferenceError(input: whole, reason: reason) }
    try ReferenceGrammar.validateDomain(domain, fail: fail)
    try ReferenceGrammar.validatePath(path, fail: fail)
    if let tag, !ReferenceGrammar.isValidTag(tag) { throw fail(ReferenceGrammar.tagProblem(tag)) }
    guard domain.utf8.count + 1 + path.utf8.count <= Self.maximumNameLength else {
      throw fail("the repository name is longer than \(Self.maximumNameLength) characters")
    }
    let normalizedDomain = (domain == "index.docker.io" || domain == Self.dockerHubAPIHost) ? Self.dockerHubDomain : domain
    self.domain = normalizedDomain
    self.path = path
    self.tag = tag
    self.digest = digest
  }

  private init(unchecked domain: String, path: String, tag: String?, digest: Digest?) {
    self.domain = domain
    self.path = path
    self.tag = tag
    self.digest = digest
  }

  /// The repository's full name: "docker.io/library/busybox".
  public var name: String { domain + "/" + path }

  /// The repository's full name, "docker.io/library/busybox" (the same as ``name``).
  public var repository: String { name }

  /// The full form: "docker.io/library/busybox:latest", "localhost:5000/x@sha256:…".
  public var description: String {
    var text = name
    if let tag { text += ":" + tag }
    if let digest { text += "@" + digest.description }
    return text
  }

  /// The short name Docker shows: "busybox", "user/app", "localhost:5000/x".
  public var familiarName: String {
    guard domain == Self.dockerHubDomain else { return name }
    let prefix = "library/"
    if path.hasPrefix(prefix) {
      let rest = path.dropFirst(prefix.count)
      if !rest.contains("/") { return String(rest) }
    }
    return path
  }

  /// The short form with tag and digest: "busybox:latest", "user/app@sha256:…".
  public var familiarString: String {
    var text = familiarName
    if let tag { text += ":" + tag }
    if let digest { text += "@" + digest.description }
    return text
  }

  /// The host that serves this registry's API ("registry-1.docker.io" for Docker Hub).
  public var apiHost: String { domain == Self.dockerHubDomain ? Self.dockerHubAPIHost : domain }

  /// What the registry's manifest endpoint takes: the digest when there is one, else the tag.
  public var manifestReference: String { digest?.description ?? tag ?? Self.defaultTag }

  /// The same repository with `tag` (a digest, if any, is kept).
  public func withTag(_ tag: String) throws(ReferenceError) -> ImageReference {
    guard ReferenceGrammar.isValidTag(tag) else {
      throw ReferenceError(input: name + ":" + tag, reason: ReferenceGrammar.tagProblem(tag))
    }
    return ImageReference(unchecked: domain, path: path, tag: tag, digest: digest)
  }

  /// The same repository pinned to `digest` (a tag, if any, is kept).
  public func withDigest(_ digest: Digest) -> ImageReference {
    ImageReference(unchecked: domain, path: path, tag: tag, digest: digest)
  }

  /// This reference with the tag `latest` if it has none (a digest is kept).
  public var tagged: ImageReference {
    ImageReference(unchecked: domain, path: path, tag: tag ?? Self.defaultTag, digest: digest)
  }

  /// The same repository with neither tag nor digest (for repository-level operations).
  public var repositoryOnly: ImageReference {
    ImageReference(unchecked: domain, path: path, tag: nil, digest: nil)
  }

  /// The same repository with the digest dropped (the tag, or `latest` if there was none).
  public var withoutDigest: ImageReference {
    ImageReference(unchecked: domain, path: path, tag: tag ?? Self.defaultTag, digest: nil)
  }

  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    do {
      try self.init(parsing: text)
    } catch {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}

/// A string that is not a valid image reference; the description quotes the input and says
/// what is wrong with it.
public struct ReferenceError: Error, CustomStringConvertible, Sendable, Equatable {
  /// The text that was parsed.
  public var input: String
  /// What is wrong, without the input.
  public var reason: String

  public init(input: String, reason: String) {
    self.input = input
    self.reason = reason
  }

  public var description: String { "invalid reference \"\(input)\": \(reason)" }
}

/// The pieces of distribution's reference grammar, checked byte by byte (no regex engine on
/// this module's path).
enum ReferenceGrammar {
  static func isLowerAlnum(_ byte: UInt8) -> Bool {
    (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39)
  }

  static func isAlnum(_ byte: UInt8) -> Bool {
    isLowerAlnum(byte) || (byte >= 0x41 && byte <= 0x5a)
  }

  static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

  static func isHex(_ byte: UInt8) -> Bool {
    isDigit(byte) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
  }

  /// `[\w]`: letters, digits and underscore.
  static func isWord(_ byte: UInt8) -> Bool { isAlnum(byte) || byte == UInt8(ascii: "_") }

  /// 64 lowercase hex digits: what Docker refuses as a name since it reads as an image ID.
  static func isImageID(_ text: String) -> Bool {
    text.utf8.count == 64 && text.utf8.allSatisfy { isDigit($0) || ($0 >= 0x61 && $0 <= 0x66) }
  }

  /// `[\w][\w.-]{0,127}`
  static func isValidTag(_ tag: String) -> Bool {
    let bytes = Array(tag.utf8)
    guard let first = bytes.first, bytes.count <= 128, isWord(first) else { return false }
    return bytes.dropFirst().allSatisfy { isWord($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
  }

  static func tagProblem(_ tag: String) -> String {
    if tag.isEmpty { return "the tag after \":\" is empty" }
    if tag.utf8.count > 128 { return "tag \"\(tag)\" is longer than 128 characters" }
    return "tag \"\(tag)\" is not valid: a tag holds letters, digits, \"_\", \".\" and \"-\" and does not start with \".\" or \"-\""
  }

  /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
  static func isValidPathComponent(_ component: Substring) -> Bool {
    let bytes = Array(component.utf8)
    guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else { return false }
    var index = 0
    while index < bytes.count {
      let byte = bytes[index]
      if isLowerAlnum(byte) { index += 1; continue }
      // A separator: ".", "_", "__" or one or more "-", between alphanumerics.
      var end = index
      switch byte {
      case UInt8(ascii: "."):
        end = index + 1
      case UInt8(ascii: "_"):
        end = index + 1
        if end < bytes.count && bytes[end] == UInt8(ascii: "_") { end += 1 }
      case UInt8(ascii: "-"):
        while end < bytes.count && bytes[end] == UInt8(ascii: "-") { end += 1 }
      default:
        return false
      }
      guard end < bytes.count, isLowerAlnum(bytes[end]) else { return false }
      index = end
    }
    return true
  }

  static func validatePath(_ path: String, fail: (String) -> ReferenceError) throws(ReferenceError) {
    guard !path.isEmpty else { throw fail("the repository path is empty") }
    for component in path.split(separator: "/", omittingEmptySubsequences: false) {
      if component.isEmpty { throw fail("the repository path has an empty component (\"//\", or a leading or trailing \"/\")") }
      if isValidPathComponent(component) { continue }
      if isValidPathComponent(Substring(component.lowercased())) {
        throw fail("repository names must be lowercase")
      }
      throw fail("repository path component \"\(component)\" is not valid: use lowercase letters and digits, separated by \".\", \"_\", \"__\" or \"-\"")
    }
  }

  /// `host[:port]`: a domain name or IPv4 address, or an IPv6 address in brackets.
  static func validateDomain(_ domain: String, fail: (String) -> ReferenceError) throws(ReferenceError) {
    func bad(_ why: String) -> ReferenceError { fail("registry host \"\(domain)\" is not valid: \(why)") }
    var host = Substring(domain)
    if host.hasPrefix("[") {
      guard let close = host.firstIndex(of: "]") else { throw bad("an IPv6 address needs a closing \"]\"") }
      let address = host[host.index(after: host.startIndex)..<close]
      guard !address.isEmpty, address.contains(":"),
            address.utf8.allSatisfy({ isHex($0) || $0 == UInt8(ascii: ":") }) else {
        throw bad("\"\(address)\" is not an IPv6 address")
      }
      host = host[host.index(after: close)...]
      if host.isEmpty { return }
      guard host.hasPrefix(":") else { throw bad("unexpected text after the IPv6 address") }
      try validatePort(host.dropFirst(), bad: bad)
      return
    }
    if let colon = host.firstIndex(of: ":") {
      try validatePort(host[host.index(after: colon)...], bad: bad)
      host = host[..<colon]
    }
    guard !host.isEmpty else { throw bad("the host name is empty") }
    for component in host.split(separator: ".", omittingEmptySubsequences: false) {
      let bytes = Array(component.utf8)
      guard let first = bytes.first, let last = bytes.last else { throw bad("a host name component is empty") }
      guard isAlnum(first), isAlnum(last),
            bytes.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") }) else {
        throw bad("host name components hold letters, digits and inner \"-\"")
      }
    }
  }

  static func validatePort(_ port: Substring, bad: (String) -> ReferenceError) throws(ReferenceError) {
    guard !port.isEmpty, port.utf8.allSatisfy(isDigit) else { throw bad("the port must be a number") }
  }

  /// `algorithm:hex`; Berth takes sha256 (and sha512) digests only.
  static func parseDigest(_ text: String, fail: (String) -> ReferenceError) throws(ReferenceError) -> Digest {
    guard let colon = text.firstIndex(of: ":") else {
      throw fail("digest \"\(text)\" is not valid: expected algorithm:hex, such as sha256: followed by 64 hex digits")
    }
    let algorithm = text[..<colon]
    let encoded = text[text.index(after: colon)...]
    guard let first = algorithm.utf8.first, isAlnum(first), !isDigit(first),
          algorithm.utf8.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: ".")
            || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }) else {
      throw fail("digest \"\(text)\" is not valid: the algorithm \"\(algorithm)\" is not a name")
    }
    guard encoded.utf8.count >= 32, encoded.utf8.allSatisfy(isHex) else {
      throw fail("digest \"\(text)\" is not valid: expected at least 32 hex digits after \"\(algorithm):\"")
    }
    guard algorithm == "sha256" || algorithm == "sha512" else {
      throw fail("digest algorithm \"\(algorithm)\" is not supported: use sha256")
    }
    do {
      return try Digest(parsing: text)
    } catch {
      throw fail("digest \"\(text)\" is not valid: expected \(algorithm): followed by \(algorithm == "sha256" ? 64 : 128) lowercase hex digits")
    }
  }
}
