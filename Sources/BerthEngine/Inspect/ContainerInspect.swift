import BerthImages
import BerthJSON
import BerthOCI
import BerthOS

/// Everything `inspect` says about a container, gathered once: the record, what its monitor
/// reports, its image's configuration and its runtime spec (both optional: an image can be
/// removed from under a container, a spec is missing until create finishes).
public struct ContainerInspection: Sendable {
  public let record: ContainerRecord
  public let state: ContainerState
  public let layout: EngineLayout
  /// The image's configuration (the Config section merges it as Docker does).
  public let image: ImageConfig?
  /// The image's layer directories, top first (overlay's lowerdir order).
  public let lowerDirectories: [String]
  /// The container's config.json (masked paths, AppArmor profile).
  public let spec: Spec?

  /// Docker's container inspect object, its keys in Docker's order. `size` adds SizeRw and
  /// SizeRootFs (`inspect --size`).
  public func json(size: (rw: Int64, rootFs: Int64)? = nil) -> JSONValue {
    var object: JSONObject = [
      "Id": .string(record.id),
      "Created": .string(Self.time(record.created)),
      "Path": .string(record.path),
      "Args": InspectJSON.strings(record.args),
      "State": stateJSON(),
      "Image": .string(record.imageID),
      "ResolvConfPath": .string(layout.container(record.id) + "/resolv.conf"),
      "HostnamePath": .string(layout.container(record.id) + "/hostname"),
      "HostsPath": .string(layout.container(record.id) + "/hosts"),
      "LogPath": .string(record.options.logConfig.type == "json-file" ? layout.log(record.id) : ""),
      "Name": .string("/" + record.name),
      "RestartCount": InspectJSON.number(state.restartCount),
      "Driver": "overlay2",
      "Platform": "linux",
      "MountLabel": InspectJSON.string(spec?.linux?.mountLabel),
      "ProcessLabel": InspectJSON.string(spec?.process?.selinuxLabel),
      "AppArmorProfile": InspectJSON.string(spec?.process?.apparmorProfile ?? record.options.appArmorProfile),
      // Exec sessions are not recorded yet.
      "ExecIDs": .null,
      "HostConfig": hostConfigJSON(),
      "GraphDriver": graphDriverJSON(),
    ]
    if let size {
      object["SizeRw"] = InspectJSON.number(size.rw)
      object["SizeRootFs"] = InspectJSON.number(size.rootFs)
    }
    object["Mounts"] = mountsJSON()
    object["Config"] = configJSON()
    object["NetworkSettings"] = networkSettingsJSON()
    return .object(object)
  }

  /// RFC 3339 with nanoseconds (Go's RFC3339Nano); Go's zero time for none.
  static func time(_ text: String?) -> String {
    DockerTime.recorded(text)?.rfc3339Nano ?? DockerTime.zeroText
  }

  func stateJSON() -> JSONValue {
    var exitCode = state.exitCode
    if state.status == .created, let error = state.error, !error.isEmpty {
      // A start that failed before the process ran: Docker keeps 126/127/125 as the exit code.
      exitCode = Int(StartFailure(message: error).exitCode)
    }
    var object: JSONObject = [
      "Status": .string(state.status.rawValue),
      "Running": .bool(state.isRunning),
      "Paused": .bool(state.status == .paused),
      "Restarting": .bool(state.status == .restarting),
      "OOMKilled": .bool(state.oomKilled),
      "Dead": .bool(state.status == .dead),
      "Pid": InspectJSON.number(state.pid),
      "ExitCode": InspectJSON.number(exitCode),
      "Error": InspectJSON.string(state.error),
      "StartedAt": .string(Self.time(state.startedAt)),
      "FinishedAt": .string(Self.time(state.finishedAt)),
    ]
    if let health = healthJSON() { object["Health"] = health }
    return .object(object)
  }

  /// The monitor's healthcheck record; "starting" with no log before its first result.
  func healthJSON() -> JSONValue? {
    guard record.healthcheck != nil else { return nil }
    if let bytes = state.healthJSON, let parsed = try? JSON.parse(bytes), parsed.objectValue != nil { return parsed }
    guard state.isRunning else { return nil }
    return .object(["Status": "starting", "FailingStreak": .number(JSONNumber(0)), "Log": .array([])])
  }

  func graphDriverJSON() -> JSONValue {
    .object([
      "Data": .object([
        "LowerDir": .string(lowerDirectories.joined(separator: ":")),
        "MergedDir": .string(layout.rootfs(record.id)),
        "UpperDir": .string(layout.upper(record.id)),
        "WorkDir": .string(layout.work(record.id)),
      ]),
      "Name": "overlay2",
    ])
  }
}

extension ContainerEngine {
  /// Gathers what inspect shows about a container.
  public func inspection(_ record: ContainerRecord) -> ContainerInspection {
    var image: ImageConfig?
    var lowers: [String] = []
    if let digest = try? Digest(parsing: record.imageID), let found = try? images.image(id: digest) {
      image = try? images.config(of: found).config
      lowers = ((try? images.layerDirectories(of: found)) ?? []).reversed()
    }
    let spec = (try? FS.read(layout.bundleConfig(record.id))).flatMap { try? JSON.decode(Spec.self, from: $0) }
    return ContainerInspection(
      record: record, state: state(of: record.id), layout: layout, image: image, lowerDirectories: lowers, spec: spec)
  }

  /// Docker's container inspect object (`berth inspect`, and the API's `/containers/{id}/json`).
  public func inspect(_ record: ContainerRecord, size: Bool = false) throws -> JSONValue {
    inspection(record).json(size: size ? try sizes(record) : nil)
  }
}
