@testable import BerthRuntime
import Testing

/// The kernel's values (linux/mount.h), written out so that a wrong constant fails too.
fileprivate enum MS {
  static let rdonly: UInt = 1, nosuid: UInt = 2, nodev: UInt = 4, noexec: UInt = 8, synchronous: UInt = 16
  static let remount: UInt = 32, mandlock: UInt = 64, dirsync: UInt = 128, nosymfollow: UInt = 256
  static let noatime: UInt = 1024, nodiratime: UInt = 2048, bind: UInt = 4096, rec: UInt = 16384
  static let silent: UInt = 32768, unbindable: UInt = 1 << 17, `private`: UInt = 1 << 18, slave: UInt = 1 << 19
  static let shared: UInt = 1 << 20, relatime: UInt = 1 << 21, strictatime: UInt = 1 << 24, lazytime: UInt = 1 << 25
}

fileprivate enum MountAttr {
  static let rdonly: UInt64 = 0x1, nosuid: UInt64 = 0x2, nodev: UInt64 = 0x4, noexec: UInt64 = 0x8
  static let atimeMask: UInt64 = 0x70, relatime: UInt64 = 0, noatime: UInt64 = 0x10, strictatime: UInt64 = 0x20
  static let nodiratime: UInt64 = 0x80, nosymfollow: UInt64 = 0x20_0000
}

@Suite("MountOptions")
struct MountOptionsTests {
  @Test(
    "flags that set a bit",
    arguments: [
      ("ro", MS.rdonly), ("nosuid", MS.nosuid), ("nodev", MS.nodev), ("noexec", MS.noexec), ("sync", MS.synchronous),
      ("remount", MS.remount), ("mand", MS.mandlock), ("dirsync", MS.dirsync), ("nosymfollow", MS.nosymfollow),
      ("noatime", MS.noatime), ("nodiratime", MS.nodiratime), ("bind", MS.bind), ("rbind", MS.bind | MS.rec),
      ("silent", MS.silent), ("relatime", MS.relatime), ("strictatime", MS.strictatime), ("lazytime", MS.lazytime),
    ])
  func setFlags(_ option: String, _ flag: UInt) {
    let options = MountOptions.parse([option])
    #expect(options.flags == flag)
    #expect(options.clearedFlags == 0)
    #expect(options.data.isEmpty)
  }

  @Test(
    "flags that clear a bit",
    arguments: [
      ("rw", MS.rdonly), ("suid", MS.nosuid), ("dev", MS.nodev), ("exec", MS.noexec), ("async", MS.synchronous),
      ("atime", MS.noatime), ("diratime", MS.nodiratime), ("norelatime", MS.relatime),
      ("nostrictatime", MS.strictatime), ("loud", MS.silent), ("nomand", MS.mandlock), ("nolazytime", MS.lazytime),
      ("symfollow", MS.nosymfollow),
    ])
  func clearFlags(_ option: String, _ flag: UInt) {
    let options = MountOptions.parse([option])
    #expect(options.flags == 0)
    #expect(options.clearedFlags == flag)
  }

  @Test("the last of two opposite options wins")
  func lastWins() {
    let roThenRw = MountOptions.parse(["ro", "rw"])
    #expect(roThenRw.flags & MS.rdonly == 0)
    #expect(roThenRw.clearedFlags & MS.rdonly != 0)
    let rwThenRo = MountOptions.parse(["rw", "ro"])
    #expect(rwThenRo.flags & MS.rdonly != 0)
    #expect(rwThenRo.clearedFlags & MS.rdonly == 0)
  }

  @Test("a typical /dev/shm list")
  func combined() {
    let options = MountOptions.parse(["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"])
    #expect(options.flags == MS.nosuid | MS.noexec | MS.nodev)
    #expect(options.data == ["mode=1777", "size=65536k"])
    #expect(options.propagation.isEmpty)
    #expect(!options.isBind)
  }

  @Test("bind and rbind")
  func bind() {
    #expect(MountOptions.parse(["bind"]).isBind)
    #expect(!MountOptions.parse(["bind"]).isRecursiveBind)
    #expect(MountOptions.parse(["rbind", "ro"]).isRecursiveBind)
    #expect(!MountOptions.parse(["ro"]).isBind)
    #expect(MountOptions.parse(["defaults"]) == MountOptions())
  }

  @Test(
    "propagation options, in order",
    arguments: [
      (["private"], [MS.private]), (["rprivate"], [MS.private | MS.rec]), (["shared"], [MS.shared]),
      (["rshared"], [MS.shared | MS.rec]), (["slave"], [MS.slave]), (["rslave"], [MS.slave | MS.rec]),
      (["unbindable"], [MS.unbindable]), (["runbindable"], [MS.unbindable | MS.rec]),
      (["rbind", "shared", "rslave"], [MS.shared, MS.slave | MS.rec]),
    ])
  func propagation(_ list: [String], _ expected: [UInt]) {
    let options = MountOptions.parse(list)
    #expect(options.propagation == expected)
    #expect(options.flags & (MS.private | MS.shared | MS.slave | MS.unbindable) == 0)
  }

  @Test(
    "recursive attributes for mount_setattr",
    arguments: [
      (["rro"], MountAttr.rdonly, UInt64(0)),
      (["rrw"], 0, MountAttr.rdonly),
      (["rnosuid", "rnodev", "rnoexec"], MountAttr.nosuid | MountAttr.nodev | MountAttr.noexec, 0),
      (["rsuid", "rdev", "rexec"], 0, MountAttr.nosuid | MountAttr.nodev | MountAttr.noexec),
      // The atime modes are one field: setting one clears the field first.
      (["rnoatime"], MountAttr.noatime, MountAttr.atimeMask),
      (["rstrictatime"], MountAttr.strictatime, MountAttr.atimeMask),
      (["rrelatime"], MountAttr.relatime, MountAttr.atimeMask),
      (["ratime"], 0, MountAttr.atimeMask),
      (["rnodiratime"], MountAttr.nodiratime, 0),
      (["rnosymfollow"], MountAttr.nosymfollow, 0),
      (["rro", "rnosuid"], MountAttr.rdonly | MountAttr.nosuid, 0),
    ] as [([String], UInt64, UInt64)])
  func recursive(_ list: [String], _ set: UInt64, _ clear: UInt64) {
    let options = MountOptions.parse(list)
    #expect(options.recursiveSet == set)
    #expect(options.recursiveClear == clear)
    #expect(options.flags == 0)
    #expect(options.data.isEmpty)
  }

  @Test(
    "anything else is file-system data, passed through in order",
    arguments: [
      ["size=64m"], ["mode=755", "size=65536k"], ["lowerdir=/a:/b", "upperdir=/u", "workdir=/w"], ["newinstance", "ptmxmode=0666", "gid=5"],
      ["context=\"system_u:object_r:container_file_t:s0\""],
    ])
  func data(_ list: [String]) {
    let options = MountOptions.parse(list)
    #expect(options.data == list)
    #expect(options.flags == 0)
  }

  @Test("tmpcopyup, idmap and ridmap")
  func special() {
    let copyUp = MountOptions.parse(["tmpcopyup", "size=64m"])
    #expect(copyUp.copyUp)
    #expect(copyUp.data == ["size=64m"])
    #expect(!MountOptions.parse(["size=64m"]).copyUp)
    let idmap = MountOptions.parse(["bind", "idmap"])
    #expect(idmap.idmap && !idmap.recursiveIDMap)
    let ridmap = MountOptions.parse(["rbind", "ridmap"])
    #expect(ridmap.idmap && ridmap.recursiveIDMap)
  }

  @Test("recognized lists every option once, sorted")
  func recognized() {
    let names = MountOptions.recognized
    #expect(names == names.sorted())
    #expect(Set(names).count == names.count)
    for name in ["rbind", "ro", "rprivate", "rro", "ratime", "tmpcopyup", "idmap", "ridmap", "nosymfollow"] {
      #expect(names.contains(name), "\(name)")
    }
    #expect(!names.contains("size"))
  }
}
