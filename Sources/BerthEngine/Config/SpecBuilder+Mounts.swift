#if canImport(Glibc)
import Glibc
#endif
import BerthOCI
import BerthOS

extension SpecBuilder {
  /// Docker's default mounts, in Docker's order; /dev/shm gets its size from `--shm-size`.
  public static func defaultMounts(shmSize: Int64 = ContainerOptions.defaultShmSize) -> [Mount] {
    [
      Mount(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]),
      Mount(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
      Mount(
        destination: "/dev/pts", type: "devpts", source: "devpts",
        options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
      Mount(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
      Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["ro", "nosuid", "noexec", "nodev"]),
      Mount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
      Mount(
        destination: "/dev/shm", type: "tmpfs", source: "shm",
        options: ["nosuid", "noexec", "nodev", "mode=1777", "size=\(shmSize)"]),
    ]
  }

  /// The number of components of a mount's destination: Docker mounts shallower ones first.
  static func depth(_ destination: String) -> Int {
    Path.clean(destination).utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "/") ? 1 : 0) }
  }

  /// Default mounts, then the user's mounts, the container's /etc files and its /dev/shm,
  /// sorted by depth; Docker's read-only and privileged adjustments.
  static func addMounts(
    to spec: inout Spec, options: ContainerOptions, mounts: [ResolvedMount], hostnamePath: String?,
    hostsPath: String?, resolvConfPath: String?, shmPath: String?, host: HostFacts
  ) throws {
    // Docker ≥ 25 makes read-only binds recursively read-only where the kernel can (5.12+).
    let readOnlyOption = host.kernelAtLeast("5.12") ? "rro" : "ro"
    var userMounts: [Mount] = []
    var rootPropagation: String?
    for mount in mounts {
      let request = mount.request
      switch request.type {
      case .tmpfs:
        let merged: [String]
        do { merged = try TmpfsOptions.merge(TmpfsOptions.defaults + request.tmpfsOptions) } catch {
          throw BerthError(.invalidArgument, error.text)
        }
        userMounts.append(Mount(destination: request.target, type: "tmpfs", source: "tmpfs", options: merged))
      case .bind, .volume:
        guard let source = mount.hostPath, !source.isEmpty else {
          throw BerthError(.internalError, "mount on \(request.target): no host path was given for the \(request.type.rawValue)")
        }
        var mountOptions = [request.nonRecursive ? "bind" : "rbind"]
        if request.readOnly { mountOptions.append(readOnlyOption) }
        if request.type == .bind {
          let propagation = request.propagation ?? MountParsing.defaultPropagation
          mountOptions.append(propagation)
          if propagation.hasSuffix("shared") {
            rootPropagation = "shared"
          } else if propagation.hasSuffix("slave"), rootPropagation != "shared" {
            rootPropagation = "rslave"
          }
        }
        userMounts.append(Mount(destination: request.target, type: "bind", source: source, options: mountOptions))
      }
    }
    var taken = Set(userMounts.map(\.destination))
    func addFile(_ path: String?, at destination: String) {
      guard let path, !taken.contains(destination) else { return }
      var fileOptions = ["rbind"]
      if options.readOnly { fileOptions.append(readOnlyOption) }
      fileOptions.append(MountParsing.defaultPropagation)
      userMounts.append(Mount(destination: destination, type: "bind", source: path, options: fileOptions))
      taken.insert(destination)
    }
    addFile(resolvConfPath, at: "/etc/resolv.conf")
    addFile(hostnamePath, at: "/etc/hostname")
    addFile(hostsPath, at: "/etc/hosts")
    if !taken.contains("/dev/shm") {
      var shmSource: String?
      if options.ipcMode == "host" {
        shmSource = "/dev/shm"
      } else if options.ipcMode == "shareable" || ContainerOptions.containerReference(options.ipcMode) != nil {
        shmSource = shmPath
      }
      if let shmSource {
        userMounts.append(Mount(destination: "/dev/shm", type: "bind", source: shmSource, options: ["rbind", "rprivate"]))
        taken.insert("/dev/shm")
      }
    }
    userMounts = stableSortedByDepth(userMounts)

    let mountsDev = taken.contains("/dev")
    var result: [Mount] = []
    for var mount in defaultMounts(shmSize: options.resources.shmSize) {
      if taken.contains(mount.destination) { continue }
      if mountsDev && mount.destination.hasPrefix("/dev/") { continue }
      if mount.destination == "/dev/shm" && options.ipcMode == "none" { continue }
      if options.readOnly && !["/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev"].contains(mount.destination),
         !(mount.options ?? []).contains("ro") {
        mount.options = (mount.options ?? []) + ["ro"]
      }
      if options.privileged && (mount.destination == "/sys" || mount.type == "cgroup") {
        mount.options = mount.options?.filter { $0 != "ro" }
      }
      result.append(mount)
    }
    spec.mounts = result + userMounts
    if let rootPropagation { spec.linux?.rootfsPropagation = rootPropagation }
  }

  static func stableSortedByDepth(_ mounts: [Mount]) -> [Mount] {
    mounts.enumerated().sorted { a, b in
      let (da, db) = (depth(a.element.destination), depth(b.element.destination))
      return da != db ? da < db : a.offset < b.offset
    }.map(\.element)
  }

  // MARK: Devices

  /// Device nodes to create and cgroup rules: every host device and no restriction when
  /// privileged; else Docker's default rules plus each `--device` (a directory adds every
  /// device under it).
  static func deviceNodes(options: ContainerOptions) throws -> (nodes: [LinuxDevice], rules: [LinuxDeviceCgroup]) {
    if options.privileged {
      var nodes = hostDevices(in: "/dev")
      for mapping in options.resources.devices where mapping.pathOnHost != mapping.pathInContainer {
        nodes += try devices(for: mapping).map(\.node)
      }
      return (nodes, [LinuxDeviceCgroup(allow: true, access: "rwm")])
    }
    var nodes: [LinuxDevice] = []
    var rules = defaultDeviceRules
    for mapping in options.resources.devices {
      for found in try devices(for: mapping) {
        nodes.append(found.node)
        rules.append(found.rule)
      }
    }
    return (nodes, rules)
  }

  /// The devices a `--device` names, at their container paths.
  static func devices(for mapping: DeviceMapping) throws -> [(node: LinuxDevice, rule: LinuxDeviceCgroup)] {
    var hostPath = mapping.pathOnHost
    if let info = try? FS.lstatIfPresent(hostPath), (info.st_mode & S_IFMT) == S_IFLNK,
       let resolved = try? FS.realPath(hostPath) {
      hostPath = resolved
    }
    func entry(_ path: String, _ containerPath: String) -> (node: LinuxDevice, rule: LinuxDeviceCgroup)? {
      guard let node = device(at: path, containerPath: containerPath) else { return nil }
      return (node, LinuxDeviceCgroup(
        allow: true, type: node.type, major: node.major, minor: node.minor, access: mapping.cgroupPermissions))
    }
    if let single = entry(hostPath, mapping.pathInContainer) { return [single] }
    var reason = "not a device node"
    if let info = try? FS.lstatIfPresent(hostPath) {
      if (info.st_mode & S_IFMT) == S_IFDIR {
        var found: [(node: LinuxDevice, rule: LinuxDeviceCgroup)] = []
        walk(hostPath) { path in
          let inside = mapping.pathInContainer + path.dropFirst(hostPath.count)
          if let child = entry(path, String(inside)) { found.append(child) }
        }
        if !found.isEmpty { return found }
      }
    } else {
      reason = "no such file or directory"
    }
    throw BerthError(
      .invalidArgument,
      "error gathering device information while adding custom device \(FlagSyntax.goQuote(mapping.pathOnHost)): \(reason)")
  }

  /// A character or block device node, as the spec describes it; nil for anything else.
  static func device(at path: String, containerPath: String) -> LinuxDevice? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    let type: String
    switch info.st_mode & S_IFMT {
    case S_IFCHR: type = "c"
    case S_IFBLK: type = "b"
    default: return nil
    }
    let rdev = UInt64(info.st_rdev)
    let major = Int64(((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0x0000_0fff))
    let minor = Int64(((rdev >> 12) & 0xffff_ff00) | (rdev & 0x0000_00ff))
    return LinuxDevice(
      path: containerPath, type: type, major: major, minor: minor, fileMode: UInt32(info.st_mode & 0o7777),
      uid: info.st_uid, gid: info.st_gid)
  }

  /// Every character and block device under `root`, as runc lists host devices (without
  /// /dev/pts, /dev/shm, /dev/mqueue, /dev/fd and /dev/console).
  static func hostDevices(in root: String) -> [LinuxDevice] {
    var result: [LinuxDevice] = []
    walk(root, skipping: ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"]) { path in
      if Path.basename(path) == "console" { return }
      if let node = device(at: path, containerPath: path) { result.append(node) }
    }
    return result
  }

  /// Calls `visit` for every non-directory under `root` (symlinks are not followed), in name order.
  static func walk(_ root: String, skipping: Set<String> = [], _ visit: (String) -> Void) {
    guard let names = try? FS.list(root) else { return }
    for name in names.sorted() {
      let path = Path.join(root, name)
      guard let info = try? FS.lstatIfPresent(path) else { continue }
      if (info.st_mode & S_IFMT) == S_IFDIR {
        if !skipping.contains(name) { walk(path, visit) }
      } else {
        visit(path)
      }
    }
  }
}
