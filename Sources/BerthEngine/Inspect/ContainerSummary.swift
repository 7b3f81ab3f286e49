import BerthImages
import BerthOCI
import BerthOS

/// What `ps` lists with `-a`, `-n`, `-l`, `-s` and `--filter` (Docker's `/containers/json`
/// parameters).
public struct ContainerQuery: Sendable {
  /// `-a`: stopped containers too.
  public var all = false
  /// `-n`: only the N most recently created (any state); nil or 0 for all.
  public var last: Int?
  /// `-l`: only the most recently created.
  public var latest = false
  /// `-s`: compute each container's sizes (walks its upper directory).
  public var size = false
  /// `--filter KEY=VALUE`.
  public var filters: [String] = []

  public init(all: Bool = false, last: Int? = nil, latest: Bool = false, size: Bool = false, filters: [String] = []) {
    self.all = all
    self.last = last
    self.latest = latest
    self.size = size
    self.filters = filters
  }
}

/// One container as `ps` shows it (Docker's `/containers/json` entry).
public struct ContainerSummary: Sendable {
  public var record: ContainerRecord
  public var state: ContainerState
  /// The IMAGE column before truncation: the image as the user typed it, or the image's ID
  /// once that name points to another image (as Docker shows it).
  public var image: String
  /// Path and arguments, space-separated.
  public var command: String
  /// "Up 5 seconds", "Exited (0) 3 seconds ago", ...
  public var status: String
  /// Bytes in the container's writable layer, and that plus its image (`-s` only).
  public var sizeRw: Int64?
  public var sizeRootFs: Int64?

  /// The networks the container is attached to, as inspect's `NetworkSettings.Networks`
  /// names them: "none", "host", or the networks it joins ("bridge" by default).
  public var networks: [String] { Self.attachedNetworks(of: record) }

  /// The PORTS column: "0.0.0.0:8080->80/tcp, ..." while the container runs.
  public var ports: String {
    guard state.isRunning, record.options.hasOwnNetwork, !record.options.publish.isEmpty || record.options.publishAll,
      let saved = ContainerNetworkState.load(layout, record.id)
    else { return "" }
    return saved.ports.map { "\($0.shownHostIP):\($0.hostPort)->\($0.containerKey)" }.joined(separator: ", ")
  }

  /// Where the container's files are (its network.json).
  var layout: EngineLayout

  /// Named volumes by name, binds by host path (the MOUNTS column).
  public var mountNames: [String] {
    record.mounts.compactMap { mount in
      switch mount.request.type {
      case .volume: return mount.request.source
      case .bind: return mount.hostPath ?? mount.request.source
      case .tmpfs: return nil
      }
    }
  }

  /// Mounts of local volumes (the LOCAL VOLUMES column).
  public var localVolumeCount: Int { record.mounts.filter { $0.request.type == .volume }.count }

  /// The networks a `network=` filter matches.
  static func networks(of record: ContainerRecord) -> [String] {
    attachedNetworks(of: record)
  }

  static func attachedNetworks(of record: ContainerRecord) -> [String] {
    let mode = record.options.networkMode
    if mode == "none" || mode == "host" { return [mode] }
    return record.options.networks.map(\.network)
  }
}

extension ContainerEngine {
  /// The containers `ps` shows, newest first.
  public func list(_ query: ContainerQuery) throws -> [ContainerSummary] {
    let filters = try ContainerFilters(query.filters)
    let resolved = try filters.resolved(engine: self)
    var limit = query.last ?? 0
    if query.latest && limit <= 0 { limit = 1 }
    // -n and -l count stopped containers too, as does a status filter.
    let all = query.all || limit > 0 || filters.impliesAll
    let now = DockerTime.now()
    var result: [ContainerSummary] = []
    for record in try containers.all() {
      let state = state(of: record.id)
      if !all && !state.isRunning { continue }
      guard resolved.matches(record, state: state) else { continue }
      result.append(summary(record, state: state, size: query.size, now: now))
      if limit > 0 && result.count == limit { break }
    }
    return result
  }

  /// One container's summary.
  public func summary(_ record: ContainerRecord, state: ContainerState, size: Bool, now: DockerTime = .now())
    -> ContainerSummary
  {
    var summary = ContainerSummary(
      record: record, state: state, image: shownImage(record), command: ([record.path] + record.args).joined(separator: " "),
      status: state.statusText(hasHealthcheck: record.healthcheck != nil, now: now), layout: layout)
    // A container removed while its layer is walked loses its sizes, not the whole listing.
    if size, let (rw, rootFs) = try? sizes(record) {
      summary.sizeRw = rw
      summary.sizeRootFs = rootFs
    }
    return summary
  }

  /// The name the container was made from while it still names the same image; else the
  /// image's ID.
  func shownImage(_ record: ContainerRecord) -> String {
    guard let current = try? images.resolve(record.options.image), current.id.description == record.imageID else {
      return record.imageID
    }
    return record.options.image
  }

  /// Docker's SizeRw (what the container wrote: its overlay upper directory) and SizeRootFs
  /// (that plus the image).
  public func sizes(_ record: ContainerRecord) throws -> (rw: Int64, rootFs: Int64) {
    let rw = FS.isDirectory(layout.upper(record.id)) ? try DirectorySize.of(layout.upper(record.id)) : 0
    var imageSize: Int64 = 0
    if let digest = try? Digest(parsing: record.imageID), let image = try images.image(id: digest) {
      imageSize = image.size
    }
    return (rw, rw + imageSize)
  }
}
