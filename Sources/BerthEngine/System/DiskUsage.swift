import BerthImages
import BerthOCI
import BerthOS
import Foundation

/// What `berth system df` reports: the space images, containers and volumes take, and how
/// much of it nothing uses.
public struct DiskUsage: Sendable {
  public struct Image: Sendable {
    public var record: ImageRecord
    /// All its layers.
    public var size: Int64
    /// Layers other images have too.
    public var sharedSize: Int64
    public var uniqueSize: Int64 { size - sharedSize }
    /// Containers made from it.
    public var containers: Int
  }

  public struct Container: Sendable {
    public var record: ContainerRecord
    public var state: ContainerState
    /// Its writable layer (Docker's SizeRw).
    public var size: Int64
    /// The volumes it mounts.
    public var volumes: Int
    /// Running, paused or restarting: not reclaimable.
    public var isActive: Bool { state.isRunning }
  }

  public struct Volume: Sendable {
    public var record: VolumeRecord
    public var size: Int64
    /// Containers using it.
    public var links: Int
  }

  public var images: [Image] = []
  public var containers: [Container] = []
  public var volumes: [Volume] = []
  /// Every layer once, shared or not.
  public var imagesSize: Int64 = 0
  /// Layers no image with containers uses.
  public var imagesReclaimable: Int64 = 0

  public var activeImages: Int { images.filter { $0.containers > 0 }.count }
  public var containersSize: Int64 { containers.reduce(0) { $0 + $1.size } }
  public var containersReclaimable: Int64 { containers.filter { !$0.isActive }.reduce(0) { $0 + $1.size } }
  public var activeContainers: Int { containers.filter(\.isActive).count }
  public var volumesSize: Int64 { volumes.reduce(0) { $0 + $1.size } }
  public var volumesReclaimable: Int64 { volumes.filter { $0.links == 0 }.reduce(0) { $0 + $1.size } }
  public var activeVolumes: Int { volumes.filter { $0.links > 0 }.count }
}

extension ContainerEngine {
  /// Measures the store: layer sizes from the image records, writable layers and volumes by
  /// walking them (each hard-linked file once, never across a mount).
  public func diskUsage() throws -> DiskUsage {
    var usage = DiskUsage()
    let imageRecords = try images.images()
    var layersOf: [Digest: [Digest]] = [:]
    var holders: [Digest: Int] = [:]
    for image in imageRecords {
      layersOf[image.id] = (try? images.chainIDs(of: image)) ?? []
      for chainID in Set(layersOf[image.id] ?? []) { holders[chainID, default: 0] += 1 }
    }
    var layerSizes: [Digest: Int64] = [:]
    for chainID in holders.keys { layerSizes[chainID] = (try? images.layers.size(chainID)) ?? 0 }

    let containerRecords = try containers.all()
    var containersByImage: [String: Int] = [:]
    for record in containerRecords { containersByImage[record.imageID, default: 0] += 1 }

    var activeLayers = Set<Digest>()
    for image in imageRecords {
      let layers = Set(layersOf[image.id] ?? [])
      let users = containersByImage[image.id.description] ?? 0
      if users > 0 { activeLayers.formUnion(layers) }
      usage.images.append(
        DiskUsage.Image(
          record: image, size: layers.reduce(0) { $0 + (layerSizes[$1] ?? 0) },
          sharedSize: layers.filter { (holders[$0] ?? 0) > 1 }.reduce(0) { $0 + (layerSizes[$1] ?? 0) },
          containers: users))
    }
    usage.imagesSize = layerSizes.values.reduce(0, +)
    usage.imagesReclaimable = layerSizes.filter { !activeLayers.contains($0.key) }.values.reduce(0, +)

    for record in containerRecords {
      usage.containers.append(
        DiskUsage.Container(
          record: record, state: state(of: record.id), size: writableLayerSize(record.id),
          volumes: record.mounts.filter { $0.request.type == .volume }.count))
    }
    for volume in try volumes.list() {
      usage.volumes.append(
        DiskUsage.Volume(
          record: volume, size: (try? volumes.size(of: volume.name)) ?? 0, links: (try? volumes.users(of: volume.name).count) ?? 0))
    }
    return usage
  }
}
