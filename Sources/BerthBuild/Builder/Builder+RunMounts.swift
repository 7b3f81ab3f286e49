import BerthImages
import BerthOCI
import BerthOS
import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension Builder {
  /// One `RUN --mount=...`, checked.
  enum StepMountRequest {
    /// A directory kept between builds under `<root>/build-mounts/<id>` (`type=cache`).
    case cache(target: String, id: String, mode: mode_t, uid: UInt32, gid: UInt32)
    case tmpfs(target: String, size: String?)
    /// A path of the context or of a stage or image (`from=`), read-only (`type=bind`).
    case bind(target: String, source: String, from: String?)
  }

  /// Reads the mounts of a RUN; unsupported kinds and options are clear errors.
  func mountRequests(_ mounts: [RunMount], expand: (String) throws -> String, workdir: String) throws -> [StepMountRequest] {
    try mounts.map { mount in
      var options: [String: String] = [:]
      for pair in mount.options { options[pair.key] = try expand(pair.value) }
      guard ["cache", "tmpfs", "bind"].contains(mount.type) else {
        throw BerthError(
          .unsupported, "RUN --mount=type=\(mount.type) is not supported by berth build yet (cache, tmpfs and bind are)")
      }
      func absolute(_ path: String) -> String { Path.clean(path.hasPrefix("/") ? path : Path.join(workdir, path)) }
      guard let target = options["target"] ?? options["dst"] ?? options["destination"], !target.isEmpty else {
        throw BerthError(.invalidArgument, "RUN --mount=type=\(mount.type): give target=PATH")
      }
      func number(_ key: String, radix: Int = 10, default value: UInt32) throws -> UInt32 {
        guard let text = options[key] else { return value }
        guard let parsed = UInt32(text, radix: radix) else {
          throw BerthError(.invalidArgument, "RUN --mount: \(key)=\(text) is not a number")
        }
        return parsed
      }
      switch mount.type {
      case "cache":
        return .cache(
          target: absolute(target), id: options["id"] ?? absolute(target), mode: mode_t(try number("mode", radix: 8, default: 0o755)),
          uid: try number("uid", default: 0), gid: try number("gid", default: 0))
      case "tmpfs":
        return .tmpfs(target: absolute(target), size: options["size"])
      case "bind":
        if options.keys.contains("rw") || options.keys.contains("readwrite") {
          throw BerthError(.unsupported, "RUN --mount=type=bind,rw is not supported by berth build yet; drop rw (the mount is read-only)")
        }
        return .bind(target: absolute(target), source: options["source"] ?? options["src"] ?? "/", from: options["from"])
      default:
        throw BerthError(
          .unsupported, "RUN --mount=type=\(mount.type) is not supported by berth build yet (cache, tmpfs and bind are)")
      }
    }
  }

  /// What the mounts add to the step's cache key: their options, and for binds what they show.
  func mountKey(_ requests: [StepMountRequest], stage: Int) async throws -> [String] {
    var parts: [String] = []
    for item in requests {
      switch item {
      case .cache(let target, let id, let mode, let uid, let gid):
        parts.append("cache \(target) \(id) \(String(mode, radix: 8)) \(uid):\(gid)")
      case .tmpfs(let target, let size):
        parts.append("tmpfs \(target) \(size ?? "")")
      case .bind(let target, let source, let from):
        if let from {
          parts.append("bind \(target) \(source) from=\(try await mountSourceState(from, stage: stage).id)")
        } else {
          let tree = SourceTree(root: request.contextDirectory, excluded: contextExclusion())
          parts.append("bind \(target) \(source) " + (try contentDigest(tree: tree, sources: [source], heredocs: [])))
        }
      }
    }
    return parts
  }

  /// The state a `from=` names: an earlier stage, or an image.
  func mountSourceState(_ name: String, stage: Int) async throws -> BuildState {
    if let index = dockerfile.stageIndex(forReference: name, before: stage), let built = stageResults[index] { return built }
    if dockerfile.stageIndex(forReference: name) != nil {
      throw BerthError(.invalidArgument, "from=\(name) names a stage defined after this one (or this one)")
    }
    return try await imageState(name)
  }

  /// The runtime mounts; `keep` holds the source overlays of `from=` binds until the step ends.
  func runtimeMounts(_ requests: [StepMountRequest], stage: Int, keep: inout [StepMount]) async throws -> [Mount] {
    var result: [Mount] = []
    for item in requests {
      switch item {
      case .cache(let target, let id, let mode, let uid, let gid):
        let directory = engine.layout.root + "/build-mounts/" + BuildCache.key(["cache", id])
        if !FS.isDirectory(directory) {
          try FS.makeDirectories(directory, mode: mode)
          try check("chown \(directory)") { chown(directory, uid, gid) }
          try check("chmod \(directory)") { chmod(directory, mode) }
        }
        result.append(Mount(destination: target, type: "bind", source: directory, options: ["rbind", "rw"]))
      case .tmpfs(let target, let size):
        var options = ["nosuid", "nodev"]
        if let size { options.append("size=" + size) }
        result.append(Mount(destination: target, type: "tmpfs", source: "tmpfs", options: options))
      case .bind(let target, let source, let from):
        let tree: SourceTree
        if let from {
          let state = try await mountSourceState(from, stage: stage)
          let mount = try StepMount(buildRoot: buildRoot, lowers: state.lowerDirectories(engine.images.layout))
          keep.append(mount)
          tree = SourceTree(root: mount.rootfs, excluded: { _, _ in false })
        } else {
          tree = SourceTree(root: request.contextDirectory, excluded: contextExclusion())
        }
        let path = try tree.resolve(SourceTree.relative(source))
        guard FS.exists(tree.hostPath(path)) else {
          throw BerthError(.notFound, "RUN --mount source \(source): not found\(from == nil ? " in the build context" : " in \(from ?? "")")")
        }
        result.append(Mount(destination: target, type: "bind", source: tree.hostPath(path), options: ["rbind", "ro"]))
      }
    }
    return result
  }
}
