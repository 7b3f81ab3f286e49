import BerthCgroups
import BerthOS
import CLinux
import Foundation

/// What `berth info` shows: Docker's `docker info` fields that a daemonless engine has.
public struct SystemInfo: Sendable {
  public var containers = 0
  public var running = 0
  public var paused = 0
  public var stopped = 0
  public var images = 0
  public var storageDriver = "overlay2"
  /// Docker's name for the file system under the root ("extfs", "xfs", "btrfs", …).
  public var backingFilesystem = ""
  public var loggingDriver = "json-file"
  public var cgroupDriver = "cgroupfs"
  /// "1" (v1 or hybrid) or "2".
  public var cgroupVersion = ""
  /// Runtimes berth can use, by name, with their executables.
  public var runtimes: [String: String] = [:]
  public var defaultRuntime = RuntimeChoice.defaultName
  public var initBinary: String?
  public var securityOptions: [String] = []
  public var kernelVersion = ""
  public var operatingSystem = ""
  public var osVersion = ""
  public var osType = "linux"
  /// uname's machine ("x86_64").
  public var architecture = ""
  public var cpus = 0
  public var memoryTotal: Int64 = 0
  public var hostname = ""
  public var rootDirectory = ""
  public var runRoot = ""
  public var swapLimit = false
  public var warnings: [String] = []
}

/// One OCI runtime's version (`RUNTIME --version`).
public struct RuntimeVersion: Sendable {
  public var name: String
  public var path: String
  public var version: String
  /// The commit line runc prints, when there is one.
  public var commit: String?
}

extension ContainerEngine {
  /// Counts the store's containers and images and looks at the host.
  public func systemInfo() throws -> SystemInfo {
    var info = SystemInfo()
    for record in try containers.all() {
      info.containers += 1
      switch state(of: record.id).status {
      case .running, .restarting: info.running += 1
      case .paused: info.paused += 1
      default: info.stopped += 1
      }
    }
    info.images = try images.images().count
    info.backingFilesystem = HostInspection.filesystemName(of: layout.root)
    let host = HostFacts.current
    info.cgroupVersion = host.cgroupMode == .v2 ? "2" : "1"
    info.swapLimit = host.swapLimitSupported
    if !host.swapLimitSupported { info.warnings.append("WARNING: No swap limit support") }
    for name in [RuntimeChoice.defaultName, "runc", "crun"] {
      if let runtime = try? RuntimeChoice.resolve(name) { info.runtimes[runtime.name] = runtime.path }
    }
    info.initBinary = Executables.find("berth-init")
    info.securityOptions = ["name=seccomp,profile=builtin"]
    if host.appArmorEnabled { info.securityOptions.insert("name=apparmor", at: 0) }
    if host.seLinuxEnabled { info.securityOptions.append("name=selinux") }
    if host.cgroupMode == .v2 { info.securityOptions.append("name=cgroupns") }
    let uname = HostInspection.uname()
    info.kernelVersion = uname.release
    info.architecture = uname.machine
    info.hostname = host.hostname
    let release = HostInspection.osRelease()
    info.operatingSystem = release["PRETTY_NAME"] ?? "Linux"
    info.osVersion = release["VERSION_ID"] ?? ""
    info.cpus = host.cpuCount
    info.memoryTotal = HostInspection.memoryTotal()
    info.rootDirectory = layout.root
    info.runRoot = layout.runRoot
    return info
  }

  /// The versions of the runtimes berth finds (its own first).
  public static func runtimeVersions() -> [RuntimeVersion] {
    [RuntimeChoice.defaultName, "runc", "crun"].compactMap { name in
      guard let runtime = try? RuntimeChoice.resolve(name) else { return nil }
      return HostInspection.version(of: runtime)
    }
  }
}

/// Facts about the host that only `info` and `version` need.
enum HostInspection {
  static func uname() -> (release: String, machine: String) {
    var name = utsname()
    guard Glibc.uname(&name) == 0 else { return ("", "") }
    func text<T>(_ field: T) -> String {
      withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
    return (text(name.release), text(name.machine))
  }

  /// /etc/os-release as key → value (quotes removed).
  static func osRelease() -> [String: String] {
    let text = (try? FS.readText("/etc/os-release")) ?? (try? FS.readText("/usr/lib/os-release")) ?? ""
    var result: [String: String] = [:]
    for line in text.split(separator: "\n") {
      guard let equals = line.firstIndex(of: "=") else { continue }
      var value = String(line[line.index(after: equals)...])
      if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
      result[String(line[..<equals])] = value
    }
    return result
  }

  /// MemTotal of /proc/meminfo, in bytes.
  static func memoryTotal() -> Int64 {
    let text = (try? FS.readText("/proc/meminfo")) ?? ""
    for line in text.split(separator: "\n") where line.hasPrefix("MemTotal:") {
      let fields = line.split(separator: " ")
      if fields.count >= 2, let kilobytes = Int64(fields[1]) { return kilobytes * 1024 }
    }
    return 0
  }

  /// Docker's names for the file systems it reports as "Backing Filesystem".
  static func filesystemName(of path: String) -> String {
    guard let type = filesystemMagic(of: path) else { return "unknown" }
    switch type {
    case 0xEF53: return "extfs"
    case 0x5846_5342: return "xfs"
    case 0x9123_683E: return "btrfs"
    case 0x0102_1994: return "tmpfs"
    case 0x794C_7630: return "overlayfs"
    case 0x2FC1_2FC1: return "zfs"
    case 0xF2F5_2010: return "f2fs"
    default: return "0x" + String(type, radix: 16)
    }
  }

  /// statfs(2)'s f_type: the file system's magic number.
  static func filesystemMagic(of path: String) -> UInt64? {
    var type: UInt64 = 0
    return berth_statfs_type(path, &type) == 0 ? type : nil
  }

  /// `RUNTIME --version`: runc prints "runc version 1.1.5\ncommit: …", berth-runtime
  /// "berth-runtime version 0.1.0".
  static func version(of runtime: RuntimeChoice) -> RuntimeVersion {
    var result = RuntimeVersion(name: runtime.name, path: runtime.path, version: "unknown", commit: nil)
    guard let run = try? Subprocess.run(
      runtime.path, args: [runtime.path, "--version"], env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
      timeoutNanoseconds: 5_000_000_000)
    else { return result }
    for line in String(decoding: run.output, as: UTF8.self).split(separator: "\n") {
      if let range = line.range(of: " version ") {
        result.version = String(line[range.upperBound...]).trimmingCharacters(in: .whitespaces)
      } else if line.hasPrefix("commit:") {
        result.commit = String(line.dropFirst("commit:".count)).trimmingCharacters(in: .whitespaces)
      }
    }
    return result
  }
}
