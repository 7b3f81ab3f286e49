import BerthJSON

extension VolumeStore {
  /// Docker's volume inspect object (`inspect` falls back to volumes, as Docker's does).
  public func inspect(_ volume: VolumeRecord) -> JSONValue {
    .object([
      "CreatedAt": .string(volume.created),
      "Driver": .string(volume.driver),
      "Labels": InspectJSON.map(volume.labels),
      "Mountpoint": .string(mountpoint(volume.name)),
      "Name": .string(volume.name),
      "Options": volume.options.isEmpty ? .null : InspectJSON.map(volume.options),
      "Scope": "local",
    ])
  }
}
