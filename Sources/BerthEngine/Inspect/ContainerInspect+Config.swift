import BerthJSON
import BerthOCI

extension ContainerInspection {
  /// Docker's `Config`: the container's own settings merged over its image's.
  func configJSON() -> JSONValue {
    let options = record.options
    let imageConfig = image?.config
    let attach = attachedStreams
    var object: JSONObject = [
      "Hostname": .string(record.hostname),
      "Domainname": InspectJSON.string(options.domainname),
      "User": .string(record.user),
      "AttachStdin": .bool(attach.stdin),
      "AttachStdout": .bool(attach.stdout),
      "AttachStderr": .bool(attach.stderr),
    ]
    if let ports = imageConfig?.ExposedPorts, !ports.isEmpty { object["ExposedPorts"] = InspectJSON.set(Array(ports.keys)) }
    object["Tty"] = .bool(options.tty)
    object["OpenStdin"] = .bool(options.openStdin)
    object["StdinOnce"] = .bool(options.openStdin && attach.stdin)
    object["Env"] = InspectJSON.strings(environment)
    object["Cmd"] = InspectJSON.strings(command)
    if let healthcheck = shownHealthcheck, let value = try? JSON.encodeValue(healthcheck) { object["Healthcheck"] = value }
    object["Image"] = .string(options.image)
    object["Volumes"] = InspectJSON.set(volumes)
    object["WorkingDir"] = .string(options.workingDir ?? imageConfig?.WorkingDir ?? "")
    object["Entrypoint"] = InspectJSON.strings(entrypoint)
    object["OnBuild"] = .null
    object["Labels"] = InspectJSON.map(record.labels)
    if let signal = options.stopSignal ?? imageConfig?.StopSignal, !signal.isEmpty { object["StopSignal"] = .string(signal) }
    if let timeout = options.stopTimeout { object["StopTimeout"] = InspectJSON.number(timeout) }
    return .object(object)
  }

  /// Which streams `run`/`create` attached: none with `-d`; `-a` as given; else stdout and
  /// stderr, and stdin with `-i`.
  var attachedStreams: (stdin: Bool, stdout: Bool, stderr: Bool) {
    let options = record.options
    if options.detach { return (false, false, false) }
    if options.attach.isEmpty { return (options.openStdin, true, true) }
    return (options.attach.contains("stdin"), options.attach.contains("stdout"), options.attach.contains("stderr"))
  }

  /// Docker's Config.Env: the user's variables, then the image's the user did not set. The
  /// variables the engine adds at start (HOSTNAME, TERM, a default PATH) are not part of it.
  var environment: [String] {
    guard let image else {
      let added = ["HOSTNAME=" + record.hostname, "TERM=xterm"]
      return record.env.filter { !added.contains($0) }
    }
    func key(_ entry: String) -> Substring { entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0] }
    let userKeys = Set(record.options.env.map(key))
    return record.options.env + (image.config?.Env ?? []).filter { !userKeys.contains(key($0)) }
  }

  /// Config.Cmd: the arguments after the image, else the image's Cmd (which any
  /// `--entrypoint` drops).
  var command: [String]? {
    if let given = record.options.command { return given }
    if record.options.entrypoint != nil { return nil }
    return image?.config?.Cmd ?? (image == nil ? record.args : nil)
  }

  /// Config.Entrypoint: `--entrypoint` (null when cleared with ""), else the image's.
  var entrypoint: [String]? {
    if let given = record.options.entrypoint { return given.isEmpty ? nil : given }
    return image?.config?.Entrypoint ?? (image == nil ? [record.path] : nil)
  }

  /// Config.Healthcheck: the flags' ("NONE" for `--no-healthcheck`), else the one in force.
  var shownHealthcheck: HealthcheckConfig? {
    if let given = record.options.healthcheck, given.Test?.first == "NONE" { return given }
    return record.healthcheck
  }

  /// Config.Volumes: anonymous `-v /path` volumes and the image's VOLUMEs.
  var volumes: [String] {
    let anonymous = record.options.mounts.filter { $0.origin == .volumeFlag && $0.type == .volume && $0.source == nil }
    return Array(Set(anonymous.map(\.target) + (image?.config?.Volumes ?? [:]).keys))
  }

  /// The container's mounts as Docker's `MountPoint`s (volumes, binds, `--mount` tmpfs).
  func mountsJSON() -> JSONValue {
    .array(record.mounts.compactMap { mount -> JSONValue? in
      let request = mount.request
      switch request.type {
      case .bind:
        return .object([
          "Type": "bind", "Source": InspectJSON.string(mount.hostPath ?? request.source),
          "Destination": .string(request.target), "Mode": .string(request.mode), "RW": .bool(!request.readOnly),
          "Propagation": .string(request.propagation ?? "rprivate"),
        ])
      case .volume:
        return .object([
          "Type": "volume", "Name": InspectJSON.string(request.source), "Source": InspectJSON.string(mount.hostPath),
          "Destination": .string(request.target), "Driver": .string(request.volumeDriver ?? "local"),
          "Mode": .string(request.mode), "RW": .bool(!request.readOnly), "Propagation": "",
        ])
      case .tmpfs:
        // Docker lists `--mount type=tmpfs`, not `--tmpfs`.
        guard request.origin == .mountFlag else { return nil }
        return .object([
          "Type": "tmpfs", "Source": "", "Destination": .string(request.target), "Mode": "",
          "RW": .bool(!request.readOnly), "Propagation": "",
        ])
      }
    })
  }

  /// Docker's `NetworkSettings`. Berth has no bridge networks yet: no addresses, no ports;
  /// `none` and `host` appear as the networks they are.
  func networkSettingsJSON() -> JSONValue {
    let mode = record.options.networkMode
    var sandboxKey = ""
    if state.isRunning, state.pid > 0, mode != "host", !mode.hasPrefix("container:") {
      sandboxKey = "/proc/\(state.pid)/ns/net"
    }
    var networks = JSONObject()
    for name in ContainerSummary.attachedNetworks(of: record) {
      networks[name] = .object([
        "IPAMConfig": .null, "Links": .null, "Aliases": .null, "MacAddress": "", "DriverOpts": .null,
        "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": .number(JSONNumber(0)),
        "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": .number(JSONNumber(0)), "DNSNames": .null,
      ])
    }
    return .object([
      "Bridge": "", "SandboxID": "", "SandboxKey": .string(sandboxKey), "Ports": .object(JSONObject()),
      "HairpinMode": false, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": .number(JSONNumber(0)),
      "SecondaryIPAddresses": .null, "SecondaryIPv6Addresses": .null, "EndpointID": "", "Gateway": "",
      "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": .number(JSONNumber(0)), "IPAddress": "",
      "IPPrefixLen": .number(JSONNumber(0)), "IPv6Gateway": "", "MacAddress": "", "Networks": .object(networks),
    ])
  }
}
