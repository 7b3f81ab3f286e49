import BerthImages
import BerthOCI
import BerthOS
import Foundation

/// `berth commit` flags.
public struct CommitOptions: Sendable {
  /// `-a`: the image's author.
  public var author: String?
  /// `-m`: the history entry's comment.
  public var message: String?
  /// `-c`: Dockerfile instructions applied to the config (CMD, ENV, …).
  public var changes: [String]
  /// `--pause`: freeze a running container while its files are read (Docker's default).
  public var pause: Bool
  /// REPO[:TAG] to tag the image with; nil leaves it dangling.
  public var reference: String?

  public init(author: String? = nil, message: String? = nil, changes: [String] = [], pause: Bool = true, reference: String? = nil) {
    self.author = author
    self.message = message
    self.changes = changes
    self.pause = pause
    self.reference = reference
  }
}

extension ContainerEngine {
  /// `berth commit`: a new image from the container's image and its writable layer, with the
  /// container's config (and `changes`) as the image's, as Docker makes it. A running
  /// container is paused (freezer) while the layer is read, unless `pause` is off.
  public func commit(_ record: ContainerRecord, options: CommitOptions) async throws -> ImageRecord {
    var tags: [String] = []
    if let reference = options.reference {
      let parsed = try ImageReference.parse(reference)
      guard parsed.digest == nil else {
        throw BerthError(.invalidArgument, "refusing to create a tag with a digest reference: \(reference)")
      }
      tags.append(parsed.tagged.description)
    }
    guard let imageID = try? Digest(parsing: record.imageID), let base = try images.image(id: imageID) else {
      throw BerthError(.notFound, "the image of container \(record.shortID) (\(record.imageID)) is not in the store any more")
    }
    let baseConfig = try images.config(of: base).config
    let inspection = inspection(record)
    var config = try ConfigChanges.apply(options.changes, to: Self.commitConfig(inspection, image: baseConfig))
    if config.Cmd?.isEmpty == true { config.Cmd = nil }

    let committer = ImageCommitter(store: images)
    let parent = try images.chainIDs(of: base).last
    let layer = try await withLock(record.id) { () async throws -> CommittedLayer in
      let files = files(record.id)
      var paused = false
      if options.pause && files.read().status == .running {
        let result = try runtime(record, ["pause", record.id])
        guard result.ok else {
          throw BerthError(
            .commandFailed,
            "pause \(record.shortID) to commit it: \(result.message) (commit with --pause=false to read it running)")
        }
        try FS.write(files.paused, "")
        paused = true
      }
      do {
        let upper = layout.upper(record.id)
        let stubs = ChangeWalker(upper: upper, lowers: inspection.lowerDirectories).mountStubs()
        let layer = try await committer.commitLayer(fromDirectory: upper, parentChainID: parent, clampMTime: nil, excluding: stubs)
        if paused { try resume(record, files: files) }
        return layer
      } catch {
        if paused { try? resume(record, files: files) }
        throw error
      }
    }

    let now = Clock.rfc3339Now()
    let empty = layer.diffID == Self.emptyTarDiffID
    let author = options.author.flatMap { $0.isEmpty ? nil : $0 }
    let entry = History(
      created: now, created_by: (inspection.command ?? []).joined(separator: " "), author: author,
      comment: options.message.flatMap { $0.isEmpty ? nil : $0 }, empty_layer: empty ? true : nil)
    let imageConfig = ImageConfig(
      created: now, author: author, architecture: baseConfig.architecture, os: baseConfig.os,
      variant: baseConfig.variant, osVersion: baseConfig.osVersion, config: config, rootfs: baseConfig.rootfs,
      history: (baseConfig.history ?? []) + [entry])
    return try await committer.writeImage(base: base, newLayers: empty ? [] : [layer], config: imageConfig, tags: tags)
  }

  /// The diffID of a tar with no entries (1024 zero bytes): a commit that changed nothing
  /// adds no layer, only a history entry marked empty, as Docker does.
  static let emptyTarDiffID = Digest(sha256Of: [UInt8](repeating: 0, count: 1024))

  /// The container's config as Docker commits it: what `inspect` shows as Config (the
  /// container's settings over its image's), minus what only the container has.
  static func commitConfig(_ inspection: ContainerInspection, image: ImageConfig) -> ContainerConfig {
    let record = inspection.record
    let options = record.options
    let imageConfig = image.config ?? ContainerConfig()
    var config = imageConfig
    config.User = record.user.isEmpty ? nil : record.user
    config.Env = inspection.environment
    config.Entrypoint = inspection.entrypoint
    config.Cmd = inspection.command
    let volumes = inspection.volumes
    config.Volumes = volumes.isEmpty ? nil : Dictionary(uniqueKeysWithValues: volumes.map { ($0, EmptyObject()) })
    let workingDir = options.workingDir ?? imageConfig.WorkingDir ?? ""
    config.WorkingDir = workingDir.isEmpty ? nil : workingDir
    config.Labels = record.labels.isEmpty ? nil : record.labels
    if let signal = options.stopSignal, !signal.isEmpty { config.StopSignal = signal }
    config.Healthcheck = inspection.shownHealthcheck
    // Docker's container Config.ExposedPorts: the image's, `--expose` and the `-p` container ports.
    var ports = imageConfig.ExposedPorts ?? [:]
    for key in options.expose + options.publish.map({ "\($0.containerPort)/\($0.proto)" }) { ports[key] = EmptyObject() }
    config.ExposedPorts = ports.isEmpty ? nil : ports
    return config
  }
}
