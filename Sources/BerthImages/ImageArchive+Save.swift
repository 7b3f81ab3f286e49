import BerthArchive
import BerthJSON
import BerthOCI
import BerthOS
import Foundation

/// The formats `save` writes and `load` reads.
public enum ArchiveFormat: String, Sendable, CaseIterable {
  /// `docker save`'s: manifest.json, configs, uncompressed layer tars (what `docker load` and
  /// `podman load` read).
  case dockerArchive = "docker-archive"
  /// An OCI image layout in a tar: oci-layout, index.json, blobs/sha256/… as pulled.
  case ociArchive = "oci-archive"
}

extension ImageStore {
  /// `berth save`: writes the images named to `fd` as a tar archive.
  public func save(_ names: [String], format: ArchiveFormat, to fd: Int32) async throws {
    let storeLock = try await FileLock.acquire(layout.storeLock, shared: true)
    defer { storeLock.release() }
    var images: [(image: ImageRecord, tags: [String])] = []
    for name in names {
      let image = try resolve(name)
      // Saved by name: that name; by ID: every tag it has.
      let tags: [String]
      if let reference = try? ImageReference.parse(name), image.tags.contains(reference.tagged.description) {
        tags = [reference.tagged.description]
      } else {
        tags = image.tags
      }
      if let index = images.firstIndex(where: { $0.image.id == image.id }) {
        images[index].tags += tags.filter { !images[index].tags.contains($0) }
      } else {
        images.append((image, tags))
      }
    }
    let writer = try TarWriter(fileDescriptor: fd)
    switch format {
    case .dockerArchive: try writeDockerArchive(images, writer: writer)
    case .ociArchive: try writeOCIArchive(images, writer: writer)
    }
    _ = try writer.finish()
  }

  private func writeDockerArchive(_ images: [(image: ImageRecord, tags: [String])], writer: TarWriter) throws {
    var written = Set<String>()
    var manifest: [[String: Any]] = []
    for (image, tags) in images {
      let (config, configBytes) = try self.config(of: image)
      let configName = image.id.encoded + ".json"
      if written.insert(configName).inserted {
        try writer.add(.file(configName, size: Int64(configBytes.count)), contents: configBytes)
      }
      var layerNames: [String] = []
      let imageManifest = try self.manifest(of: image)
      let chainIDs = try self.chainIDs(of: image)
      for (index, (descriptor, diffID)) in zip(imageManifest.layers, config.rootfs.diff_ids).enumerated() {
        let diff = try Digest(parsing: diffID)
        let name = diff.encoded + "/layer.tar"
        layerNames.append(name)
        guard written.insert(name).inserted else { continue }
        try writer.add(.directory(diff.encoded))
        try addUncompressedLayer(
          blob: try Digest(parsing: descriptor.digest), as: name, size: try layers.size(chainIDs[index]), writer: writer)
      }
      manifest.append([
        "Config": configName,
        "RepoTags": tags.map { ImageReference.familiar($0) },
        "Layers": layerNames,
      ])
    }
    let data = try JSONSerialization.data(withJSONObject: manifest, options: [.withoutEscapingSlashes])
    try writer.add(.file("manifest.json", size: Int64(data.count)), contents: Array(data))
  }

  /// A layer as `docker save` stores it: the uncompressed tar, whose digest is the diffID.
  /// - Parameter size: the uncompressed size, recorded when the layer was unpacked (the tar
  ///   header comes before the content).
  private func addUncompressedLayer(blob: Digest, as name: String, size recorded: Int64, writer: TarWriter) throws {
    let path = layout.blob(blob)
    let size = recorded > 0 ? recorded : try RawDecompression.stream(file: path) { _ in }
    var pipe: [Int32] = [0, 0]
    guard Glibc.pipe(&pipe) == 0 else { throw BerthError.system("pipe") }
    let readEnd = pipe[0], writeEnd = pipe[1]
    let producer = DecompressionThread(path: path, fd: writeEnd)
    producer.start()
    defer {
      close(readEnd)
      producer.join()
    }
    try writer.add(.file(name, size: size), contentsOf: readEnd)
    if let error = producer.error { throw error }
  }

  private func writeOCIArchive(_ images: [(image: ImageRecord, tags: [String])], writer: TarWriter) throws {
    let layoutFile = Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8)
    try writer.add(.file("oci-layout", size: Int64(layoutFile.count)), contents: layoutFile)
    try writer.add(.directory("blobs"))
    try writer.add(.directory("blobs/sha256"))
    var written = Set<Digest>()
    var entries: [Descriptor] = []
    for (image, tags) in images {
      let manifest = try self.manifest(of: image)
      let manifestBytes = try content.read(image.manifestDigest)
      for digest in [image.manifestDigest, image.id] + (try manifest.layers.map { try Digest(parsing: $0.digest) })
      where written.insert(digest).inserted {
        let path = layout.blob(digest)
        let fd = try OwnedFD.open(path, O_RDONLY)
        var info = stat()
        try check("stat \(path)") { fstat(fd.raw, &info) }
        try writer.add(.file("blobs/sha256/" + digest.encoded, size: Int64(info.st_size)), contentsOf: fd.raw)
      }
      let base = Descriptor(
        mediaType: manifest.mediaType ?? MediaType.ociManifest, digest: image.manifestDigest.description,
        size: Int64(manifestBytes.count))
      if tags.isEmpty { entries.append(base) }
      for tag in tags {
        var entry = base
        let reference = try ImageReference.parse(tag)
        entry.annotations = [
          "org.opencontainers.image.ref.name": reference.tag ?? ImageReference.defaultTag,
          "io.containerd.image.name": reference.description,
        ]
        entries.append(entry)
      }
    }
    let index = try JSON.encode(ImageIndex(manifests: entries))
    try writer.add(.file("index.json", size: Int64(index.count)), contents: index)
  }
}

/// Decompresses a blob into a pipe on a thread of its own, for TarWriter to read.
final class DecompressionThread: @unchecked Sendable {
  let path: String
  let fd: Int32
  private(set) var error: (any Error)?
  private var thread: Thread?
  private let done = DispatchSemaphore(value: 0)

  init(path: String, fd: Int32) {
    self.path = path
    self.fd = fd
  }

  func start() {
    let thread = Thread { [self] in
      defer {
        close(fd)
        done.signal()
      }
      do {
        try RawDecompression.stream(file: path) { bytes in try writeAllBytes(fd, bytes) }
      } catch {
        self.error = error
      }
    }
    self.thread = thread
    thread.start()
  }

  func join() { done.wait() }
}
