import BerthImages
import BerthJSON
import BerthOCI
import BerthOS
import Foundation

extension ContainerEngine {
  /// `berth create`: a container from an image in the store, ready to start. Everything the
  /// container needs is made here (its row, its directories and overlay mount, its volumes,
  /// its spec). Bad input fails before anything is made; a failure later takes back what was
  /// made.
  public func create(_ options: ContainerOptions) async throws -> ContainerRecord {
    let image = try images.resolve(options.image)
    let imageConfig = try images.config(of: image).config
    let runtime = try RuntimeChoice.resolve(options.runtime)
    let arguments = try SpecBuilder.processArguments(options: options, image: imageConfig)
    guard let program = arguments.first else { throw BerthError(.invalidArgument, "no command specified") }
    if let cidfile = options.cidfile, FS.exists(cidfile) {
      throw BerthError(
        .alreadyExists,
        "container ID file found, make sure the other container isn't running or delete \(cidfile)")
    }
    try checkNetworks(options)
    let config = imageConfig.config ?? ContainerConfig()
    let id = ContainerStore.newID()
    let hostname = options.hostname
      ?? (options.utsMode == "host" || options.networkMode == "host" ? HostFacts.current.hostname : String(id.prefix(12)))
    var record = ContainerRecord(
      id: id, name: options.name ?? "", created: Clock.rfc3339Now(), imageID: image.id.description, options: options,
      path: program, args: Array(arguments.dropFirst()),
      env: SpecBuilder.environment(options: options, image: imageConfig, hostname: hostname),
      workingDir: options.workingDir ?? ((config.WorkingDir ?? "").isEmpty ? "/" : config.WorkingDir ?? "/"),
      user: options.user ?? config.User ?? "", hostname: hostname,
      labels: (config.Labels ?? [:]).merging(options.labels) { _, new in new },
      stopSignal: options.effectiveStopSignal(image: imageConfig), healthcheck: options.effectiveHealthcheck(image: imageConfig),
      runtimeName: runtime.name, runtimePath: runtime.path, mounts: [], anonymousVolumes: [])
    _ = try Signals.parse(record.stopSignal)

    if options.name == nil {
      record = try containers.insertWithGeneratedName(record)
    } else {
      try containers.insert(record)
    }
    do {
      try await withLock(id) {
        record = try await makeContainer(record, image: imageConfig)
      }
    } catch {
      // Take back what was made; the user sees the first error.
      let made = record
      try? await withLock(id) { try await discard(made, files: files(id), removeVolumes: true) }
      throw error
    }
    if let cidfile = options.cidfile {
      try FS.write(cidfile, id)
    }
    return record
  }

  /// Directories, overlay, volumes, /etc files and the spec of a new container.
  private func makeContainer(_ record: ContainerRecord, image: ImageConfig) async throws -> ContainerRecord {
    var record = record
    let id = record.id
    for directory in [layout.container(id), layout.upper(id), layout.work(id), layout.rootfs(id), layout.monitorState(id)] {
      try FS.makeDirectories(directory, mode: 0o700)
    }
    // The overlay's root directory takes the upper directory's mode: 0755 as Docker's
    // overlay2 makes it, or users other than root (`-u 1000`) could not enter "/".
    try check("chmod \(layout.upper(id))") { chmod(layout.upper(id), 0o755) }
    try FS.makeDirectories(layout.container(id), mode: 0o710)
    try prepareRootfs(record)

    // Volumes and binds: named volumes are made when missing (as Docker does), anonymous
    // ones for `-v /path` and the image's VOLUMEs, each filled from the image on first use.
    var resolved: [ResolvedMount] = []
    for request in record.options.mountsToResolve(image: image) {
      var request = request
      switch request.type {
      case .bind:
        guard let source = request.source else { continue }
        if !FS.exists(source) {
          guard request.createSource else {
            throw BerthError(.invalidArgument, "invalid mount config for type \"bind\": bind source path does not exist: \(source)")
          }
          try FS.makeDirectories(source, mode: 0o755)
        }
        resolved.append(ResolvedMount(request, hostPath: source))
      case .volume:
        let volume: VolumeRecord
        let name = request.source ?? ""
        if name.isEmpty {
          volume = try await volumes.create(name: nil, labels: [:], options: [:], anonymous: true, user: id)
          record.anonymousVolumes.append(volume.name)
          request.source = volume.name
        } else if let existing = try? volumes.get(name) {
          volume = existing
        } else {
          volume = try await volumes.create(name: name, labels: request.volumeLabels, options: request.volumeOptions, anonymous: false)
        }
        try volumes.use(volume.name, container: id)
        if !request.noCopy {
          _ = try await volumes.populate(volume.name, rootfs: layout.rootfs(id), path: request.target)
        }
        resolved.append(ResolvedMount(request, hostPath: layout.volumeData(volume.name)))
      case .tmpfs:
        resolved.append(ResolvedMount(request, hostPath: nil))
      }
    }
    record.mounts = resolved

    let hostnamePath = layout.container(id) + "/hostname"
    let hostsPath = layout.container(id) + "/hosts"
    let resolvPath = layout.container(id) + "/resolv.conf"
    try FS.write(hostnamePath, record.hostname + "\n")
    // Without addresses yet: start writes them again once the container's endpoints exist.
    try writeNetworkFiles(record, endpoints: [])

    var spec = try SpecBuilder.build(
      options: record.options, image: image, containerID: id, rootfs: layout.rootfs(id), mounts: resolved,
      hostnamePath: hostnamePath, hostsPath: hostsPath, resolvConfPath: resolvPath,
      initBinary: record.options.runInit ? Executables.find("berth-init") : nil, hostname: record.hostname,
      namespaceResolver: { [self] type, container in
        // The network Berth made for the container: its namespace file, bound at start.
        if type == .network { return try networkNamespacePath(of: container) }
        return try namespacePath(type, of: container)
      })
    if record.options.hasOwnNetwork, let index = spec.linux?.namespaces?.firstIndex(where: { $0.type == .network }) {
      spec.linux?.namespaces?[index].path = attacher.namespacePath(containerID: id)
    }
    try FS.writeAtomically(layout.bundleConfig(id), try JSON.encode(spec), mode: 0o600)
    try containers.update(record)
    return record
  }

  /// "/proc/PID/ns/KIND" of a running container, for `--pid container:NAME` and the like.
  func namespacePath(_ type: NamespaceType, of name: String) throws -> String {
    let other = try containers.resolve(name)
    let state = state(of: other.id)
    guard state.status == .running, state.pid > 0 else {
      throw BerthError(.invalidState, "cannot join the namespaces of container \(other.shortID): it is not running")
    }
    let kind: String
    switch type {
    case .pid: kind = "pid"
    case .network: kind = "net"
    case .ipc: kind = "ipc"
    case .uts: kind = "uts"
    case .mount: kind = "mnt"
    case .user: kind = "user"
    case .cgroup: kind = "cgroup"
    default: kind = "\(type)"
    }
    return "/proc/\(state.pid)/ns/\(kind)"
  }
}

/// The /etc files a container gets from the engine (EtcFiles+Network.swift).
enum EtcFiles {}
