import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The busybox root filesystem every bundle gets.
///
/// One copy of the static busybox lives in a shared cache directory; each bundle's rootfs is a
/// handful of directories, a hard link to that copy (so a bundle costs no data blocks) and a
/// symlink per applet.
enum Rootfs {
  /// Where the suite keeps its files: sandboxes and the busybox cache.
  static let testRoot = "/tmp/berth-runtime-tests"
  static let busyboxSource = "/bin/busybox"

  struct Template: Sendable {
    /// The cached busybox binary (hard-linked into every rootfs).
    var busybox: String
    /// Every applet busybox has, from `busybox --list`.
    var applets: [String]
  }

  enum Failure: Error, CustomStringConvertible {
    case message(String)
    var description: String {
      switch self { case .message(let m): m }
    }
  }

  /// Built once per test process.
  static let template: Result<Template, Failure> = makeTemplate()

  private static func makeTemplate() -> Result<Template, Failure> {
    let fm = FileManager.default
    guard fm.isExecutableFile(atPath: busyboxSource) else {
      return .failure(.message("\(busyboxSource) is missing: apt-get install busybox-static"))
    }
    let cache = testRoot + "/cache"
    do {
      try fm.createDirectory(atPath: cache, withIntermediateDirectories: true)
      chmod(testRoot, 0o755)
      chmod(cache, 0o755)
      var st = stat()
      stat(busyboxSource, &st)
      let cached = cache + "/busybox-\(st.st_size)-\(st.st_mtim.tv_sec)"
      if !fm.fileExists(atPath: cached) {
        let temporary = cached + ".\(getpid())"
        try? fm.removeItem(atPath: temporary)
        try fm.copyItem(atPath: busyboxSource, toPath: temporary)
        chmod(temporary, 0o755)
        rename(temporary, cached)
      }
      let list = Subprocess.runBlocking([cached, "--list"])
      guard list.succeeded else { return .failure(.message("busybox --list failed: \(list)")) }
      let applets = list.lines.filter { $0 != "busybox" && !$0.contains("/") }
      return .success(Template(busybox: cached, applets: applets))
    } catch {
      return .failure(.message("cannot prepare the busybox cache in \(cache): \(error)"))
    }
  }

  static let passwd = """
    root:x:0:0:root:/root:/bin/sh
    user:x:1000:1000:user:/home/user:/bin/sh
    nobody:x:65534:65534:nobody:/nonexistent:/bin/false

    """
  static let group = """
    root:x:0:
    tty:x:5:
    users:x:100:
    user:x:1000:
    nogroup:x:65534:

    """

  /// Creates a busybox rootfs at `path` (which must not exist yet).
  static func build(at path: String) throws {
    let template = try template.get()
    let fm = FileManager.default
    for dir in ["", "/bin", "/proc", "/sys", "/dev", "/etc", "/root", "/home", "/home/user", "/tmp", "/mnt", "/var"] {
      try fm.createDirectory(atPath: path + dir, withIntermediateDirectories: false)
      chmod(path + dir, 0o755)
    }
    chmod(path + "/tmp", 0o1777)
    chown(path + "/home/user", 1000, 1000)
    if link(template.busybox, path + "/bin/busybox") != 0 {
      try fm.copyItem(atPath: template.busybox, toPath: path + "/bin/busybox")
    }
    for applet in template.applets {
      symlink("busybox", path + "/bin/" + applet)
    }
    symlink("bin", path + "/sbin")
    try fm.createDirectory(atPath: path + "/usr", withIntermediateDirectories: false)
    symlink("../bin", path + "/usr/bin")
    symlink("../bin", path + "/usr/sbin")
    try passwd.write(toFile: path + "/etc/passwd", atomically: false, encoding: .utf8)
    try group.write(toFile: path + "/etc/group", atomically: false, encoding: .utf8)
    try "berth-test\n".write(toFile: path + "/etc/hostname", atomically: false, encoding: .utf8)
  }
}
