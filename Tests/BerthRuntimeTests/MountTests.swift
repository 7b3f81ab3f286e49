import BerthOCI
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Mounts, the root filesystem, masked and read-only paths.
@Suite("Mounts", .needsRoot)
struct MountTests {
  /// The container's mountinfo entry for `mountPoint` (the last one, which is the visible one).
  private func entry(_ mountinfo: String, _ mountPoint: String) -> MountEntry? {
    MountEntry.parse(mountinfo).last { $0.mountPoint == mountPoint }
  }

  @Test("the default mounts are there, with their types and options")
  func defaultMounts() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      let r = try await c.run(["cat", "/proc/self/mountinfo"])
      expectSuccess(r)
      let expected: [(String, String, [String])] = [
        ("/proc", "proc", []), ("/dev", "tmpfs", ["nosuid"]), ("/dev/pts", "devpts", ["nosuid", "noexec"]),
        ("/dev/shm", "tmpfs", ["nosuid", "noexec", "nodev"]), ("/dev/mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        ("/sys", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
      ]
      for (point, type, options) in expected {
        let m = entry(r.stdout, point)
        #expect(m?.fsType == type, "\(point) should be \(type): \(r.stdout)")
        #expect(Set(options).isSubset(of: m?.allOptions ?? []), "\(point) options \(options): \(String(describing: m))")
      }
      let shm = entry(r.stdout, "/dev/shm")
      #expect(shm?.superOptions.contains("size=65536k") == true, "\(String(describing: shm))")
      // The cgroup mount: something read-only at /sys/fs/cgroup (a tmpfs of v1 hierarchies, or cgroup2).
      let cgroup = MountEntry.parse(r.stdout).filter { $0.mountPoint.hasPrefix("/sys/fs/cgroup") }
      #expect(!cgroup.isEmpty, "no cgroup mount: \(r.stdout)")
      let hierarchies = cgroup.filter { $0.fsType == "cgroup" || $0.fsType == "cgroup2" }
      #expect(!hierarchies.isEmpty, "no cgroup hierarchy under /sys/fs/cgroup: \(cgroup)")
      #expect(
        hierarchies.allSatisfy { $0.mountOptions.contains("ro") }, "cgroup hierarchies must be read-only: \(hierarchies)")
    }
  }

  @Test("the root is the bundle's rootfs: host paths are not visible")
  func pivotedRoot() async throws {
    try await withSandbox { sb in
      try sb.writeFile("host-only-marker", "host\n")
      let c = try sb.container()
      let r = try await c.run([
        "sh", "-c",
        "test -e \(sb.path("host-only-marker")) && echo LEAK; awk '{print $5}' /proc/self/mountinfo; ls /",
      ])
      expectSuccess(r)
      #expect(!r.stdout.contains("LEAK"), "host files are visible in the container: \(r)")
      #expect(!r.lines.contains { $0.hasPrefix(sb.dir) }, "no mount point may show the host path of the bundle: \(r)")
      #expect(r.lines.contains("/"), "the rootfs must be mounted at /: \(r)")
    }
  }

  @Test("root.readonly makes the root read-only, mounts on it stay writable")
  func readonlyRoot() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.spec.root?.readonly = true
      let r = try await c.run([
        "sh", "-c",
        "touch /newfile 2>&1 || echo root-refused; touch /tmp/x 2>&1 || echo tmp-refused; "
          + "touch /dev/shm/ok && echo shm-ok; awk '$5 == \"/\" {print $6}' /proc/self/mountinfo",
      ])
      #expect(r.stdout.contains("Read-only file system"), "\(r)")
      #expect(r.lines.contains("root-refused"))
      #expect(r.lines.contains("tmp-refused"))
      #expect(r.lines.contains("shm-ok"), "a tmpfs mounted on a read-only root stays writable: \(r)")
      #expect(r.lines.last?.split(separator: ",").contains("ro") == true, "\(r)")
      #expect(!FileManager.default.fileExists(atPath: c.hostPath("/newfile")))
    }
  }

  @Test("tmpfs with size and mode options, at a destination that does not exist yet")
  func tmpfsOptions() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.spec.mounts?.append(
        Mount(destination: "/scratch/deep/dir", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "size=1m", "mode=0700"]))
      let r = try await c.run([
        "sh", "-c",
        "stat -c %a /scratch/deep/dir; dd if=/dev/zero of=/scratch/deep/dir/f bs=1k count=2048 2>&1; cat /proc/self/mountinfo",
      ])
      #expect(r.lines.first == "700", "\(r)")
      #expect(r.stdout.contains("No space left on device"), "size=1m must bound the tmpfs: \(r)")
      let m = entry(r.stdout, "/scratch/deep/dir")
      #expect(m?.fsType == "tmpfs")
      #expect(m?.superOptions.contains("size=1024k") == true, "\(String(describing: m))")
      #expect(m?.superOptions.contains("mode=700") == true, "\(String(describing: m))")
      #expect(Set(["nosuid", "nodev"]).isSubset(of: m?.mountOptions ?? []), "\(String(describing: m))")
    }
  }

  @Test("a read-only bind mount of a host directory: reads work, writes fail")
  func readonlyBind() async throws {
    try await withSandbox { sb in
      let host = try sb.makeDirectory("hostdata")
      try sb.writeFile("hostdata/greeting", "hello from the host\n")
      let c = try sb.container()
      c.spec.mounts?.append(Mount(destination: "/data", type: "bind", source: host, options: ["rbind", "ro"]))
      let r = try await c.run([
        "sh", "-c", "cat /data/greeting; touch /data/new 2>&1 || echo refused; awk '$5 == \"/data\" {print $6}' /proc/self/mountinfo",
      ])
      #expect(r.lines.first == "hello from the host", "\(r)")
      #expect(r.stdout.contains("Read-only file system") && r.lines.contains("refused"), "\(r)")
      #expect(r.lines.last?.split(separator: ",").contains("ro") == true, "\(r)")
      #expect(!FileManager.default.fileExists(atPath: host + "/new"))
    }
  }

  @Test("a read-write bind mount: the host sees the container's writes")
  func readWriteBind() async throws {
    try await withSandbox { sb in
      let host = try sb.makeDirectory("shared")
      let c = try sb.container()
      c.spec.mounts?.append(Mount(destination: "/shared", type: "bind", source: host, options: ["rbind", "rw"]))
      expectSuccess(try await c.run(["sh", "-c", "echo written-inside > /shared/out"]))
      #expect(readText(host + "/out") == "written-inside")
    }
  }

  @Test("a bind mount of a single file onto a destination that does not exist")
  func fileBind() async throws {
    try await withSandbox { sb in
      let file = try sb.writeFile("motd", "file bind works\n")
      let c = try sb.container()
      c.spec.mounts?.append(Mount(destination: "/etc/motd.d/motd", type: "bind", source: file, options: ["bind", "ro"]))
      let r = try await c.run(["sh", "-c", "cat /etc/motd.d/motd; test -f /etc/motd.d/motd && echo is-file"])
      #expect(r.lines == ["file bind works", "is-file"], "\(r)")
    }
  }

  @Test("bind mount options nosuid, nodev, noexec reach the mount")
  func bindFlags() async throws {
    try await withSandbox { sb in
      let host = try sb.makeDirectory("flags")
      try sb.writeFile("flags/script.sh", "#!/bin/sh\necho executed\n", mode: 0o755)
      let c = try sb.container()
      c.spec.mounts?.append(
        Mount(destination: "/flags", type: "bind", source: host, options: ["rbind", "nosuid", "nodev", "noexec"]))
      c.spec.mounts?.append(Mount(destination: "/exec-ok", type: "bind", source: host, options: ["rbind"]))
      let r = try await c.run([
        "sh", "-c",
        "/flags/script.sh 2>&1; /exec-ok/script.sh; awk '$5 == \"/flags\" {print $6}' /proc/self/mountinfo",
      ])
      #expect(r.stdout.contains("Permission denied"), "noexec must forbid running the script: \(r)")
      #expect(r.lines.contains("executed"), "without noexec it runs: \(r)")
      let options = Set(r.lines.last?.split(separator: ",").map(String.init) ?? [])
      #expect(options.isSuperset(of: ["nosuid", "nodev", "noexec"]), "\(r)")
    }
  }

  @Test("rbind carries submounts, bind does not")
  func rbindSubmounts() async throws {
    try await withSandbox { sb in
      let host = try sb.makeDirectory("tree")
      try sb.makeDirectory("tree/sub")
      try await sb.hostMount(["-t", "tmpfs", "-o", "size=1m", "tmpfs"], at: host + "/sub")
      try "in the submount\n".write(toFile: host + "/sub/marker", atomically: false, encoding: .utf8)
      let c = try sb.container()
      c.spec.mounts?.append(Mount(destination: "/recursive", type: "bind", source: host, options: ["rbind"]))
      c.spec.mounts?.append(Mount(destination: "/single", type: "bind", source: host, options: ["bind"]))
      let r = try await c.run(["sh", "-c", "cat /recursive/sub/marker; ls -A /single/sub | wc -l"])
      #expect(r.lines == ["in the submount", "0"], "\(r)")
    }
  }

  @Test("a mount destination that is a symlink to an absolute path lands inside the rootfs")
  func symlinkDestinationStaysInside() async throws {
    try await withSandbox { sb in
      let target = try sb.makeDirectory("host-target")
      try sb.writeFile("host-target/host-marker", "host\n")
      let source = try sb.makeDirectory("evil-source")
      try sb.writeFile("evil-source/payload", "payload\n")
      let c = try sb.container()
      // /etc/evil -> <absolute host path>: resolved inside the rootfs it is <rootfs>/<host path>.
      #expect(symlink(target, c.hostPath("/etc/evil")) == 0)
      #expect(symlink(target + "-tmpfs", c.hostPath("/etc/evil-tmpfs")) == 0)
      try sb.makeDirectory("host-target-tmpfs")
      c.spec.mounts?.append(Mount(destination: "/etc/evil", type: "bind", source: source, options: ["rbind"]))
      c.spec.mounts?.append(Mount(destination: "/etc/evil-tmpfs", type: "tmpfs", source: "tmpfs"))
      let r = try await c.run([
        "sh", "-c",
        "cat /etc/evil/payload; test -e /etc/evil/host-marker && echo SEES-HOST-DIR; touch /etc/evil-tmpfs/x && echo tmpfs-ok",
      ])
      expectSuccess(r)
      #expect(r.lines.first == "payload", "the bind mount must be visible through the symlink inside: \(r)")
      #expect(!r.stdout.contains("SEES-HOST-DIR"), "\(r)")
      #expect(r.lines.contains("tmpfs-ok"), "\(r)")
      let fm = FileManager.default
      #expect(!fm.fileExists(atPath: target + "/payload"), "the host directory was mounted over")
      #expect(fm.fileExists(atPath: target + "/host-marker"))
      #expect(!fm.fileExists(atPath: target + "-tmpfs/x"), "the tmpfs went onto the host path")
      let hostMounts = MountEntry.host().map(\.mountPoint)
      #expect(!hostMounts.contains(target) && !hostMounts.contains(target + "-tmpfs"))
    }
  }

  @Test("maskedPaths: files read empty, directories appear empty")
  func maskedPaths() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try FileManager.default.createDirectory(atPath: c.hostPath("/masked-dir"), withIntermediateDirectories: false)
      try "secret\n".write(toFile: c.hostPath("/masked-dir/secret"), atomically: false, encoding: .utf8)
      try "secret\n".write(toFile: c.hostPath("/etc/masked-file"), atomically: false, encoding: .utf8)
      c.linux.maskedPaths = (c.linux.maskedPaths ?? []) + ["/masked-dir", "/etc/masked-file", "/does/not/exist"]
      let r = try await c.run([
        "sh", "-c",
        "wc -c < /proc/keys; wc -c < /proc/timer_list; ls -A /masked-dir | wc -l; "
          + "cat /masked-dir/secret 2>/dev/null || echo no-secret; wc -c < /etc/masked-file; ls -A /sys/firmware | wc -l",
      ])
      expectSuccess(r)
      // (/proc/kcore does not exist on every kernel; /proc/keys and /proc/timer_list do, and are
      // in the default maskedPaths.)
      #expect(r.lines == ["0", "0", "0", "no-secret", "0", "0"], "\(r)")
      #expect(readText(c.hostPath("/masked-dir/secret")) == "secret", "masking must not touch the rootfs")
    }
  }

  @Test("readonlyPaths: /proc/sys and a configured directory refuse writes")
  func readonlyPaths() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      try FileManager.default.createDirectory(atPath: c.hostPath("/ro-dir"), withIntermediateDirectories: false)
      c.linux.readonlyPaths = (c.linux.readonlyPaths ?? []) + ["/ro-dir"]
      let r = try await c.run([
        "sh", "-c",
        "echo 1 > /proc/sys/net/ipv4/ip_forward 2>/dev/null && echo proc-sys-WRITABLE; "
          + "touch /ro-dir/x 2>/dev/null && echo ro-dir-WRITABLE; touch /tmp/x && echo tmp-ok",
      ])
      #expect(r.lines == ["tmp-ok"], "\(r)")
    }
  }

  @Test("mount propagation: rslave receives host mounts made later, rprivate does not")
  func propagation() async throws {
    try await withSandbox { sb in
      // A shared mount point on the host, so that it has mount events to propagate.
      let host = try sb.makeDirectory("propagating")
      try await sb.hostMount(["--bind", host], at: host)
      let shared = await sb.host(["/bin/mount", "--make-shared", host])
      try requireSuccess(shared, "make-shared")
      let c = try sb.container()
      c.spec.mounts?.append(Mount(destination: "/slave", type: "bind", source: host, options: ["rbind", "rslave"]))
      c.spec.mounts?.append(Mount(destination: "/private", type: "bind", source: host, options: ["rbind", "rprivate"]))
      try await c.runDetached(["sleep", "100"])

      try sb.makeDirectory("propagating/late")
      try await sb.hostMount(["-t", "tmpfs", "-o", "size=1m", "tmpfs"], at: host + "/late")
      try "late\n".write(toFile: host + "/late/marker", atomically: false, encoding: .utf8)
      let r = await c.exec([
        "sh", "-c", "cat /slave/late/marker 2>/dev/null || echo slave-missing; cat /private/late/marker 2>/dev/null || echo private-missing",
      ])
      #expect(r.lines == ["late", "private-missing"], "\(r)")
    }
  }
}
