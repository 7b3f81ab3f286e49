import BerthJSON
import BerthNetwork
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
    let exposed = exposedPortKeys
    if !exposed.isEmpty { object["ExposedPorts"] = InspectJSON.set(exposed) }
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

  /// Docker's `NetworkSettings`: the endpoints the container has (network.json) and the
  /// networks it is configured for; the default bridge's endpoint also fills the top-level
  /// address fields, as Docker does.
  func networkSettingsJSON() -> JSONValue {
    let mode = record.options.networkMode
    let saved = networkState
    var sandboxKey = ""
    if let saved {
      sandboxKey = saved.netns
    } else if state.isRunning, state.pid > 0, mode != "host", !mode.hasPrefix("container:") {
      sandboxKey = "/proc/\(state.pid)/ns/net"
    }
    var networks = JSONObject()
    if !record.options.hasOwnNetwork && !mode.hasPrefix("container:") {
      networks[mode] = endpointJSON(name: mode, request: nil, endpoint: nil)
    }
    for request in record.options.networks {
      let endpoint = saved?.endpoints.first { $0.network == request.network || $0.networkID == request.network }
      networks[endpoint?.network ?? request.network] = endpointJSON(name: request.network, request: request, endpoint: endpoint)
    }
    // Endpoints made by a `network connect` the configuration no longer lists (never both).
    for endpoint in saved?.endpoints ?? [] where networks[endpoint.network] == nil {
      networks[endpoint.network] = endpointJSON(name: endpoint.network, request: nil, endpoint: endpoint)
    }
    let main = saved?.endpoints.first { $0.network == "bridge" }
    return .object([
      "Bridge": "", "SandboxID": .string(saved == nil ? "" : StableID.make(record.id, "sandbox")),
      "SandboxKey": .string(sandboxKey), "Ports": portsJSON(saved),
      "HairpinMode": false, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": .number(JSONNumber(0)),
      "SecondaryIPAddresses": .null, "SecondaryIPv6Addresses": .null,
      "EndpointID": .string(main.map { StableID.make(record.id, $0.networkID) } ?? ""),
      "Gateway": .string(main?.gateway ?? ""), "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": .number(JSONNumber(0)),
      "IPAddress": .string(main?.ip ?? ""), "IPPrefixLen": .number(JSONNumber(main?.prefixLength ?? 0)), "IPv6Gateway": "",
      "MacAddress": .string(main?.mac ?? ""), "Networks": .object(networks),
    ])
  }

  /// One entry of NetworkSettings.Networks.
  func endpointJSON(name: String, request: EndpointRequest?, endpoint: Endpoint?) -> JSONValue {
    var ipam: JSONValue = .null
    if let ip = request?.ip { ipam = .object(["IPv4Address": .string(ip)]) }
    let aliases = endpoint?.aliases ?? request?.aliases ?? []
    var dnsNames: JSONValue = .null
    if let endpoint, name != "bridge" { dnsNames = InspectJSON.strings(ContainerEngine.dnsNames(record, endpoint)) }
    return .object([
      "IPAMConfig": ipam, "Links": .null, "Aliases": InspectJSON.stringsOrNull(aliases),
      "MacAddress": .string(endpoint?.mac ?? request?.mac ?? ""), "DriverOpts": .null,
      "NetworkID": .string(endpoint?.networkID ?? ""),
      "EndpointID": .string(endpoint.map { StableID.make(record.id, $0.networkID) } ?? ""),
      "Gateway": .string(endpoint?.gateway ?? ""), "IPAddress": .string(endpoint?.ip ?? ""),
      "IPPrefixLen": .number(JSONNumber(endpoint?.prefixLength ?? 0)),
      "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": .number(JSONNumber(0)), "DNSNames": dnsNames,
    ])
  }

  /// "80/tcp": [{HostIp, HostPort}] for each published port, null for one only exposed.
  func portsJSON(_ saved: ContainerNetworkState?) -> JSONValue {
    guard let saved else { return .object(JSONObject()) }
    var object = JSONObject()
    for key in exposedPortKeys { object[key] = .null }
    for port in saved.ports {
      var bindings = object[port.containerKey]?.arrayValue ?? []
      bindings.append(.object(["HostIp": .string(port.shownHostIP), "HostPort": .string(String(port.hostPort))]))
      object[port.containerKey] = .array(bindings)
    }
    return .object(JSONObject(object.sorted { $0.0 < $1.0 }.map { ($0.0, $0.1) }))
  }

  /// The container's network.json, when it has endpoints.
  var networkState: ContainerNetworkState? { ContainerNetworkState.load(layout, record.id) }

  /// The image's EXPOSE, `--expose` and the ports `-p` publishes.
  var exposedPortKeys: [String] {
    let keys = Set(Array((image?.config?.ExposedPorts ?? [:]).keys) + record.options.expose + record.options.publish.map(\.containerKey))
    return keys.sorted()
  }
}
