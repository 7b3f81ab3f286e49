#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import CLinux

/// Builds the container's file system view inside its mount namespace: the rootfs as a mount
/// of its own, the configured mounts, /dev, then pivot_root and the masked and read-only paths.
struct RootfsSetup {
  let plan: LaunchPlan

  // MARK: before pivot_root

  /// Everything that happens with the host's tree still visible: runs in the init, in the
  /// container's new mount namespace. Returns the rootfs descriptor for `pivot`.
  /// - Parameter cgroupMounts: where the container's cgroups are; called at the first `cgroup`
  ///   mount (the runtime may still be making them while the other mounts go ahead).
  func prepare(cgroupMounts: () throws -> [(name: String, hostPath: String)]) throws -> OwnedFD {
    try Mounter.mount(nil, "/", type: nil, flags: plan.rootPropagation, data: nil,
                      what: "set the propagation of / (linux.rootfsPropagation)")
    if plan.rootPropagation & BERTH_MS_SHARED != 0 {
      try makeParentMountPrivate(of: plan.rootfs)
    }
    // pivot_root needs the new root to be a mount point; a recursive bind makes it one and
    // keeps mounts already under it (an engine may have prepared some).
    try Mounter.mount(plan.rootfs, plan.rootfs, type: "bind", flags: BERTH_MS_BIND | BERTH_MS_REC, data: nil,
                      what: "bind mount the root file system \(plan.rootfs)")
    let rootFD = try OwnedFD.open(plan.rootfs, BERTH_O_PATH | O_DIRECTORY)
    let root = InRootPath(rootFD: rootFD.raw, rootPath: plan.rootfs)
    for mount in plan.mounts {
      do {
        if mount.kind == .cgroup {
          try cgroupMount(mount, root: root, sources: cgroupMounts())
        } else {
          try mountOne(mount, root: root)
        }
      } catch let error as BerthError {
        throw error.prefixed("mounts[\(mount.index)] (\(mount.destination))")
      }
    }
    try createDevices(root: root)
    // A missing working directory is made, as runc does (chdir reports what still fails).
    _ = try? root.openOrCreate(plan.process.cwd, directory: true)
    return rootFD
  }

  func mountOne(_ mount: MountPlan, root: InRootPath) throws {
    if mount.kind == .bind { try bindMount(mount, root: root) } else { try filesystemMount(mount, root: root) }
  }

  func bindMount(_ mount: MountPlan, root: InRootPath) throws {
    let options = mount.options
    if options.idmap {
      throw BerthError(.unsupported, "idmapped mounts (\"idmap\") are not supported by berth-runtime yet")
    }
    let source = try OwnedFD.open(mount.source, BERTH_O_PATH)
    var info = stat()
    try check("stat \(mount.source)") { fstat(source.raw, &info) }
    let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
    let target = try root.openOrCreate(mount.destination, directory: isDirectory)
    try Mounter.mount(fdPath(source.raw), fdPath(target.raw), type: nil,
                      flags: BERTH_MS_BIND | (options.flags & BERTH_MS_REC), data: nil,
                      what: "bind mount \(mount.source)")
    try applyMountAttributes(mount, root: root, bind: true)
  }

  func filesystemMount(_ mount: MountPlan, root: InRootPath) throws {
    let options = mount.options
    let target = try root.openOrCreate(mount.destination, directory: true)
    // tmpcopyup: keep a handle on what the tmpfs will cover, to copy it in afterwards.
    let covered: Int32 = options.copyUp ? try root.open(mount.destination, flags: O_RDONLY | O_DIRECTORY).release() : -1
    defer { if covered >= 0 { close(covered) } }
    let source = mount.source.isEmpty ? mount.type : mount.source
    let data = options.data.isEmpty ? nil : options.data.joined(separator: ",")
    let flags = options.flags & ~BERTH_MS_REMOUNT
    let rc = retryOnInterrupt { berth_mount(source, fdPath(target.raw), mount.type, flags, data) }
    if rc != 0 {
      let mountErrno = errno
      // Without a network (or IPC) namespace of its own a container may not mount sysfs
      // (mqueue); runc then binds the host's instead, read-only. Do the same.
      if mountErrno == EPERM && (mount.type == "sysfs" || mount.type == "mqueue") {
        let hostPath = mount.type == "sysfs" ? "/sys" : "/dev/mqueue"
        try Mounter.mount(hostPath, fdPath(target.raw), type: nil, flags: BERTH_MS_BIND | BERTH_MS_REC, data: nil,
                          what: "bind mount the host's \(hostPath)")
        try applyMountAttributes(mount, root: root, bind: true)
        return
      }
      throw BerthError.system("mount \(mount.type) (options: \(data ?? "none"))", errno: mountErrno)
    }
    if covered >= 0 {
      let mounted = try root.open(mount.destination, flags: O_RDONLY | O_DIRECTORY)
      try TreeCopier.copyContents(of: covered, into: mounted.raw)
    }
    try applyMountAttributes(mount, root: root, bind: false)
  }

  /// Read-only and other flags on bind mounts (which need a remount), propagation, and
  /// recursive attributes, applied to the new mount.
  func applyMountAttributes(_ mount: MountPlan, root: InRootPath, bind: Bool) throws {
    let options = mount.options
    let remountFlags = options.flags & ~(BERTH_MS_BIND | BERTH_MS_REC | BERTH_MS_REMOUNT)
    let needsRemount = bind && remountFlags != 0
    guard needsRemount || !options.propagation.isEmpty || options.recursiveSet != 0 || options.recursiveClear != 0 else {
      return
    }
    let mounted = try root.open(mount.destination)
    if needsRemount {
      try Mounter.remountBind(fdPath(mounted.raw), flags: remountFlags, what: "remount with the mount's options")
    }
    for propagation in options.propagation {
      try Mounter.mount(nil, fdPath(mounted.raw), type: nil, flags: propagation, data: nil,
                        what: "set the mount's propagation")
    }
    if options.recursiveSet != 0 || options.recursiveClear != 0 {
      try Mounter.setRecursiveAttributes(mounted.raw, set: options.recursiveSet, clear: options.recursiveClear,
                                         what: "set recursive mount attributes")
    }
  }

  /// The cgroup file system: with cgroup v2, the container's own cgroup directory; with v1,
  /// a tmpfs holding each hierarchy's container directory, as runc lays it out.
  func cgroupMount(_ mount: MountPlan, root: InRootPath, sources: [(name: String, hostPath: String)]) throws {
    let flags = mount.options.flags & ~(BERTH_MS_BIND | BERTH_MS_REC | BERTH_MS_REMOUNT)
    if sources.count == 1 && sources[0].name.isEmpty {
      let target = try root.openOrCreate(mount.destination, directory: true)
      try Mounter.mount(sources[0].hostPath, fdPath(target.raw), type: nil, flags: BERTH_MS_BIND | BERTH_MS_REC,
                        data: nil, what: "bind mount the container's cgroup \(sources[0].hostPath)")
      let mounted = try root.open(mount.destination)
      try Mounter.remountBind(fdPath(mounted.raw), flags: flags, what: "remount the cgroup mount")
      return
    }
    let target = try root.openOrCreate(mount.destination, directory: true)
    try Mounter.mount("tmpfs", fdPath(target.raw), type: "tmpfs",
                      flags: BERTH_MS_NOSUID | BERTH_MS_NODEV | BERTH_MS_NOEXEC, data: "mode=755",
                      what: "mount a tmpfs for the cgroup hierarchies")
    for source in sources {
      let destination = Path.join(mount.destination, source.name)
      let hierarchy = try root.openOrCreate(destination, directory: true)
      try Mounter.mount(source.hostPath, fdPath(hierarchy.raw), type: nil, flags: BERTH_MS_BIND | BERTH_MS_REC,
                        data: nil, what: "bind mount the container's cgroup \(source.hostPath)")
      let mounted = try root.open(destination)
      try Mounter.remountBind(fdPath(mounted.raw), flags: flags, what: "remount \(destination)")
      // Co-mounted controllers ("cpu,cpuacct") get a link per controller, as on the host.
      if source.name.contains(",") {
        let parent = try root.parent(of: destination)
        for part in source.name.split(separator: ",") {
          if symlinkat(source.name, parent.raw, String(part)) != 0 && errno != EEXIST {
            throw BerthError.system("link \(part) to \(source.name)")
          }
        }
      }
    }
    if flags & BERTH_MS_RDONLY != 0 {
      let mounted = try root.open(mount.destination)
      try Mounter.mount(nil, fdPath(mounted.raw), type: nil, flags: BERTH_MS_REMOUNT | flags, data: "mode=755",
                        what: "remount the cgroup tmpfs read-only")
    }
  }

  // MARK: /dev

  func createDevices(root: InRootPath) throws {
    for device in plan.devices {
      do {
        if plan.namespaces.inUserNamespace {
          // mknod is refused in a user namespace: bind the host's node instead.
          let target = try root.openOrCreate(device.path, directory: false)
          try Mounter.mount(device.path, fdPath(target.raw), type: nil, flags: BERTH_MS_BIND, data: nil,
                            what: "bind mount the host's \(device.path)")
        } else {
          let parent = try root.parent(of: device.path)
          let name = Path.basename(device.path)
          if unlinkat(parent.raw, name, 0) != 0 && errno != ENOENT && errno != EISDIR {
            throw BerthError.system("remove the existing \(device.path)")
          }
          let mode = mode_t(device.type | device.mode)
          try check("mknod \(device.path)") {
            mknodat(parent.raw, name, mode, berth_makedev(device.major, device.minor))
          }
          // mknod made it root's already (there is no user namespace here).
          if device.uid != 0 || device.gid != 0 {
            try check("chown \(device.path)") {
              fchownat(parent.raw, name, device.uid, device.gid, AT_SYMLINK_NOFOLLOW)
            }
          }
        }
      } catch let error as BerthError {
        throw error.prefixed("create device \(device.path)")
      }
    }
    let dev = try root.parent(of: "/dev/null")
    var links: [(String, String)] = [
      ("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
      ("/proc/self/fd/2", "stderr"),
    ]
    if FS.exists("/proc/kcore") { links.append(("/proc/kcore", "core")) }
    if plan.hasDevpts {
      if unlinkat(dev.raw, "ptmx", 0) != 0 && errno != ENOENT { throw BerthError.system("remove /dev/ptmx") }
      links.append(("pts/ptmx", "ptmx"))
    }
    for (target, name) in links {
      if symlinkat(target, dev.raw, name) != 0 && errno != EEXIST {
        throw BerthError.system("link /dev/\(name) to \(target)")
      }
    }
  }

  // MARK: pivot_root

  /// Makes the rootfs "/" and drops the host's tree: pivot_root(".", ".") stacks the old root
  /// on the new one, which is then lazily unmounted (after making it a slave, so that the
  /// unmount does not propagate to the host). With --no-pivot: MS_MOVE and chroot.
  func pivot(rootFD: borrowing OwnedFD) throws {
    if plan.noPivot {
      try check("chdir to the root file system") { fchdir(rootFD.raw) }
      try Mounter.mount(plan.rootfs, "/", type: nil, flags: BERTH_MS_MOVE, data: nil, what: "move the root file system to /")
      try check("chroot") { chroot(".") }
      try check("chdir /") { chdir("/") }
      return
    }
    let oldRoot = try OwnedFD.open("/", O_DIRECTORY | O_RDONLY)
    try check("chdir to the root file system") { fchdir(rootFD.raw) }
    try check("pivot_root") { berth_pivot_root(".", ".") }
    try check("chdir to the old root") { fchdir(oldRoot.raw) }
    try Mounter.mount(nil, ".", type: nil, flags: BERTH_MS_SLAVE | BERTH_MS_REC, data: nil,
                      what: "make the old root a slave")
    try check("unmount the old root") { berth_umount2(".", BERTH_MNT_DETACH) }
    try check("chdir /") { chdir("/") }
    if plan.rootPropagation & (BERTH_MS_SHARED | BERTH_MS_PRIVATE | BERTH_MS_UNBINDABLE) != 0 {
      try Mounter.mount(nil, "/", type: nil, flags: plan.rootPropagation, data: nil,
                        what: "set the propagation of / (linux.rootfsPropagation)")
    }
  }

  // MARK: after pivot_root

  func writeSysctls() throws {
    for (key, value) in plan.sysctls {
      let path = "/proc/sys/" + key.replacingDots()
      do { try FS.writeExisting(path, value) } catch let error as BerthError {
        throw error.prefixed("linux.sysctl \(key)")
      }
    }
  }

  func protectPaths() throws {
    for path in plan.readonlyPaths {
      var info = stat()
      if stat(path, &info) != 0 {
        if errno == ENOENT { continue }
        throw BerthError.system("linux.readonlyPaths: stat \(path)")
      }
      try Mounter.mount(path, path, type: nil, flags: BERTH_MS_BIND | BERTH_MS_REC, data: nil,
                        what: "linux.readonlyPaths: bind mount \(path)")
      try Mounter.remountBind(path, flags: BERTH_MS_RDONLY | BERTH_MS_REC,
                              what: "linux.readonlyPaths: remount \(path) read-only")
    }
    for path in plan.maskedPaths {
      var info = stat()
      if stat(path, &info) != 0 {
        if errno == ENOENT { continue }
        throw BerthError.system("linux.maskedPaths: stat \(path)")
      }
      if (info.st_mode & S_IFMT) == S_IFDIR {
        try Mounter.mount("tmpfs", path, type: "tmpfs", flags: BERTH_MS_RDONLY, data: nil,
                          what: "linux.maskedPaths: mask \(path)")
      } else {
        try Mounter.mount("/dev/null", path, type: nil, flags: BERTH_MS_BIND, data: nil,
                          what: "linux.maskedPaths: mask \(path)")
      }
    }
    if plan.readonlyRoot {
      try Mounter.remountBind("/", flags: BERTH_MS_RDONLY, what: "root.readonly: remount / read-only")
    }
  }

  /// pivot_root refuses a new root whose parent mount is shared: make that mount private.
  func makeParentMountPrivate(of path: String) throws {
    let mountinfo = try FS.readText("/proc/self/mountinfo")
    var best = "/"
    for line in mountinfo.split(separator: "\n") {
      let fields = line.split(separator: " ")
      guard fields.count > 4 else { continue }
      let mountPoint = String(fields[4])
      if (path == mountPoint || path.hasPrefix(mountPoint == "/" ? "/" : mountPoint + "/")) && mountPoint.count > best.count {
        best = mountPoint
      }
    }
    try Mounter.mount(nil, best, type: nil, flags: BERTH_MS_PRIVATE, data: nil,
                      what: "make the mount \(best) holding the root file system private")
  }
}

extension String {
  /// "net.ipv4.ip_forward" → "net/ipv4/ip_forward".
  func replacingDots() -> String { String(map { $0 == "." ? "/" : $0 }) }
}
