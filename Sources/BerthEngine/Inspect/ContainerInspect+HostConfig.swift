import BerthJSON
import BerthNetwork

extension ContainerInspection {
  /// Docker's `HostConfig`: the flags of `create` as the user gave them.
  func hostConfigJSON() -> JSONValue {
    let options = record.options
    let resources = options.resources
    var object: JSONObject = [
      "Binds": InspectJSON.stringsOrNull(binds),
      "ContainerIDFile": InspectJSON.string(options.cidfile),
      "LogConfig": .object([
        "Type": .string(options.logConfig.type), "Config": InspectJSON.map(options.logConfig.config),
      ]),
      "NetworkMode": .string(options.networkMode),
      "PortBindings": portBindingsJSON,
      "RestartPolicy": .object([
        "Name": .string(options.restartPolicy.name),
        "MaximumRetryCount": InspectJSON.number(options.restartPolicy.maximumRetryCount),
      ]),
      "AutoRemove": .bool(options.autoRemove),
      "VolumeDriver": "",
      "VolumesFrom": .null,
      "ConsoleSize": .array([.number(JSONNumber(0)), .number(JSONNumber(0))]),
      "CapAdd": InspectJSON.stringsOrNull(options.capAdd),
      "CapDrop": InspectJSON.stringsOrNull(options.capDrop),
      "CgroupnsMode": .string(options.cgroupnsMode),
      "Dns": InspectJSON.strings(options.dns),
      "DnsOptions": InspectJSON.strings(options.dnsOptions),
      "DnsSearch": InspectJSON.strings(options.dnsSearch),
      "ExtraHosts": InspectJSON.stringsOrNull(options.extraHosts),
      "GroupAdd": InspectJSON.stringsOrNull(options.groupAdd),
      "IpcMode": .string(options.ipcMode),
      "Cgroup": "",
      "Links": .null,
      "OomScoreAdj": InspectJSON.number(0),
      "PidMode": .string(options.pidMode),
      "Privileged": .bool(options.privileged),
      "PublishAllPorts": .bool(options.publishAll),
      "ReadonlyRootfs": .bool(options.readOnly),
      "SecurityOpt": InspectJSON.stringsOrNull(options.securityOpts),
    ]
    if !tmpfs.isEmpty { object["Tmpfs"] = InspectJSON.map(tmpfs) }
    object["UTSMode"] = .string(options.utsMode)
    object["UsernsMode"] = ""
    object["ShmSize"] = InspectJSON.number(resources.shmSize)
    if !resources.sysctls.isEmpty { object["Sysctls"] = InspectJSON.map(resources.sysctls) }
    object["Runtime"] = .string(record.runtimeName)
    object["Isolation"] = ""
    // Resources, in Docker's order.
    object["CpuShares"] = InspectJSON.number(resources.cpuShares)
    object["Memory"] = InspectJSON.number(resources.memory)
    object["NanoCpus"] = InspectJSON.number(resources.nanoCPUs)
    object["CgroupParent"] = ""
    object["BlkioWeight"] = InspectJSON.number(0)
    for key in ["BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps"] {
      object[key] = .array([])
    }
    object["CpuPeriod"] = InspectJSON.number(resources.cpuPeriod)
    object["CpuQuota"] = InspectJSON.number(resources.cpuQuota)
    object["CpuRealtimePeriod"] = InspectJSON.number(0)
    object["CpuRealtimeRuntime"] = InspectJSON.number(0)
    object["CpusetCpus"] = InspectJSON.string(resources.cpusetCpus)
    object["CpusetMems"] = InspectJSON.string(resources.cpusetMems)
    object["Devices"] = .array(resources.devices.map { device in
      .object([
        "PathOnHost": .string(device.pathOnHost), "PathInContainer": .string(device.pathInContainer),
        "CgroupPermissions": .string(device.cgroupPermissions),
      ])
    })
    object["DeviceCgroupRules"] = .null
    object["DeviceRequests"] = .null
    object["MemoryReservation"] = InspectJSON.number(resources.memoryReservation)
    object["MemorySwap"] = InspectJSON.number(resources.memorySwap)
    object["MemorySwappiness"] = InspectJSON.optionalNumber(resources.memorySwappiness)
    object["OomKillDisable"] = false
    object["PidsLimit"] = InspectJSON.optionalNumber(resources.pidsLimit.flatMap { $0 > 0 ? $0 : nil })
    object["Ulimits"] = .array(resources.ulimits.map { limit in
      .object(["Name": .string(limit.name), "Hard": InspectJSON.number(limit.hard), "Soft": InspectJSON.number(limit.soft)])
    })
    object["CpuCount"] = InspectJSON.number(0)
    object["CpuPercent"] = InspectJSON.number(0)
    object["IOMaximumIOps"] = InspectJSON.number(0)
    object["IOMaximumBandwidth"] = InspectJSON.number(0)
    if !mountFlags.isEmpty { object["Mounts"] = .array(mountFlags) }
    object["MaskedPaths"] = InspectJSON.strings(spec?.linux?.maskedPaths)
    object["ReadonlyPaths"] = InspectJSON.strings(spec?.linux?.readonlyPaths)
    if options.runInit { object["Init"] = true }
    return .object(object)
  }

  /// `-p` as Docker records it: "80/tcp": [{HostIp, HostPort}] ("" for a port chosen at start).
  var portBindingsJSON: JSONValue {
    var object = JSONObject()
    for port in record.options.publish {
      let key = port.containerKey
      var bindings = object[key]?.arrayValue ?? []
      bindings.append(.object([
        "HostIp": .string(port.hostIP), "HostPort": .string(port.hostPort == 0 ? "" : String(port.hostPort)),
      ]))
      object[key] = .array(bindings)
    }
    return .object(object)
  }

  /// `-v` binds and named volumes as typed ("/host:/data:ro", "cache:/cache"); anonymous
  /// volumes go to Config.Volumes instead, as in Docker.
  var binds: [String] {
    record.options.mounts.filter { $0.origin == .volumeFlag && $0.type != .tmpfs && $0.source != nil }.map(\.raw)
  }

  /// `--tmpfs` mounts: target → options.
  var tmpfs: [String: String] {
    var result: [String: String] = [:]
    for mount in record.options.mounts where mount.origin == .tmpfsFlag {
      result[mount.target] = mount.tmpfsOptions.joined(separator: ",")
    }
    return result
  }

  /// `--mount` flags, shaped like Docker's `mount.Mount`.
  var mountFlags: [JSONValue] {
    record.options.mounts.filter { $0.origin == .mountFlag }.map { mount in
      var object: JSONObject = ["Type": .string(mount.type.rawValue)]
      if let source = mount.source, !source.isEmpty { object["Source"] = .string(source) }
      object["Target"] = .string(mount.target)
      if mount.readOnly { object["ReadOnly"] = true }
      switch mount.type {
      case .bind where mount.propagation != nil || mount.nonRecursive:
        var options = JSONObject()
        if let propagation = mount.propagation { options["Propagation"] = .string(propagation) }
        if mount.nonRecursive { options["NonRecursive"] = true }
        object["BindOptions"] = .object(options)
      case .volume where mount.noCopy || !mount.volumeLabels.isEmpty:
        var options = JSONObject()
        if mount.noCopy { options["NoCopy"] = true }
        if !mount.volumeLabels.isEmpty { options["Labels"] = InspectJSON.map(mount.volumeLabels) }
        object["VolumeOptions"] = .object(options)
      default: break
      }
      return .object(object)
    }
  }
}
