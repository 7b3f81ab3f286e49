import BerthOCI
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// /dev: the default devices, configured devices, and the device cgroup.
@Suite("Devices", .needsRoot)
struct DeviceTests {
  @Test("the default devices and links exist")
  func defaultDevices() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      let nodes = ["null", "zero", "full", "random", "urandom", "tty"]
      let r = try await c.run([
        "sh", "-c",
        "for d in \(nodes.joined(separator: " ")); do stat -c \"%n %F %t:%T %a\" /dev/$d; done; "
          + "for l in fd stdin stdout stderr ptmx; do echo /dev/$l $(readlink /dev/$l); done; "
          + "test -d /dev/pts && echo pts-dir; test -d /dev/shm && echo shm-dir; "
          + "echo probe > /dev/null && head -c 4 /dev/zero | wc -c; head -c 8 /dev/urandom | wc -c",
      ])
      expectSuccess(r)
      let expected = [
        "/dev/null character special file 1:3 666",
        "/dev/zero character special file 1:5 666",
        "/dev/full character special file 1:7 666",
        "/dev/random character special file 1:8 666",
        "/dev/urandom character special file 1:9 666",
        "/dev/tty character special file 5:0 666",
        "/dev/fd /proc/self/fd",
        "/dev/stdin /proc/self/fd/0",
        "/dev/stdout /proc/self/fd/1",
        "/dev/stderr /proc/self/fd/2",
        "/dev/ptmx pts/ptmx",
        "pts-dir", "shm-dir", "4", "8",
      ]
      #expect(r.lines == expected, "\(r)")
    }
  }

  @Test("no /dev/console without a terminal")
  func noConsoleWithoutTerminal() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      let r = try await c.run(["sh", "-c", "test -e /dev/console && echo console-present || echo none"])
      #expect(r.out == "none", "\(r)")
    }
  }

  @Test("a configured device is created with its type, numbers, mode and owner")
  func configuredDevice() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      c.linux.devices = [
        LinuxDevice(path: "/dev/my-full", type: "c", major: 1, minor: 7, fileMode: 0o640, uid: 1000, gid: 1000),
        LinuxDevice(path: "/dev/sub/my-null", type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0),
        LinuxDevice(path: "/dev/my-fifo", type: "p", fileMode: 0o600),
        LinuxDevice(path: "/dev/open-full", type: "c", major: 1, minor: 7, fileMode: 0o666),
      ]
      let r = try await c.run([
        "sh", "-c",
        "stat -c '%F %t:%T %a %u:%g' /dev/my-full /dev/sub/my-null; stat -c '%F %a' /dev/my-fifo; "
          + "{ echo x > /dev/open-full; } 2>&1; { echo x > /dev/my-full; } 2>&1; echo y > /dev/sub/my-null && echo null-ok",
      ])
      #expect(
        Array(r.lines.prefix(3)) == [
          "character special file 1:7 640 1000:1000", "character special file 1:3 666 0:0", "fifo 600",
        ], "\(r)")
      #expect(r.stdout.contains("No space left on device"), "writes to a 1:7 device must hit /dev/full's ENOSPC: \(r)")
      // Root without CAP_DAC_OVERRIDE (not in the default capabilities) cannot write a 0640 node
      // owned by 1000: proves fileMode and uid reached the node.
      #expect(r.stdout.contains("can't create /dev/my-full: Permission denied"), "\(r)")
      #expect(r.lines.contains("null-ok"), "\(r)")
    }
  }

  @Test("the device cgroup denies devices not allowed, and allows the ones configured")
  func deviceCgroup() async throws {
    try await withSandbox { sb in
      // 1:11 is /dev/kmsg: not among the default devices; writing a line to it is harmless.
      let script =
        "mknod /dev/probe c 1 11 || echo mknod-failed; echo berth-device-cgroup-test > /dev/probe && echo write-ok"
      let denied = try sb.container("denied")
      denied.process.capabilities = LinuxCapabilities(
        bounding: ["CAP_MKNOD"], effective: ["CAP_MKNOD"], permitted: ["CAP_MKNOD"])
      let refused = try await denied.run(["sh", "-c", script])
      #expect(!refused.stdout.contains("mknod-failed"), "creating a node ('m') is allowed by default: \(refused)")
      #expect(refused.stderr.contains("Operation not permitted"), "the write must be refused with EPERM: \(refused)")
      #expect(!refused.stdout.contains("write-ok"), "\(refused)")

      let allowed = try sb.container("allowed")
      allowed.process.capabilities = denied.process.capabilities
      allowed.resources.devices = [
        LinuxDeviceCgroup(allow: false, access: "rwm"),
        LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 11, access: "rw"),
      ]
      let ok = try await allowed.run(["sh", "-c", script])
      #expect(ok.lines == ["write-ok"], "an allowed device can be written: \(ok)")
    }
  }

  @Test("the device cgroup applies to devices that exist in the rootfs too")
  func deviceCgroupRootfsNode() async throws {
    try await withSandbox { sb in
      let c = try sb.container()
      // A node in the image, not created by the runtime: only the cgroup stands in the way.
      #expect(mknod(c.hostPath("/tmp/kmsg-node"), S_IFCHR | 0o666, dev_t((1 << 8) | 11)) == 0)
      let r = try await c.run(["sh", "-c", "echo x > /tmp/kmsg-node && echo WRITTEN"])
      #expect(!r.stdout.contains("WRITTEN"), "\(r)")
      #expect(r.stderr.contains("Operation not permitted"), "\(r)")
    }
  }
}
