import BerthJSON
import BerthOCI
import BerthOS
import Foundation

/// A small image built in memory for tests: layers (tar, gzipped by `gzip -n`, so the same
/// files give the same digests every time), a config and a manifest, in OCI or Docker
/// format, with every digest known.
///
/// ```swift
/// let image = try TestImage.busybox()                     // runnable: /bin/busybox, sh, …
/// let data = try TestImage.random(layerSizes: [300_000])   // one layer of random bytes
/// try await registry.push(image, as: "busybox:latest")
/// ```
public struct TestImage: Sendable {
  public enum Format: String, Sendable, CaseIterable {
    case oci, docker
  }

  /// One entry of a layer.
  public struct File: Sendable {
    public enum Kind: Sendable {
      case file([UInt8])
      case directory
      case symlink(String)
    }

    /// Relative path in the layer: "bin/busybox".
    public var path: String
    public var kind: Kind
    public var mode: UInt32

    public init(path: String, kind: Kind, mode: UInt32) {
      self.path = path
      self.kind = kind
      self.mode = mode
    }

    public static func file(_ path: String, _ contents: [UInt8], mode: UInt32 = 0o644) -> File {
      File(path: path, kind: .file(contents), mode: mode)
    }

    public static func file(_ path: String, _ text: String, mode: UInt32 = 0o644) -> File {
      File(path: path, kind: .file(Array(text.utf8)), mode: mode)
    }

    public static func directory(_ path: String, mode: UInt32 = 0o755) -> File {
      File(path: path, kind: .directory, mode: mode)
    }

    public static func symlink(_ path: String, to target: String) -> File {
      File(path: path, kind: .symlink(target), mode: 0o777)
    }
  }

  /// One layer: the blob as pushed and the tar it holds.
  public struct Layer: Sendable {
    /// The blob (gzip of ``tar``, or ``tar`` itself when uncompressed).
    public let blob: [UInt8]
    /// The uncompressed tar.
    public let tar: [UInt8]
    /// "sha256:…" of ``blob``.
    public let digest: String
    /// "sha256:…" of ``tar``.
    public let diffID: String
    public let mediaType: String

    public var size: Int64 { Int64(blob.count) }
    public var descriptor: Descriptor { Descriptor(mediaType: mediaType, digest: digest, size: size) }
  }

  public let format: Format
  public let platform: Platform
  public let layers: [Layer]
  /// The config blob.
  public let config: [UInt8]
  public let configDigest: String
  public let configMediaType: String
  /// The manifest as pushed.
  public let manifest: [UInt8]
  public let manifestDigest: String
  public let manifestMediaType: String

  /// Builds an image from layers of files.
  ///
  /// - Parameters:
  ///   - layers: each layer's entries, in order (parent directories are not added for you).
  ///   - containerConfig: Cmd, Env, … (default: `Cmd ["sh"]`, a PATH).
  ///   - compressed: gzip the layers (default) or push plain tars.
  public init(
    layers: [[File]], format: Format = .oci, platform: Platform = .host, containerConfig: ContainerConfig? = nil,
    compressed: Bool = true
  ) throws {
    self.format = format
    self.platform = platform
    var built: [Layer] = []
    for files in layers {
      let tar = TarWriter.archive(files)
      let blob = compressed ? try Self.gzip(tar) : tar
      let mediaType: String
      switch (format, compressed) {
      case (.oci, true): mediaType = MediaType.ociLayerGzip
      case (.oci, false): mediaType = MediaType.ociLayer
      case (.docker, true): mediaType = MediaType.dockerLayerGzip
      case (.docker, false): mediaType = "application/vnd.docker.image.rootfs.diff.tar"
      }
      built.append(Layer(blob: blob, tar: tar, digest: RegistrySupport.sha256(blob), diffID: RegistrySupport.sha256(tar),
                         mediaType: mediaType))
    }
    self.layers = built

    let configValue = ImageConfig(
      created: "2024-01-01T00:00:00Z", architecture: platform.architecture, os: platform.os, variant: platform.variant,
      config: containerConfig ?? ContainerConfig(
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"]),
      rootfs: RootFS(diff_ids: built.map(\.diffID)),
      history: built.map { _ in History(created: "2024-01-01T00:00:00Z", created_by: "berth test image") })
    config = try JSON.encode(configValue)
    configDigest = RegistrySupport.sha256(config)
    configMediaType = format == .oci ? MediaType.ociConfig : MediaType.dockerConfig
    manifestMediaType = format == .oci ? MediaType.ociManifest : MediaType.dockerManifest
    let manifestValue = Manifest(
      schemaVersion: 2, mediaType: manifestMediaType,
      config: Descriptor(mediaType: configMediaType, digest: configDigest, size: Int64(config.count)),
      layers: built.map(\.descriptor))
    manifest = try JSON.encode(manifestValue)
    manifestDigest = RegistrySupport.sha256(manifest)
  }

  /// The config's descriptor.
  public var configDescriptor: Descriptor {
    Descriptor(mediaType: configMediaType, digest: configDigest, size: Int64(config.count))
  }

  /// The manifest's descriptor, with the platform (as an index lists it).
  public var manifestDescriptor: Descriptor {
    Descriptor(mediaType: manifestMediaType, digest: manifestDigest, size: Int64(manifest.count), platform: platform)
  }

  /// Every blob (config first, then layers) with its digest.
  public var blobs: [(digest: String, bytes: [UInt8])] {
    [(configDigest, config)] + layers.map { ($0.digest, $0.blob) }
  }

  /// A runnable image: /bin/busybox (the host's static busybox) with links for sh, echo, ls,
  /// cat, sleep, true, false, env, id, hostname, wc, sha256sum; /etc/passwd and /etc/group;
  /// empty /proc, /sys, /dev; /tmp (1777) and /root. Cmd `["sh"]` unless `containerConfig`
  /// says otherwise.
  public static func busybox(
    format: Format = .oci, containerConfig: ContainerConfig? = nil, busyboxPath: String = "/bin/busybox"
  ) throws -> TestImage {
    guard FS.exists(busyboxPath) else {
      throw RegistrySupport.failure("\(busyboxPath) is missing: install busybox-static (scripts/install-deps.sh)")
    }
    let binary = try FS.read(busyboxPath)
    var files: [File] = [.directory("bin"), .file("bin/busybox", binary, mode: 0o755)]
    for tool in ["sh", "echo", "ls", "cat", "sleep", "true", "false", "env", "id", "hostname", "wc", "sha256sum"] {
      files.append(.symlink("bin/" + tool, to: "busybox"))
    }
    files += [
      .directory("etc"),
      .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
      .file("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
      .directory("tmp", mode: 0o1777),
      .directory("root", mode: 0o700),
      .directory("proc", mode: 0o555),
      .directory("sys", mode: 0o555),
      .directory("dev"),
    ]
    return try TestImage(layers: [files], format: format, containerConfig: containerConfig)
  }

  /// An image whose layers each hold one file of pseudo-random bytes (`data/layer-N`) of the
  /// given sizes; the same seed gives the same image.
  public static func random(
    layerSizes: [Int], seed: UInt64 = 1, format: Format = .oci, platform: Platform = .host
  ) throws -> TestImage {
    var generator = SplitMix64(seed: seed)
    let layers: [[File]] = layerSizes.enumerated().map { index, size in
      var bytes = [UInt8](repeating: 0, count: size)
      var position = 0
      while position < size {
        var word = generator.next()
        for _ in 0..<8 where position < size {
          bytes[position] = UInt8(truncatingIfNeeded: word)
          word >>= 8
          position += 1
        }
      }
      return [.directory("data"), .file("data/layer-\(index)", bytes)]
    }
    return try TestImage(layers: layers, format: format, platform: platform)
  }

  /// Writes the image as an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`)
  /// with `tag` as its ref name: what `skopeo copy oci:DIR:TAG …` reads.
  public func writeOCILayout(to directory: String, tag: String = "latest") throws {
    try FS.makeDirectories(directory + "/blobs/sha256")
    try FS.write(directory + "/oci-layout", #"{"imageLayoutVersion":"1.0.0"}"#)
    for (digest, bytes) in blobs + [(manifestDigest, manifest)] {
      try FS.write(directory + "/blobs/sha256/" + digest.dropFirst("sha256:".count), bytes)
    }
    var descriptor = manifestDescriptor
    descriptor.platform = nil
    descriptor.annotations = ["org.opencontainers.image.ref.name": tag]
    let index = ImageIndex(manifests: [descriptor])
    try FS.write(directory + "/index.json", try JSON.encode(index))
  }

  static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
    guard let gzip = RegistrySupport.which("gzip") else { throw RegistrySupport.failure("gzip is not installed") }
    return try RegistrySupport.run(gzip, ["-n", "-c", "-6"], input: bytes)
  }
}

/// An index (OCI image index or Docker manifest list) of test images.
public struct TestIndex: Sendable {
  public let images: [TestImage]
  public let bytes: [UInt8]
  public let digest: String
  public let mediaType: String

  public init(images: [TestImage], format: TestImage.Format = .oci) throws {
    self.images = images
    mediaType = format == .oci ? MediaType.ociIndex : MediaType.dockerManifestList
    let index = ImageIndex(schemaVersion: 2, mediaType: mediaType, manifests: images.map(\.manifestDescriptor))
    bytes = try JSON.encode(index)
    digest = RegistrySupport.sha256(bytes)
  }

  public var descriptor: Descriptor {
    Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
  }
}

extension TestImage {
  /// A tiny deterministic generator (SplitMix64) for reproducible test data.
  struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
  }

  /// Writes ustar archives (regular files, directories, symlinks; owner root; mtime fixed).
  enum TarWriter {
    static func archive(_ files: [TestImage.File]) -> [UInt8] {
      var out: [UInt8] = []
      for file in files {
        let content: [UInt8]
        let type: UInt8
        var link = ""
        var name = file.path
        switch file.kind {
        case .file(let bytes):
          content = bytes
          type = UInt8(ascii: "0")
        case .directory:
          content = []
          type = UInt8(ascii: "5")
          if !name.hasSuffix("/") { name += "/" }
        case .symlink(let target):
          content = []
          type = UInt8(ascii: "2")
          link = target
        }
        out += header(name: name, mode: file.mode, size: content.count, type: type, link: link)
        out += content
        let padding = (512 - content.count % 512) % 512
        out += [UInt8](repeating: 0, count: padding)
      }
      out += [UInt8](repeating: 0, count: 1024)
      return out
    }

    static func header(name: String, mode: UInt32, size: Int, type: UInt8, link: String) -> [UInt8] {
      var block = [UInt8](repeating: 0, count: 512)
      func put(_ text: String, at offset: Int, width: Int) {
        for (index, byte) in text.utf8.prefix(width).enumerated() { block[offset + index] = byte }
      }
      func octal(_ value: Int, at offset: Int, width: Int) {
        var digits = String(value, radix: 8)
        while digits.count < width - 1 { digits = "0" + digits }
        put(digits, at: offset, width: width - 1)
      }
      // Names over 100 bytes go into the prefix field, split at a "/".
      var shortName = name
      if name.utf8.count > 100, let split = name.utf8.indices.last(where: {
        name.utf8[$0] == UInt8(ascii: "/") && name.utf8.distance(from: name.utf8.startIndex, to: $0) <= 155
      }) {
        put(String(name[..<split]), at: 345, width: 155)
        shortName = String(name[name.index(after: split)...])
      }
      put(shortName, at: 0, width: 100)
      octal(Int(mode & 0o7777), at: 100, width: 8)
      octal(0, at: 108, width: 8)
      octal(0, at: 116, width: 8)
      octal(size, at: 124, width: 12)
      octal(1_704_067_200, at: 136, width: 12)  // 2024-01-01
      block[156] = type
      put(link, at: 157, width: 100)
      put("ustar", at: 257, width: 6)
      put("00", at: 263, width: 2)
      put("root", at: 265, width: 32)
      put("root", at: 297, width: 32)
      octal(0, at: 329, width: 8)
      octal(0, at: 337, width: 8)
      for index in 148..<156 { block[index] = 0x20 }
      let sum = block.reduce(0) { $0 + Int($1) }
      octal(sum, at: 148, width: 7)
      block[154] = 0
      block[155] = 0x20
      return block
    }
  }
}
