import BerthJSON
import BerthOCI
import BerthOS
#if canImport(Glibc)
import Glibc
#endif

/// Which registries Berth talks to over plain HTTP, and which mirrors it tries first.
///
/// Read from `/etc/berth/registries.json`, or from the file named by the environment variable
/// `BERTH_REGISTRIES_CONFIG`, or from a path given to ``load(path:environment:)``. A missing
/// file means the defaults: HTTPS everywhere except loopback hosts. The format:
///
/// ```json
/// {
///   "insecure": ["myhost:5000", "10.0.0.7:5000"],
///   "mirrors": {
///     "docker.io": ["mirror.example.com", "http://10.0.0.8:5000"]
///   }
/// }
/// ```
///
/// - `insecure`: registry hosts (`host` or `host:port`, as in image references) reached over
///   plain HTTP. Loopback hosts (`localhost`, `127.0.0.0/8`, `::1`) always are.
/// - `mirrors`: for a registry domain (`docker.io` for Docker Hub), the hosts tried in order
///   before it when pulling; an entry may name its scheme (`http://`, `https://`), otherwise
///   the insecure and loopback rules pick it. A mirror that fails is skipped; pushes always go
///   to the registry itself.
///
/// Unknown keys are ignored, so the file can grow.
public struct RegistriesConfig: Sendable, Equatable {
  /// Hosts reached over plain HTTP (besides loopback hosts).
  public var insecure: [String]
  /// Mirrors per registry domain, tried in order for pulls.
  public var mirrors: [String: [String]]

  /// The system-wide file.
  public static let defaultPath = "/etc/berth/registries.json"
  /// The environment variable that names another file.
  public static let environmentVariable = "BERTH_REGISTRIES_CONFIG"

  public init(insecure: [String] = [], mirrors: [String: [String]] = [:]) {
    self.insecure = insecure
    self.mirrors = mirrors
  }

  /// Reads the configuration: `path` if given, else `$BERTH_REGISTRIES_CONFIG`, else
  /// `/etc/berth/registries.json`. A missing file gives the defaults; an unreadable or
  /// malformed one throws, naming the file and the field.
  public static func load(path: String? = nil, environment: [String: String]? = nil) throws -> RegistriesConfig {
    let chosen = path ?? (environment ?? currentEnvironment())[environmentVariable] ?? defaultPath
    guard FS.exists(chosen) else { return RegistriesConfig() }
    let bytes: [UInt8]
    do {
      bytes = try FS.read(chosen)
    } catch let error as BerthError {
      throw BerthError(.invalidArgument, "read registries configuration: \(error.message)")
    }
    return try parse(bytes, source: chosen)
  }

  /// ``load(path:environment:)`` that falls back to the defaults when the file cannot be read
  /// (for default arguments; commands that want to report the problem call `load` directly).
  public static func loadOrDefault() -> RegistriesConfig {
    (try? load()) ?? RegistriesConfig()
  }

  /// Parses the file's content; `source` names it in errors.
  public static func parse(_ bytes: [UInt8], source: String = "registries.json") throws -> RegistriesConfig {
    struct File: Decodable {
      var insecure: [String]?
      var mirrors: [String: [String]]?
    }
    let file: File
    do {
      file = try JSON.decode(File.self, from: bytes)
    } catch {
      throw BerthError(.invalidArgument, "\(source): \(error)")
    }
    var config = RegistriesConfig(insecure: file.insecure ?? [], mirrors: file.mirrors ?? [:])
    config.insecure = config.insecure.map(Self.hostOnly)
    return config
  }

  /// How to reach `host` (a reference's domain, such as "docker.io" or "127.0.0.1:5000").
  public func hostConfig(for host: String) -> RegistryHostConfig {
    let apiHost = host == ImageReference.dockerHubDomain ? ImageReference.dockerHubAPIHost : host
    let mirrorList = (mirrors[host] ?? []).map { endpoint(forMirror: $0) }
    return RegistryHostConfig(
      host: host, apiHost: apiHost, scheme: scheme(for: apiHost, named: host), mirrors: mirrorList)
  }

  func scheme(for apiHost: String, named host: String) -> String {
    if Self.isLoopback(apiHost) || insecure.contains(host) || insecure.contains(apiHost) { return "http" }
    return "https"
  }

  func endpoint(forMirror entry: String) -> RegistryEndpoint {
    if entry.hasPrefix("http://") || entry.hasPrefix("https://") {
      let scheme = entry.hasPrefix("http://") ? "http" : "https"
      let host = Self.hostOnly(entry)
      return RegistryEndpoint(scheme: scheme, host: host)
    }
    let host = Self.hostOnly(entry)
    return RegistryEndpoint(scheme: scheme(for: host, named: host), host: host)
  }

  /// "https://host:5000/v2/" → "host:5000".
  static func hostOnly(_ entry: String) -> String {
    var text = Substring(entry)
    if let range = text.range(of: "://") { text = text[range.upperBound...] }
    if let slash = text.firstIndex(of: "/") { text = text[..<slash] }
    return String(text)
  }

  /// Whether `host` (with or without a port) is a loopback name or address.
  public static func isLoopback(_ host: String) -> Bool {
    var name = Substring(host)
    if name.hasPrefix("[") {
      if let close = name.firstIndex(of: "]") { name = name[name.index(after: name.startIndex)..<close] }
    } else if let colon = name.lastIndex(of: ":"), name.firstIndex(of: ":") == colon {
      name = name[..<colon]
    }
    if name == "localhost" || name.hasSuffix(".localhost") || name == "::1" { return true }
    let octets = name.split(separator: ".", omittingEmptySubsequences: false)
    return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
  }

  static func currentEnvironment() -> [String: String] {
    var result: [String: String] = [:]
    var pointer = environ
    while let entry = pointer.pointee {
      let text = String(cString: entry)
      if let equals = text.firstIndex(of: "=") {
        result[String(text[..<equals])] = String(text[text.index(after: equals)...])
      }
      pointer += 1
    }
    return result
  }
}

/// Where one registry's API lives: scheme and host[:port].
public struct RegistryEndpoint: Sendable, Equatable, Hashable, CustomStringConvertible {
  /// "http" or "https".
  public var scheme: String
  /// "registry-1.docker.io", "127.0.0.1:5000".
  public var host: String

  public init(scheme: String, host: String) {
    self.scheme = scheme
    self.host = host
  }

  /// "https://registry-1.docker.io".
  public var baseURL: String { scheme + "://" + host }
  public var description: String { baseURL }
}

/// How Berth reaches one registry, as ``RegistriesConfig/hostConfig(for:)`` decides.
public struct RegistryHostConfig: Sendable, Equatable {
  /// The registry as references name it ("docker.io", "127.0.0.1:5000").
  public var host: String
  /// The host serving its API ("registry-1.docker.io" for Docker Hub).
  public var apiHost: String
  /// "http" (loopback and insecure hosts) or "https".
  public var scheme: String
  /// Mirrors tried first when pulling.
  public var mirrors: [RegistryEndpoint]

  public init(host: String, apiHost: String, scheme: String, mirrors: [RegistryEndpoint] = []) {
    self.host = host
    self.apiHost = apiHost
    self.scheme = scheme
    self.mirrors = mirrors
  }

  /// The registry's own endpoint.
  public var endpoint: RegistryEndpoint { RegistryEndpoint(scheme: scheme, host: apiHost) }
  /// Whether the registry is reached over plain HTTP.
  public var isPlainHTTP: Bool { scheme == "http" }
}
