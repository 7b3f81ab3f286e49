import AsyncHTTPClient
import BerthJSON
import BerthOCI
import BerthOS
import Foundation
import NIOCore
import NIOHTTP1

/// A manifest or index as the registry served it: the exact bytes (so digests stay exact),
/// their media type and digest, and the decoded content.
public struct FetchedManifest: Sendable {
  /// The bytes as served; their sha256 is ``digest``.
  public var bytes: [UInt8]
  /// The media type (from `Content-Type`, or from the document when the registry sent a
  /// generic type).
  public var mediaType: String
  /// The digest of ``bytes`` (verified against the one asked for and `Docker-Content-Digest`).
  public var digest: Digest
  /// The decoded document.
  public var content: Content
  /// What was fetched, pinned to ``digest`` (the tag, if one was asked for, is kept).
  public var reference: ImageReference

  public enum Content: Sendable {
    case manifest(Manifest)
    case index(ImageIndex)
  }

  /// The image manifest, if this is one.
  public var manifest: Manifest? {
    if case .manifest(let manifest) = content { return manifest }
    return nil
  }

  /// The index (OCI index or Docker manifest list), if this is one.
  public var index: ImageIndex? {
    if case .index(let index) = content { return index }
    return nil
  }

  /// A descriptor of this manifest.
  public var descriptor: Descriptor {
    Descriptor(mediaType: mediaType, digest: digest.description, size: Int64(bytes.count))
  }
}

extension RegistryClient {
  /// Fetches the manifest or index `ref` names (its digest if it has one, else its tag).
  public func manifest(_ ref: ImageReference) async throws -> FetchedManifest {
    try await fetchManifest(ref, pinned: ref.digest)
  }

  /// Fetches the manifest `digest` of the repository `repository` names.
  public func manifest(repository: ImageReference, digest: Digest) async throws -> FetchedManifest {
    try await fetchManifest(repository.withDigest(digest), pinned: digest)
  }

  /// The descriptor of the manifest `ref` names, from a HEAD request (no body transferred):
  /// media type, digest and size. For checking whether a tag moved.
  public func manifestDescriptor(_ ref: ImageReference) async throws -> Descriptor {
    try await withPullEndpoints(host: ref.domain) { endpoint, host in
      let context = RequestContext(host: host, repository: ref.path, what: .manifest, reference: ref.manifestReference)
      var request = RegistryRequest(
        .HEAD, endpoint: endpoint, url: repositoryURL(endpoint, ref.path) + "/manifests/" + ref.manifestReference,
        context: context, scopes: [Self.pullScope(ref.path)])
      request.headers.add(name: "Accept", value: MediaType.manifestAccept.joined(separator: ", "))
      let response = try await send(request)
      try await expect(response, [200], context)
      guard let digestText = response.headers.first(name: "Docker-Content-Digest"),
            let digest = try? Digest(parsing: digestText) else {
        if let pinned = ref.digest, let length = response.headers.first(name: "Content-Length").flatMap({ Int64($0) }) {
          let type = Self.mediaTypeHeader(response.headers) ?? MediaType.ociManifest
          return Descriptor(mediaType: type, digest: pinned.description, size: length)
        }
        // No digest in the answer: fetch the manifest to learn it.
        return try await fetchManifest(ref, pinned: ref.digest).descriptor
      }
      if let pinned = ref.digest, pinned != digest {
        throw BerthError(.digestMismatch,
          "manifest for \(context.target) has digest \(digest) according to the registry, not the \(pinned) asked for")
      }
      let size = response.headers.first(name: "Content-Length").flatMap { Int64($0) } ?? 0
      let type = Self.mediaTypeHeader(response.headers) ?? MediaType.ociManifest
      return Descriptor(mediaType: type, digest: digest.description, size: size)
    }
  }

  static func pullScope(_ path: String) -> String { "repository:\(path):pull" }
  static func pushScope(_ path: String) -> String { "repository:\(path):pull,push" }

  func fetchManifest(_ ref: ImageReference, pinned: Digest?) async throws -> FetchedManifest {
    if let pinned, pinned.algorithm != "sha256" {
      throw BerthError(.unsupported, "manifest digest \(pinned) of \(ref.name): only sha256 digests are supported")
    }
    return try await withPullEndpoints(host: ref.domain) { endpoint, host in
      let context = RequestContext(host: host, repository: ref.path, what: .manifest, reference: ref.manifestReference)
      var request = RegistryRequest(
        .GET, endpoint: endpoint, url: repositoryURL(endpoint, ref.path) + "/manifests/" + ref.manifestReference,
        context: context, scopes: [Self.pullScope(ref.path)])
      request.headers.add(name: "Accept", value: (MediaType.manifestAccept + ["*/*;q=0.1"]).joined(separator: ", "))
      let response = try await send(request)
      try await expect(response, [200], context)
      let limit = options.maximumManifestSize
      if let length = response.headers.first(name: "Content-Length").flatMap({ Int($0) }), length > limit {
        await Self.discard(response)
        throw BerthError(.malformedManifest, "manifest for \(context.target) is \(length) bytes, more than the \(limit) bytes Berth accepts")
      }
      var bytes: [UInt8] = []
      do {
        for try await chunk in response.body {
          bytes += chunk.readableBytesView
          if bytes.count > limit {
            throw BerthError(.malformedManifest, "manifest for \(context.target) is more than the \(limit) bytes Berth accepts")
          }
        }
      } catch let error as BerthError {
        throw error
      } catch {
        if Self.isCancellation(error) { throw error }
        throw BerthError(.truncated, "manifest for \(context.target) was cut short after \(bytes.count) bytes: \(error)")
      }
      if let length = response.headers.first(name: "Content-Length").flatMap({ Int($0) }), length != bytes.count {
        throw BerthError(.truncated, "manifest for \(context.target) is \(bytes.count) bytes, not the \(length) announced")
      }

      let digest = Digest(algorithm: "sha256", encoded: SHA256Hasher.hex(of: bytes))
      if let pinned, pinned != digest {
        throw BerthError(.digestMismatch,
          "digest mismatch: manifest for \(context.target) has digest \(digest), not the \(pinned) asked for")
      }
      if let header = response.headers.first(name: "Docker-Content-Digest"), !header.isEmpty {
        if let announced = try? Digest(parsing: header), announced.algorithm == "sha256", announced != digest {
          throw BerthError(.digestMismatch,
            "digest mismatch: manifest for \(context.target) has digest \(digest), but the registry announced \(announced)")
        }
      }
      let (mediaType, content) = try Self.decodeManifest(bytes, contentType: Self.mediaTypeHeader(response.headers), context: context)
      let fetchedRef = ref.withDigest(digest)
      return FetchedManifest(bytes: bytes, mediaType: mediaType, digest: digest, content: content, reference: fetchedRef)
    }
  }

  /// The media type of a `Content-Type` header, without parameters.
  static func mediaTypeHeader(_ headers: HTTPHeaders) -> String? {
    guard let value = headers.first(name: "Content-Type") else { return nil }
    let type = value.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
    return type.isEmpty ? nil : type.lowercased()
  }

  /// Decides what the bytes are and decodes them, refusing schema 1 and naming the field at
  /// fault in malformed documents.
  static func decodeManifest(
    _ bytes: [UInt8], contentType: String?, context: RequestContext
  ) throws -> (String, FetchedManifest.Content) {
    let what = "manifest for \(context.target)"
    let value: JSONValue
    do {
      value = try JSON.parse(bytes)
    } catch {
      throw BerthError(.malformedManifest, "malformed manifest: \(what) is not valid JSON: \(error)")
    }
    guard value.objectValue != nil else {
      throw BerthError(.malformedManifest, "malformed manifest: \(what) is not a JSON object")
    }
    let schemaVersion = value["schemaVersion"]?.numberValue?.integer(as: Int.self)
    let declared = value["mediaType"]?.stringValue
    if MediaType.isSchema1(contentType) || MediaType.isSchema1(declared) || schemaVersion == 1 {
      throw BerthError(.unsupportedManifest,
        "\(context.target) uses the Docker schema 1 manifest format, which Berth does not support; re-push the image with a current client")
    }

    // The header decides, unless it is generic; then the document's own mediaType or shape.
    var mediaType = contentType ?? ""
    if !(MediaType.isIndex(mediaType) || MediaType.isManifest(mediaType)) {
      if let declared, MediaType.isIndex(declared) || MediaType.isManifest(declared) {
        mediaType = declared
      } else if value["manifests"] != nil {
        mediaType = MediaType.ociIndex
      } else if value["config"] != nil || value["layers"] != nil {
        mediaType = MediaType.ociManifest
      } else {
        let shown = contentType ?? declared ?? "none"
        throw BerthError(.unsupportedManifest,
          "\(what) has media type \(shown), which is not an image manifest or index")
      }
    }
    if let declared, MediaType.isIndex(declared) || MediaType.isManifest(declared),
       MediaType.isIndex(declared) != MediaType.isIndex(mediaType) {
      throw BerthError(.malformedManifest,
        "malformed manifest: \(what): the registry sent it as \(mediaType), but its mediaType field says \(declared)")
    }
    guard schemaVersion == 2 else {
      let found = value["schemaVersion"].map { "\($0)" } ?? "missing"
      throw BerthError(.malformedManifest, "malformed manifest: \(what): schemaVersion: expected 2, found \(found)")
    }

    do {
      if MediaType.isIndex(mediaType) {
        let index = try JSON.decode(ImageIndex.self, from: value)
        for (position, entry) in index.manifests.enumerated() {
          try checkDescriptor(entry, field: "manifests[\(position)]", what: what)
        }
        return (mediaType, .index(index))
      }
      let manifest = try JSON.decode(Manifest.self, from: value)
      try checkDescriptor(manifest.config, field: "config", what: what)
      for (position, layer) in manifest.layers.enumerated() {
        try checkDescriptor(layer, field: "layers[\(position)]", what: what)
      }
      return (mediaType, .manifest(manifest))
    } catch let error as BerthError {
      throw error
    } catch {
      throw BerthError(.malformedManifest, "malformed manifest: \(what): \(error)")
    }
  }

  static func checkDescriptor(_ descriptor: Descriptor, field: String, what: String) throws {
    do {
      _ = try Digest(parsing: descriptor.digest)
    } catch {
      throw BerthError(.malformedManifest, "malformed manifest: \(what): \(field).digest: \(error)")
    }
    if descriptor.size < 0 {
      throw BerthError(.malformedManifest, "malformed manifest: \(what): \(field).size: negative size \(descriptor.size)")
    }
  }

  // MARK: Tags

  /// The tags of a repository, following pagination (`Link` headers).
  public func tags(repository: ImageReference) async throws -> [String] {
    try await withPullEndpoints(host: repository.domain) { endpoint, host in
      let context = RequestContext(host: host, repository: repository.path, what: .tags)
      var url = repositoryURL(endpoint, repository.path) + "/tags/list"
      var tags: [String] = []
      for _ in 0..<1000 {
        let request = RegistryRequest(.GET, endpoint: endpoint, url: url, context: context, scopes: [Self.pullScope(repository.path)])
        let response = try await send(request)
        try await expect(response, [200], context)
        let body = await Self.readBody(response, limit: 16 << 20)
        struct Page: Decodable { var tags: [String]? }
        do {
          tags += try JSON.decode(Page.self, from: body).tags ?? []
        } catch {
          throw BerthError(.registry, "\(context.operation): the answer is not a tag list: \(error)")
        }
        guard let link = response.headers.first(name: "Link"), let start = link.firstIndex(of: "<"),
              let end = link.firstIndex(of: ">"), start < end else { break }
        url = Self.resolve(String(link[link.index(after: start)..<end]), against: url)
      }
      return tags
    }
  }
}
