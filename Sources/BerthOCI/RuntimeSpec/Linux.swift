/// Linux-specific configuration.
public struct Linux: Codable, Sendable, Equatable {
  public var uidMappings: [IDMapping]?
  public var gidMappings: [IDMapping]?
  public var sysctl: [String: String]?
  public var resources: LinuxResources?
  public var cgroupsPath: String?
  public var namespaces: [LinuxNamespace]?
  public var devices: [LinuxDevice]?
  public var seccomp: LinuxSeccomp?
  public var rootfsPropagation: String?
  public var maskedPaths: [String]?
  public var readonlyPaths: [String]?
  public var mountLabel: String?
  public var intelRdt: IntelRdt?
  public var personality: LinuxPersonality?
  public var timeOffsets: [String: TimeOffset]?

  public init(
    uidMappings: [IDMapping]? = nil, gidMappings: [IDMapping]? = nil, sysctl: [String: String]? = nil,
    resources: LinuxResources? = nil, cgroupsPath: String? = nil, namespaces: [LinuxNamespace]? = nil,
    devices: [LinuxDevice]? = nil, seccomp: LinuxSeccomp? = nil, rootfsPropagation: String? = nil,
    maskedPaths: [String]? = nil, readonlyPaths: [String]? = nil, mountLabel: String? = nil,
    intelRdt: IntelRdt? = nil, personality: LinuxPersonality? = nil,
    timeOffsets: [String: TimeOffset]? = nil
  ) {
    self.uidMappings = uidMappings
    self.gidMappings = gidMappings
    self.sysctl = sysctl
    self.resources = resources
    self.cgroupsPath = cgroupsPath
    self.namespaces = namespaces
    self.devices = devices
    self.seccomp = seccomp
    self.rootfsPropagation = rootfsPropagation
    self.maskedPaths = maskedPaths
    self.readonlyPaths = readonlyPaths
    self.mountLabel = mountLabel
    self.intelRdt = intelRdt
    self.personality = personality
    self.timeOffsets = timeOffsets
  }
}

/// The namespace kinds the spec names.
public enum NamespaceType: String, SpecEnum, Sendable {
  case pid, network, mount, ipc, uts, user, cgroup, time
}

/// A namespace to create (no path) or to join (path to an nsfs file).
public struct LinuxNamespace: Codable, Sendable, Equatable {
  public var type: NamespaceType
  public var path: String?

  public init(type: NamespaceType, path: String? = nil) {
    self.type = type
    self.path = path
  }
}

/// A range of user or group IDs mapped into a user namespace.
public struct IDMapping: Codable, Sendable, Equatable {
  public var containerID: UInt32
  public var hostID: UInt32
  public var size: UInt32

  public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
    self.containerID = containerID
    self.hostID = hostID
    self.size = size
  }
}

/// A clock offset for a time namespace (keys "monotonic" and "boottime").
public struct TimeOffset: Codable, Sendable, Equatable {
  public var secs: Int64?
  public var nanosecs: UInt32?

  public init(secs: Int64? = nil, nanosecs: UInt32? = nil) {
    self.secs = secs
    self.nanosecs = nanosecs
  }
}

/// A device node to create in the container's /dev.
public struct LinuxDevice: Codable, Sendable, Equatable {
  public var path: String
  /// "c" or "u" (character), "b" (block), "p" (FIFO).
  public var type: String
  public var major: Int64?
  public var minor: Int64?
  public var fileMode: UInt32?
  public var uid: UInt32?
  public var gid: UInt32?

  public init(
    path: String, type: String, major: Int64? = nil, minor: Int64? = nil, fileMode: UInt32? = nil,
    uid: UInt32? = nil, gid: UInt32? = nil
  ) {
    self.path = path
    self.type = type
    self.major = major
    self.minor = minor
    self.fileMode = fileMode
    self.uid = uid
    self.gid = gid
  }
}

/// The execution domain for personality(2).
public struct LinuxPersonality: Codable, Sendable, Equatable {
  /// "LINUX" or "LINUX32".
  public var domain: String
  public var flags: [String]?

  public init(domain: String, flags: [String]? = nil) {
    self.domain = domain
    self.flags = flags
  }
}

/// Intel RDT (resctrl) settings. Berth refuses them on hosts without resctrl.
public struct IntelRdt: Codable, Sendable, Equatable {
  public var closID: String?
  public var schemata: String?
  public var l3CacheSchema: String?
  public var memBwSchema: String?
  public var enableCMT: Bool?
  public var enableMBM: Bool?

  public init(
    closID: String? = nil, schemata: String? = nil, l3CacheSchema: String? = nil,
    memBwSchema: String? = nil, enableCMT: Bool? = nil, enableMBM: Bool? = nil
  ) {
    self.closID = closID
    self.schemata = schemata
    self.l3CacheSchema = l3CacheSchema
    self.memBwSchema = memBwSchema
    self.enableCMT = enableCMT
    self.enableMBM = enableMBM
  }
}
