#if canImport(Glibc)
import Glibc
#endif
import BerthCgroups
import BerthOS

/// What the container configuration needs to know about this machine: CPUs, cgroup layout,
/// kernel, LSMs. Found once per process (`current`); tests build their own.
public struct HostFacts: Sendable, Equatable {
  /// How the host arranges cgroups: decides the default cgroup namespace mode.
  public var cgroupMode: CgroupMode
  /// CPUs this process may use (Docker's `runtime.NumCPU()`): the ceiling of `--cpus`.
  public var cpuCount: Int
  /// `/sys/devices/system/cpu/online` ("0-1"): what `--cpuset-cpus` may name.
  public var onlineCPUs: String
  /// `/sys/devices/system/node/online` ("0"): what `--cpuset-mems` may name.
  public var memoryNodes: String
  /// Go's name of the architecture ("amd64", "arm64"): the `arches` of seccomp profile rules.
  public var goArch: String
  /// libseccomp's name of the native architecture ("SCMP_ARCH_X86_64"): the key of `archMap`.
  public var seccompArch: String
  /// The running kernel's version numbers ([6, 1, 0]).
  public var kernelVersion: [Int]
  /// Whether the memory cgroup can limit swap (memory.memsw.* on v1, memory.swap.max on v2).
  public var swapLimitSupported: Bool
  /// The highest capability number the kernel knows.
  public var lastCapability: Int
  /// The host's name, which a container on the host network gets by default.
  public var hostname: String
  public var appArmorEnabled: Bool
  public var seLinuxEnabled: Bool
  /// Sysctls that exist on this kernel, among those Docker sets by default.
  public var availableSysctls: Set<String>

  public init(
    cgroupMode: CgroupMode, cpuCount: Int, onlineCPUs: String, memoryNodes: String, goArch: String,
    seccompArch: String, kernelVersion: [Int], swapLimitSupported: Bool, lastCapability: Int,
    hostname: String, appArmorEnabled: Bool, seLinuxEnabled: Bool, availableSysctls: Set<String>
  ) {
    self.cgroupMode = cgroupMode
    self.cpuCount = cpuCount
    self.onlineCPUs = onlineCPUs
    self.memoryNodes = memoryNodes
    self.goArch = goArch
    self.seccompArch = seccompArch
    self.kernelVersion = kernelVersion
    self.swapLimitSupported = swapLimitSupported
    self.lastCapability = lastCapability
    self.hostname = hostname
    self.appArmorEnabled = appArmorEnabled
    self.seLinuxEnabled = seLinuxEnabled
    self.availableSysctls = availableSysctls
  }

  /// This machine, detected on first use.
  public static var current: HostFacts { detected }

  private static let detected = HostFacts.detect()

  /// The sysctls Docker sets in a container with its own network namespace.
  static let defaultNetworkSysctls = ["net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"]

  private static func detect() -> HostFacts {
    let cgroups = try? CgroupHost.detect()
    let mode = cgroups?.mode ?? .v2
    var swap = false
    switch mode {
    case .v1, .hybrid:
      if let memory = cgroups?.hierarchy(for: "memory") {
        swap = FS.exists(Path.join(memory.mountPoint, "memory.memsw.limit_in_bytes"))
      }
    case .v2:
      // The root cgroup has no memory.swap.max; any child of it with memory enabled has.
      let controllers = (try? FS.readText(Path.join(CgroupHost.defaultRoot, "cgroup.subtree_control"))) ?? ""
      swap = controllers.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains("memory")
    }
    var name = [CChar](repeating: 0, count: 256)
    let hostname = gethostname(&name, name.count) == 0
      ? String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    let online = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    return HostFacts(
      cgroupMode: mode,
      cpuCount: max(online, 1),
      onlineCPUs: (try? FS.readText("/sys/devices/system/cpu/online", trimmingNewline: true)) ?? "0-\(max(online, 1) - 1)",
      memoryNodes: (try? FS.readText("/sys/devices/system/node/online", trimmingNewline: true)) ?? "0",
      goArch: nativeGoArch,
      seccompArch: nativeSeccompArch,
      kernelVersion: kernelRelease(),
      swapLimitSupported: swap,
      lastCapability: Capabilities.lastCapability(),
      hostname: hostname,
      appArmorEnabled: ((try? FS.readText("/sys/module/apparmor/parameters/enabled", trimmingNewline: true)) ?? "") == "Y",
      seLinuxEnabled: FS.exists("/sys/fs/selinux/enforce"),
      availableSysctls: Set(defaultNetworkSysctls.filter {
        FS.exists("/proc/sys/" + String($0.map { $0 == "." ? "/" : $0 }))
      }))
  }

  /// The numbers at the front of uname's release ("6.1.0-18-amd64" gives [6, 1, 0]).
  static func kernelRelease() -> [Int] {
    var info = utsname()
    guard uname(&info) == 0 else { return [] }
    let release = withUnsafeBytes(of: info.release) { raw in
      String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
    return parseKernelVersion(release)
  }

  /// "5.15.0-91-generic" → [5, 15, 0].
  static func parseKernelVersion(_ text: String) -> [Int] {
    var numbers: [Int] = []
    for part in text.split(separator: ".", maxSplits: 2) {
      let digits = part.prefix(while: { $0.isASCII && $0.isNumber })
      guard let value = Int(digits) else { break }
      numbers.append(value)
      if digits.count != part.count { break }
    }
    return numbers
  }

  /// Whether the kernel is at least `version` ("4.8").
  public func kernelAtLeast(_ version: String) -> Bool {
    let wanted = Self.parseKernelVersion(version)
    for (index, number) in wanted.enumerated() {
      let have = index < kernelVersion.count ? kernelVersion[index] : 0
      if have != number { return have > number }
    }
    return true
  }

  #if arch(x86_64)
  static let nativeGoArch = "amd64", nativeSeccompArch = "SCMP_ARCH_X86_64"
  #elseif arch(arm64)
  static let nativeGoArch = "arm64", nativeSeccompArch = "SCMP_ARCH_AARCH64"
  #elseif arch(riscv64)
  static let nativeGoArch = "riscv64", nativeSeccompArch = "SCMP_ARCH_RISCV64"
  #elseif arch(s390x)
  static let nativeGoArch = "s390x", nativeSeccompArch = "SCMP_ARCH_S390X"
  #elseif arch(powerpc64le)
  static let nativeGoArch = "ppc64le", nativeSeccompArch = "SCMP_ARCH_PPC64LE"
  #else
  static let nativeGoArch = "unknown", nativeSeccompArch = ""
  #endif
}
