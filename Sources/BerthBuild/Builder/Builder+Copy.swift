import BerthArchive
import BerthEngine
import BerthImages
import BerthOCI
import BerthOS
import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension Builder {
  /// What one COPY source selected: its path in the source tree and the entries to copy.
  struct Selection {
    var path: String
    var entries: [SourceTree.Entry]
    /// A heredoc source's file name (the entries then hold the one file written for it).
    var heredocName: String?
  }

  /// COPY and ADD: the sources (the context, or `--from` a stage or image) written into a
  /// mounted step; the step's upper directory becomes the layer.
  func copyStep(
    _ state: inout BuildState, _ copy: CopyInstruction, isAdd: Bool, environment: [String: String], stage: Int,
    instruction: Instruction
  ) async throws {
    let keyword = isAdd ? "ADD" : "COPY"
    let expander = WordExpander(escape: dockerfile.escape)
    func expand(_ word: String) throws -> String { try expander.expand(word, environment: environment) }
    if copy.parents { throw BerthError(.unsupported, "\(keyword) --parents is not supported by berth build yet") }
    if !copy.excludes.isEmpty { throw BerthError(.unsupported, "\(keyword) --exclude is not supported by berth build yet") }
    let sources = try copy.sources.map(expand)
    let destination = try expand(copy.destination)
    for source in sources where Self.isURL(source) {
      if isAdd {
        throw BerthError(
          .unsupported,
          "ADD from a URL needs the network: berth build does not download (\(source)); download the file into the build context and COPY it")
      }
      throw BerthError(.invalidArgument, "COPY cannot copy from a URL (\(source)); use ADD, or download it into the context")
    }
    let chown = try copy.chown.map(expand)
    var chmod: mode_t?
    if let text = try copy.chmod.map(expand) {
      guard let value = mode_t(text, radix: 8), value <= 0o7777 else {
        throw BerthError(.invalidArgument, "--chmod=\(text): give an octal mode such as 755")
      }
      chmod = value
    }
    if sources.count + copy.heredocs.count > 1 && !destination.hasSuffix("/") {
      throw BerthError(
        .invalidArgument, "with more than one source, the destination must be a directory and end with a /: \(destination)")
    }

    // Where the files come from, and what names the content for the cache key.
    var fromState: BuildState?
    var flags: [String] = []
    if let raw = copy.from {
      let name = try expand(raw)
      flags.append("--from=" + name)
      if let index = dockerfile.stageIndex(forReference: name, before: stage) {
        guard let built = stageResults[index] else { throw BerthError(.internalError, "stage \(name) was not built") }
        fromState = built
      } else if dockerfile.stageIndex(forReference: name) != nil {
        throw BerthError(.invalidArgument, "--from=\(name) names a stage defined after this one (or this one)")
      } else {
        fromState = try await imageState(name)
      }
    }
    if let chown { flags.append("--chown=" + chown) }
    if let chmod { flags.append("--chmod=" + String(chmod, radix: 8)) }
    let createdBy = ([keyword] + flags + sources + copy.heredocs.map { "<<" + $0.name } + [destination]).joined(separator: " ")
    let heredocs = try copy.heredocs.map {
      ($0.name, $0.expand ? try expander.expandHeredoc($0.content, environment: environment) : $0.content)
    }

    let contextTree = SourceTree(root: request.contextDirectory, excluded: contextExclusion())
    var contentKey: String
    if let fromState {
      contentKey = "from-state=" + fromState.id
    } else {
      contentKey = try contentDigest(tree: contextTree, sources: sources, heredocs: heredocs)
    }
    let key = BuildCache.key([state.id, createdBy, contentKey, state.containerConfig.WorkingDir ?? ""])
    if !request.noCache, let entry = cache.lookup(key) {
      state.apply(entry, key: key)
      noteMetadata(cached: true)
      return
    }

    let started = Clock.monotonicNanoseconds()
    let lowers = state.lowerDirectories(engine.images.layout)
    let mount = try StepMount(buildRoot: buildRoot, lowers: lowers)
    defer { mount.remove() }
    var sourceMount: StepMount?
    defer { sourceMount?.remove() }
    let tree: SourceTree
    if let fromState {
      let made = try StepMount(buildRoot: buildRoot, lowers: fromState.lowerDirectories(engine.images.layout))
      sourceMount = made
      tree = SourceTree(root: made.rootfs, excluded: { _, _ in false })
    } else {
      tree = contextTree
    }
    var selections: [Selection] = []
    for source in sources {
      for path in try tree.select(source) {
        selections.append(Selection(path: path, entries: try tree.entries(under: path)))
      }
    }
    if !heredocs.isEmpty {
      let directory = mount.directory + "/heredocs"
      try FS.makeDirectories(directory, mode: 0o700)
      let heredocTree = SourceTree(root: directory, excluded: { _, _ in false })
      for (index, (name, content)) in heredocs.enumerated() {
        try FS.write(directory + "/\(index)", content, mode: 0o644)
        selections.append(Selection(path: "\(index)", entries: try heredocTree.entries(under: "\(index)"), heredocName: name))
      }
    }

    let writer = try RootedWriter(root: mount.rootfs)
    let owner = try chown.map { try Self.owner($0, rootfs: mount.rootfs) }
    let workdir = (state.containerConfig.WorkingDir ?? "").isEmpty ? "/" : state.containerConfig.WorkingDir ?? "/"
    let target = Path.clean(destination.hasPrefix("/") ? destination : Path.join(workdir, destination))
    let targetIsDirectory = destination.hasSuffix("/") || destination.hasSuffix("/.") || destination == "."
    var copiedTimes: [String: timespec] = [:]
    var newest = 0
    // Files with several links in the source stay one file (device, inode → first copy).
    var linked: [String: String] = [:]
    func copyEntry(_ entry: SourceTree.Entry, to path: String) throws {
      let identity = "\(entry.info.st_dev):\(entry.info.st_ino)"
      if entry.type == S_IFREG, entry.info.st_nlink > 1, let first = linked[identity] {
        try writer.link(first, as: path)
        return
      }
      try writer.copy(source: entry.hostPath, to: path, owner: owner, mode: chmod)
      if entry.type == S_IFREG, entry.info.st_nlink > 1 { linked[identity] = path }
    }
    for selection in selections {
      guard let top = selection.entries.first else { continue }
      for entry in selection.entries { newest = max(newest, entry.info.st_mtim.tv_sec) }
      if top.type == S_IFDIR {
        // A directory's contents go into the destination, not the directory itself.
        try writer.makeDirectories(target, owner: owner)
        for entry in selection.entries.dropFirst() {
          let relative = String(entry.path.dropFirst(selection.path.isEmpty ? 0 : selection.path.count + 1))
          let path = Path.join(target, relative)
          try copyEntry(entry, to: path)
          if entry.type == S_IFDIR { copiedTimes[path] = entry.info.st_mtim }
        }
      } else if isAdd, top.type == S_IFREG, selection.heredocName == nil, try Self.isArchive(top.hostPath) {
        let directory = try writer.makeDirectories(target, owner: owner)
        try Self.extract(top.hostPath, into: "/proc/self/fd/\(directory.raw)")
      } else {
        let name = selection.heredocName ?? Path.basename(top.path)
        let path = targetIsDirectory || writer.isDirectory(target) ? Path.join(target, name) : target
        try copyEntry(top, to: path)
      }
    }
    try mount.unmount()
    try TimeNormalizer.normalize(upper: mount.upper, lowers: lowers, copied: copiedTimes, newTime: newest)
    let layer = try await committer.commitLayer(
      fromDirectory: mount.upper, parentChainID: state.topChainID, clampMTime: request.sourceDateEpoch)
    let entry = CacheEntry(layer: CachedLayer(layer), config: state.containerConfig, history: History(created: now(), created_by: createdBy))
    try? cache.save(key, entry)
    state.apply(entry, key: key)
    stepsRun += 1
    output.line(" ---> Done in \(BuildOutput.seconds(since: started))")
  }

  /// The digest of everything the sources select from the context: paths, types, modes,
  /// sizes, data and link targets (not owners or times: COPY sets the owner, and Docker's
  /// cache ignores times).
  func contentDigest(tree: SourceTree, sources: [String], heredocs: [(String, String)]) throws -> String {
    var parts: [String] = []
    for source in sources {
      parts.append("source " + source)
      for path in try tree.select(source) {
        for entry in try tree.entries(under: path) {
          var line = "\(entry.path) \(String(entry.info.st_mode, radix: 8))"
          switch entry.type {
          case S_IFREG: line += " \(entry.info.st_size) " + (try digest(of: entry))
          case S_IFLNK: line += " -> " + (try FS.readLink(entry.hostPath))
          default: break
          }
          parts.append(line)
        }
      }
    }
    for (name, content) in heredocs { parts.append("heredoc \(name)\n\(content)") }
    return BuildCache.key(parts)
  }

  /// A context file's data digest, once per build (stages often copy the same files).
  func digest(of entry: SourceTree.Entry) throws -> String {
    let stamp = "\(entry.info.st_dev):\(entry.info.st_ino):\(entry.info.st_size):\(entry.info.st_mtim.tv_sec).\(entry.info.st_mtim.tv_nsec)"
    if let known = fileDigests[entry.hostPath], known.stamp == stamp { return known.digest }
    let digest = try fileDigest(entry.hostPath)
    fileDigests[entry.hostPath] = (stamp, digest)
    return digest
  }

  /// `--chown=USER[:GROUP]` against the image's /etc/passwd and /etc/group. A user without a
  /// group takes the same number as its group (Docker's rule).
  static func owner(_ spec: String, rootfs: String) throws -> (uid: UInt32, gid: UInt32) {
    let resolved = try UserResolver.resolve(spec, rootfs: rootfs)
    if !spec.contains(":") { return (resolved.user.uid, resolved.user.uid) }
    return (resolved.user.uid, resolved.user.gid)
  }

  static func isURL(_ source: String) -> Bool {
    let lowered = source.lowercased()
    return lowered.hasPrefix("http://") || lowered.hasPrefix("https://") || lowered.hasPrefix("git@")
  }

  /// Whether ADD extracts this file: a tar, plain or compressed. bzip2 and xz tars are
  /// refused (Berth's archive reader takes gzip and zstd).
  static func isArchive(_ path: String) throws -> Bool {
    let fd = try OwnedFD.open(path, O_RDONLY)
    var head = [UInt8](repeating: 0, count: 512)
    let count = head.withUnsafeMutableBytes { read(fd.raw, $0.baseAddress, $0.count) }
    guard count > 0 else { return false }
    let bytes = head[0..<count]
    if bytes.starts(with: [0x42, 0x5a, 0x68]) || bytes.starts(with: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) {
      throw BerthError(
        .unsupported,
        "ADD \(Path.basename(path)): bzip2 and xz archives are not supported yet; recompress it with gzip or zstd")
    }
    let compressed = bytes.starts(with: [0x1f, 0x8b]) || bytes.starts(with: [0x28, 0xb5, 0x2f, 0xfd])
    let ustar = count >= 262 && Array(head[257..<262]) == Array("ustar".utf8)
    guard compressed || ustar else { return false }
    guard let reader = try? TarReader(file: path) else { return false }
    return (try? reader.next()) != nil
  }

  /// Unpacks a tar into a directory (given as a path that reaches it).
  static func extract(_ archive: String, into directory: String) throws {
    _ = try LayerUnpacker.unpack(
      file: archive, into: directory, compression: nil, options: UnpackOptions(preserveOwners: true, overlayWhiteouts: false))
  }

  func contextExclusion() -> (String, Bool) -> Bool {
    contextExcluded ?? { _, _ in false }
  }
}
