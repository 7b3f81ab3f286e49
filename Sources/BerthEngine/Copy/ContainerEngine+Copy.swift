import BerthOS
import Foundation

/// `berth cp` flags.
public struct CopyOptions: Sendable {
  /// `-L`: follow a symlink given as the source.
  public var followLink = false
  /// `-a`: keep the source's owners (otherwise the destination's root, or the user running
  /// berth on the host, owns what is copied).
  public var archive = false

  public init(followLink: Bool = false, archive: Bool = false) {
    self.followLink = followLink
    self.archive = archive
  }
}

/// Why a copy failed, and on which side: Docker reports the container side's errors as the
/// daemon's ("Error response from daemon: …"), the host side's as the client's.
public struct CopyError: Error, CustomStringConvertible, Sendable {
  public enum Side: Sendable { case container, host }
  public var side: Side
  public var message: String

  public init(_ side: Side, _ message: String) {
    self.side = side
    self.message = message
  }

  public var description: String { message }
}

extension ContainerEngine {
  /// `berth cp CONTAINER:PATH HOSTPATH`. Returns the bytes of file content copied.
  public func copyFromContainer(_ record: ContainerRecord, path: String, toHost hostPath: String, options: CopyOptions = CopyOptions()) async throws -> Int64 {
    try await withContainerTree(record) { tree in
      let source = try locateSource(tree, path: path, record: record, followLink: options.followLink)
      let host = try ContainerTree(root: "/")
      let destination = try locateHostDestination(host, path: hostPath)
      let plan = try CopyPlan.make(source: source, destination: destination)
      let owner = options.archive ? nil : (uid: geteuid(), gid: getegid())
      let writer = TreeWriter(tree: host, base: plan.base, topName: plan.topName, owner: owner)
      try hostSide { try TreeReader(tree: tree, sink: writer).copy(source.location) }
      return writer.bytes
    }
  }

  /// `berth cp CONTAINER:PATH -`: a tar stream of the path on `fd`.
  public func copyFromContainer(_ record: ContainerRecord, path: String, toTarStream fd: Int32, options: CopyOptions = CopyOptions()) async throws -> Int64 {
    try await withContainerTree(record) { tree in
      let source = try locateSource(tree, path: path, record: record, followLink: options.followLink)
      let prefix = source.contentsOnly ? "." : (source.name.isEmpty ? "." : String(decoding: source.name, as: UTF8.self))
      let reader = TreeReader(tree: tree, sink: try TarCopySink(fileDescriptor: fd, prefix: prefix))
      try reader.copy(source.location)
      return reader.bytes
    }
  }

  /// `berth cp HOSTPATH CONTAINER:PATH`.
  public func copyToContainer(_ record: ContainerRecord, fromHost hostPath: String, path: String, options: CopyOptions = CopyOptions()) async throws -> Int64 {
    let host = try ContainerTree(root: "/")
    let source = try hostSide { () throws -> CopySource in
      let absolute = Path.absolute(hostPath)
      let location = try host.resolve(absolute, followFinal: options.followLink || CopySource.assertsDirectory(hostPath))
      guard let info = try location.stat() else { throw CopyError(.host, "lstat \(absolute): no such file or directory") }
      let source = CopySource(location: location, info: info, given: hostPath)
      if CopySource.assertsDirectory(hostPath) && !source.isDirectory { throw CopyError(.host, "\(absolute): not a directory") }
      return source
    }
    return try await withContainerTree(record) { tree in
      let destination = try locateContainerDestination(tree, path: path, record: record)
      let plan = try CopyPlan.make(source: source, destination: destination)
      try checkWritable(record, plan.base)
      let writer = TreeWriter(tree: tree, base: plan.base, topName: plan.topName, owner: options.archive ? nil : (uid: 0, gid: 0))
      try containerSide { try TreeReader(tree: host, sink: writer).copy(source.location) }
      return writer.bytes
    }
  }

  /// `berth cp - CONTAINER:DIR`: extracts the tar stream on `fd` into the directory DIR.
  public func copyToContainer(_ record: ContainerRecord, fromTarStream fd: Int32, path: String, options: CopyOptions = CopyOptions()) async throws -> Int64 {
    try await withContainerTree(record) { tree in
      let destination = try locateContainerDestination(tree, path: path, record: record)
      guard destination.isDirectory else {
        throw CopyError(.host, "destination \"\(record.name):\(path)\" must be a directory")
      }
      try checkWritable(record, destination.location.components)
      let writer = TreeWriter(
        tree: tree, base: destination.location.components, topName: nil, owner: options.archive ? nil : (uid: 0, gid: 0))
      return try containerSide { try TarCopySource.copy(from: fd, into: writer) }
    }
  }

  // MARK: the container's files

  /// Runs `body` with the container's file tree as the container sees it. A running
  /// container's own root (/proc/PID/root) shows its mounts as they are; a stopped one's
  /// root filesystem is mounted if it is not (a reboot unmounts it) and its volumes and binds
  /// are found through the record, all under the container's lock so that it does not start
  /// meanwhile.
  func withContainerTree<T>(_ record: ContainerRecord, _ body: (ContainerTree) async throws -> T) async throws -> T {
    if let tree = try runningTree(record) { return try await body(tree) }
    return try await withLock(record.id) {
      if let tree = try runningTree(record) { return try await body(tree) }
      try prepareRootfs(record)
      var mounts: [ContainerTree.MountPoint] = []
      for mount in record.mounts {
        guard let hostPath = mount.hostPath else { continue }
        if mount.request.type == .volume, let name = mount.request.source { try await volumes.mountIfNeeded(name) }
        mounts.append(ContainerTree.MountPoint(destination: ContainerTree.components(mount.request.target), hostPath: hostPath))
      }
      return try await body(try ContainerTree(root: layout.rootfs(record.id), mounts: mounts))
    }
  }

  private func runningTree(_ record: ContainerRecord) throws -> ContainerTree? {
    let state = state(of: record.id)
    guard state.status == .running || state.status == .paused, state.pid > 0,
      MonitorFiles.processIsContainer(state.pid, directory: layout.monitorState(record.id))
    else { return nil }
    return try ContainerTree(root: "/proc/\(state.pid)/root")
  }

  /// The source in the container, with Docker's errors.
  private func locateSource(_ tree: ContainerTree, path: String, record: ContainerRecord, followLink: Bool) throws -> CopySource {
    let absolute = path.hasPrefix("/") ? path : "/" + path
    let location: ContainerTree.Location
    do {
      location = try tree.resolve(absolute, followFinal: followLink || CopySource.assertsDirectory(path))
    } catch let error as BerthError {
      throw error.errno == ENOENT ? notFound(absolute, record) : CopyError(.container, error.message)
    }
    guard let info = try location.stat() else { throw notFound(absolute, record) }
    let source = CopySource(location: location, info: info, given: absolute)
    if CopySource.assertsDirectory(path) && !source.isDirectory { throw CopyError(.container, "not a directory") }
    return source
  }

  private func notFound(_ path: String, _ record: ContainerRecord) -> CopyError {
    CopyError(.container, "Could not find the file \(path) in container \(record.name)")
  }

  private func locateContainerDestination(_ tree: ContainerTree, path: String, record: ContainerRecord) throws -> CopyDestination {
    let absolute = path.hasPrefix("/") ? path : "/" + path
    do {
      return CopyDestination(location: try tree.resolve(absolute, followFinal: true), given: path)
    } catch let error as BerthError {
      // A missing directory on the way: the parent Docker would extract into is not there.
      if error.errno == ENOENT { throw notFound(Path.dirname(absolute), record) }
      throw CopyError(.container, error.message)
    }
  }

  private func locateHostDestination(_ tree: ContainerTree, path: String) throws -> CopyDestination {
    try hostSide { CopyDestination(location: try tree.resolve(Path.absolute(path), followFinal: true), given: path) }
  }

  /// Docker refuses to write into a read-only root filesystem or read-only mount.
  private func checkWritable(_ record: ContainerRecord, _ components: [[UInt8]]) throws {
    let path = ContainerTree.display(components)
    let mount = record.mounts
      .filter { path == $0.request.target || path.hasPrefix($0.request.target == "/" ? "/" : $0.request.target + "/") }
      .max { $0.request.target.count < $1.request.target.count }
    if let mount {
      if mount.request.readOnly { throw CopyError(.container, "mounted volume is marked read-only") }
    } else if record.options.readOnly {
      throw CopyError(.container, "container rootfs is marked read-only")
    }
  }

  /// Errors of the body are the host's (unless they say otherwise).
  private func hostSide<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as BerthError { throw CopyError(.host, error.message) }
  }

  private func containerSide<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as BerthError { throw CopyError(.container, error.message) }
  }
}

/// What is copied: an existing file or directory.
struct CopySource {
  let location: ContainerTree.Location
  let info: stat
  /// The name the copy takes when it goes into a directory: the last component as given
  /// (a followed symlink keeps its own name, as with Docker).
  let name: [UInt8]
  /// "DIR/." copies what is in DIR, not DIR itself.
  let contentsOnly: Bool

  init(location: ContainerTree.Location, info: stat, given: String) {
    self.location = location
    self.info = info
    let cleaned = Path.clean(given)
    name = cleaned == "/" || cleaned == "." ? [] : Array(Path.basename(cleaned).utf8)
    contentsOnly = given.hasSuffix("/.") || given == "."
  }

  var isDirectory: Bool { info.st_mode & S_IFMT == S_IFDIR }

  /// A trailing "/" or "/." says the path must be a directory.
  static func assertsDirectory(_ path: String) -> Bool { path.hasSuffix("/") || path.hasSuffix("/.") }
}

/// Where a copy goes, as given and as resolved.
struct CopyDestination {
  let location: ContainerTree.Location
  let given: String

  var exists: Bool { location.exists }
  var isDirectory: Bool { ((try? location.stat()) ?? nil).map { $0.st_mode & S_IFMT == S_IFDIR } ?? false }
}

/// Docker's rules for where a copy lands (`docker cp`'s reference):
///
/// | source    | destination          | result                                   |
/// |-----------|----------------------|------------------------------------------|
/// | file      | missing              | saved as the destination                 |
/// | file      | missing, ends in "/" | error: the directory must exist          |
/// | file      | file                 | overwritten                              |
/// | file      | directory            | copied into it, under the source's name  |
/// | directory | missing              | made, with the source's contents         |
/// | directory | file                 | error                                    |
/// | directory | directory            | copied into it; with "/." its contents   |
struct CopyPlan {
  /// The directory (resolved, in the destination's tree) that receives the top entry.
  var base: [[UInt8]]
  /// The top entry's name there; nil to merge a directory's contents into `base`.
  var topName: [UInt8]?

  static func make(source: CopySource, destination: CopyDestination) throws -> CopyPlan {
    let resolved = destination.location.components
    if destination.exists && destination.isDirectory {
      if source.isDirectory && (source.contentsOnly || source.name.isEmpty) { return CopyPlan(base: resolved, topName: nil) }
      return CopyPlan(base: resolved, topName: source.name)
    }
    if destination.exists {
      if source.isDirectory { throw CopyError(.host, "cannot copy a directory to a file: \(destination.given)") }
      return CopyPlan(base: Array(resolved.dropLast()), topName: resolved.last)
    }
    if !source.isDirectory && CopySource.assertsDirectory(destination.given) {
      throw CopyError(.host, "destination directory \(destination.given) must exist")
    }
    guard let name = resolved.last else { throw CopyError(.host, "invalid destination \(destination.given)") }
    return CopyPlan(base: Array(resolved.dropLast()), topName: name)
  }
}
