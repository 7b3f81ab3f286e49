import BerthJSON
import BerthOS

extension BerthError.Code {
  /// The registry wants credentials, or refused the ones given (HTTP 401).
  public static let unauthorized = BerthError.Code("unauthorized")
  /// The credentials are valid but do not allow the operation (HTTP 403).
  public static let denied = BerthError.Code("denied")
  /// The registry rate-limits this client (HTTP 429).
  public static let tooManyRequests = BerthError.Code("tooManyRequests")
  /// The registry failed (HTTP 5xx).
  public static let registryUnavailable = BerthError.Code("registryUnavailable")
  /// The registry cannot be reached (connection refused, DNS, TLS, timeout).
  public static let unreachable = BerthError.Code("unreachable")
  /// Content does not hash to the digest it was asked for or announced with.
  public static let digestMismatch = BerthError.Code("digestMismatch")
  /// A blob ended before its announced size (or ran past it).
  public static let truncated = BerthError.Code("truncated")
  /// A manifest or index is not valid JSON of the right shape.
  public static let malformedManifest = BerthError.Code("malformedManifest")
  /// A manifest in a format Berth does not take (Docker schema 1, unknown media types).
  public static let unsupportedManifest = BerthError.Code("unsupportedManifest")
  /// Any other answer of a registry that does not fit the distribution spec.
  public static let registry = BerthError.Code("registry")
}

/// One entry of a distribution error body: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"…"}]}`.
public struct RegistryErrorDetail: Sendable, Equatable, Decodable {
  public var code: String
  public var message: String?

  public init(code: String, message: String? = nil) {
    self.code = code
    self.message = message
  }

  /// "CODE: message" for each distinct entry.
  static func describe(_ details: [RegistryErrorDetail]) -> [String] {
    var seen: Set<String> = []
    return details.compactMap { detail in
      let text = detail.message.map { "\(detail.code): \($0)" } ?? detail.code
      return seen.insert(text).inserted ? text : nil
    }
  }

  /// The `errors` of a distribution error body; empty when the body is not one.
  public static func parse(_ body: [UInt8]) -> [RegistryErrorDetail] {
    guard !body.isEmpty, let value = try? JSON.parse(body), let errors = value["errors"]?.arrayValue else { return [] }
    return errors.compactMap { entry in
      guard let code = entry["code"]?.stringValue else { return nil }
      return RegistryErrorDetail(code: code, message: entry["message"]?.stringValue)
    }
  }
}

/// What a request was doing, for error messages: "manifest for localhost:5000/x:tag".
struct RequestContext: Sendable {
  /// The registry host as the user named it ("docker.io", "127.0.0.1:5000").
  var host: String
  /// The repository path, when the request is about one.
  var repository: String?
  /// What was asked for: "manifest", "blob", "upload", "login".
  var what: Subject
  /// The tag or digest, for manifests and blobs.
  var reference: String?

  enum Subject: Sendable {
    case manifest, blob, upload, manifestUpload, login, tags, token
  }

  /// "localhost:5000/x:tag", "localhost:5000/x@sha256:…", "localhost:5000/x".
  var target: String {
    var text = host
    if let repository { text += "/" + repository }
    if let reference {
      text += reference.contains(":") && reference.hasPrefix("sha") ? "@" + reference : ":" + reference
    }
    return text
  }

  var repositoryName: String { host + "/" + (repository ?? "") }

  var operation: String {
    switch what {
    case .manifest: return "fetch manifest \(target)"
    case .blob: return "fetch blob \(reference ?? "") from \(repositoryName)"
    case .upload: return "upload blob \(reference ?? "") to \(repositoryName)"
    case .manifestUpload: return "push manifest \(target)"
    case .login: return "log in to \(host)"
    case .tags: return "list tags of \(repositoryName)"
    case .token: return "get a token for \(host)"
    }
  }
}

extension BerthError {
  /// The error for an HTTP answer that is not a success, from the status and the
  /// distribution error body.
  static func registryResponse(status: Int, body: [UInt8], context: RequestContext, retryAfter: String? = nil) -> BerthError {
    let details = RegistryErrorDetail.parse(body)
    let codes = Set(details.map(\.code))
    let detailText = RegistryErrorDetail.describe(details).joined(separator: "; ")
    let suffix = detailText.isEmpty ? "" : " (\(detailText))"

    switch status {
    case 401:
      return BerthError(.unauthorized,
        "\(context.operation): unauthorized: authentication required: run `berth login \(context.host)`\(suffix)")
    case 403:
      return BerthError(.denied,
        "\(context.operation): denied: the registry refuses access to \(context.repositoryName) (HTTP 403)\(suffix)")
    case 404:
      if codes.contains("NAME_UNKNOWN") {
        return BerthError(.notFound, "\(context.operation): repository \(context.repositoryName) not found\(suffix)")
      }
      switch context.what {
      case .manifest:
        if codes.contains("MANIFEST_UNKNOWN") || codes.isEmpty || codes.contains("NOT_FOUND") {
          return BerthError(.notFound, "manifest for \(context.target) not found\(suffix)")
        }
      case .blob:
        return BerthError(.notFound, "blob \(context.reference ?? "") not found in \(context.repositoryName)\(suffix)")
      case .tags:
        return BerthError(.notFound, "repository \(context.repositoryName) not found\(suffix)")
      default:
        break
      }
      return BerthError(.notFound, "\(context.operation): not found (HTTP 404)\(suffix)")
    case 429:
      let wait = retryAfter.map { " (the registry asks to wait \($0) s)" } ?? ""
      return BerthError(.tooManyRequests,
        "\(context.operation): too many requests: the registry rate-limits; try again later\(wait)\(suffix)")
    case 500...599:
      return BerthError(.registryUnavailable,
        "\(context.operation): the registry at \(context.host) failed with HTTP \(status) \(statusText(status))\(suffix)")
    default:
      return BerthError(.registry,
        "\(context.operation): unexpected HTTP \(status) \(statusText(status)) from \(context.host)\(suffix)")
    }
  }

  static func statusText(_ status: Int) -> String {
    switch status {
    case 400: return "Bad Request"
    case 401: return "Unauthorized"
    case 403: return "Forbidden"
    case 404: return "Not Found"
    case 405: return "Method Not Allowed"
    case 409: return "Conflict"
    case 412: return "Precondition Failed"
    case 413: return "Payload Too Large"
    case 416: return "Range Not Satisfiable"
    case 429: return "Too Many Requests"
    case 500: return "Internal Server Error"
    case 502: return "Bad Gateway"
    case 503: return "Service Unavailable"
    case 504: return "Gateway Timeout"
    default: return ""
    }
  }
}
