#if canImport(Glibc)
import Glibc
#endif
import BerthOCI
import BerthOS

/// Writing `LinuxResources`: each group goes to the v1 hierarchy of its controller when one is
/// mounted, else to the cgroup2 directory (with the v2 file names and unit conversions).
extension FSCgroupManager {
  func apply(_ resources: LinuxResources) throws {
    try set(resources, updating: false)
  }

  func update(_ resources: LinuxResources) throws {
    try set(resources, updating: true)
  }

  /// Where a controller's files live.
  enum Target {
    case v1(String)
    case v2(String)
  }

  func set(_ resources: LinuxResources, updating: Bool) throws {
    let deviceRules = try validate(resources)
    if let memory = resources.memory, memory.isSet {
      switch try target("memory", field: "linux.resources.memory") {
      case .v1(let dir): try setMemoryV1(memory, dir: dir, updating: updating)
      case .v2(let dir): try setMemoryV2(memory, dir: dir, updating: updating)
      }
    }
    if let cpu = resources.cpu {
      if cpu.hasCPUControllerFields {
        switch try target("cpu", field: "linux.resources.cpu") {
        case .v1(let dir): try setCPUV1(cpu, dir: dir)
        case .v2(let dir): try setCPUV2(cpu, dir: dir)
        }
      }
      if cpu.cpus?.isEmpty == false || cpu.mems?.isEmpty == false {
        let dir = switch try target("cpuset", field: cpu.cpus?.isEmpty == false ? "linux.resources.cpu.cpus" : "linux.resources.cpu.mems") {
        case .v1(let dir), .v2(let dir): dir
        }
        try setCpuset(cpu, dir: dir)
      }
    }
    if let pids = resources.pids {
      let dir = switch try target("pids", field: "linux.resources.pids") {
      case .v1(let dir), .v2(let dir): dir
      }
      try write(dir, "pids.max", pids.limit > 0 ? String(pids.limit) : "max", field: "linux.resources.pids.limit")
    }
    if let blockIO = resources.blockIO, blockIO.isSet {
      switch try target(mode == .v2 || v1ByController["blkio"] == nil ? "io" : "blkio", field: "linux.resources.blockIO") {
      case .v1(let dir): try setBlockIOV1(blockIO, dir: dir)
      case .v2(let dir): try setIOV2(blockIO, dir: dir)
      }
    }
    if let limits = resources.hugepageLimits, !limits.isEmpty {
      let target = try target("hugetlb", field: "linux.resources.hugepageLimits")
      for (index, limit) in limits.enumerated() {
        let field = "linux.resources.hugepageLimits[\(index)]"
        let (dir, file) = switch target {
        case .v1(let dir): (dir, "hugetlb.\(limit.pageSize).limit_in_bytes")
        case .v2(let dir): (dir, "hugetlb.\(limit.pageSize).max")
        }
        let error = CgroupIO.tryWrite(dir + "/" + file, String(limit.limit))
        if error == ENOENT {
          throw BerthError(.invalidArgument, "\(field).pageSize: \(quoted(limit.pageSize)) is not a hugepage size of this host (\(dir)/\(file) does not exist)", errno: error)
        }
        if error != 0 { throw CgroupIO.writeError(dir + "/" + file, String(limit.limit), error).prefixed("\(field).limit") }
      }
    }
    if let network = resources.network { try setNetwork(network) }
    if let rdma = resources.rdma, !rdma.isEmpty {
      let dir = switch try target("rdma", field: "linux.resources.rdma") {
      case .v1(let dir), .v2(let dir): dir
      }
      for device in rdma.keys.sorted() {
        guard let limit = rdma[device] else { continue }
        var parts = [device]
        if let handles = limit.hcaHandles { parts.append("hca_handle=\(handles)") }
        if let objects = limit.hcaObjects { parts.append("hca_object=\(objects)") }
        if parts.count == 1 { continue }
        try write(dir, "rdma.max", parts.joined(separator: " "), field: "linux.resources.rdma[\(quoted(device))]")
      }
    }
    if let deviceRules { try setDevices(deviceRules) }
    if let unified = resources.unified, !unified.isEmpty { try setUnified(unified) }
  }

  /// Checks what can be checked without the kernel, so that bad input fails before any write.
  /// Returns the parsed device rules.
  func validate(_ resources: LinuxResources) throws -> [DeviceRule]? {
    if let cpus = resources.cpu?.cpus, !cpus.isEmpty, Conversions.parseList(cpus) == nil {
      throw BerthError(.invalidArgument, "linux.resources.cpu.cpus: \(quoted(cpus)) is not a CPU list (such as \"0-3,8\")")
    }
    if let mems = resources.cpu?.mems, !mems.isEmpty, Conversions.parseList(mems) == nil {
      throw BerthError(.invalidArgument, "linux.resources.cpu.mems: \(quoted(mems)) is not a memory node list (such as \"0-1\")")
    }
    if let swappiness = resources.memory?.swappiness, swappiness > 100 {
      throw BerthError(.invalidArgument, "linux.resources.memory.swappiness: \(swappiness) is out of range; swappiness is 0 to 100")
    }
    for (index, limit) in (resources.hugepageLimits ?? []).enumerated() where !Conversions.isHugepageSize(limit.pageSize) {
      throw BerthError(.invalidArgument, "linux.resources.hugepageLimits[\(index)].pageSize: \(quoted(limit.pageSize)) is not a page size such as \"2MB\" or \"1GB\"")
    }
    for key in (resources.unified ?? [:]).keys.sorted() {
      if key.isEmpty || key.contains("/") || key == "." || key == ".." || !key.contains(".") {
        throw BerthError(.invalidArgument, "linux.resources.unified[\(quoted(key))]: not the name of a cgroup v2 interface file")
      }
      if unifiedDir == nil {
        throw BerthError(.unsupported, "linux.resources.unified[\(quoted(key))]: this host has only cgroup v1 hierarchies, and unified keys are cgroup v2 files")
      }
    }
    if let rules = resources.devices { return try DeviceRule.parse(rules) }
    return nil
  }

  /// The directory for a controller's files. In hybrid mode a controller that v1 does not mount
  /// is enabled in the unified hierarchy when its root offers it.
  func target(_ controller: String, field: String) throws -> Target {
    if let dir = v1ByController[controller] { return .v1(dir) }
    if let unifiedDir {
      if mode == .v2 { return .v2(unifiedDir) }
      let offered = try rootControllers()
      if offered.contains(controller) {
        if !unifiedEnabled.contains(controller) { try enableControllers([controller], for: unifiedDir) }
        if unifiedEnabled.contains(controller) { return .v2(unifiedDir) }
      }
      let mountPoint = host.unified?.mountPoint ?? ""
      throw BerthError(.unsupported, "\(field): the \(controller) controller is neither mounted as a cgroup v1 hierarchy nor available in the cgroup2 hierarchy at \(mountPoint) (its cgroup.controllers lists \(offered.isEmpty ? "nothing" : quoted(offered.joined(separator: " "))))")
    }
    throw BerthError(.unsupported, "\(field): the \(controller) controller is not mounted on this host")
  }

  /// Writes one file; errors name the spec field, the value and the file.
  func write(_ dir: String, _ file: String, _ value: String, field: String) throws {
    let error = CgroupIO.tryWrite(dir + "/" + file, value)
    if error != 0 { throw CgroupIO.writeError(dir + "/" + file, value, error).prefixed(field) }
  }

  /// Writes a file that may be missing on this kernel; returns false when it is.
  func writeIfPresent(_ dir: String, _ file: String, _ value: String, field: String) throws -> Bool {
    let error = CgroupIO.tryWrite(dir + "/" + file, value)
    if error == ENOENT { return false }
    if error != 0 { throw CgroupIO.writeError(dir + "/" + file, value, error).prefixed(field) }
    return true
  }

  /// Writes a file the kernel may lack, with an error that says so.
  func writeRequired(_ dir: String, _ file: String, _ value: String, field: String, missing: String) throws {
    if try !writeIfPresent(dir, file, value, field: field) {
      throw BerthError(.unsupported, "\(field): \(missing) (\(dir)/\(file) does not exist)", errno: ENOENT)
    }
  }

  // MARK: - Memory

  private func setMemoryV1(_ memory: LinuxMemory, dir: String, updating: Bool) throws {
    let limit = memory.limit.flatMap { $0 == 0 ? nil : $0 }
    var swap = memory.swap.flatMap { $0 == 0 ? nil : $0 }
    var swapImplied = false
    if limit == -1 && swap == nil {
      swap = -1  // unlimited memory means unlimited memory+swap too, where swap is accounted
      swapImplied = true
    }
    func writeLimit() throws {
      guard let limit else { return }
      try write(dir, "memory.limit_in_bytes", String(limit), field: "linux.resources.memory.limit")
    }
    func writeSwap() throws {
      guard let swap else { return }
      if try writeIfPresent(dir, "memory.memsw.limit_in_bytes", String(swap), field: "linux.resources.memory.swap") { return }
      if swapImplied || swap == -1 || swap == limit { return }  // nothing to limit: as runc
      throw BerthError(.unsupported, "linux.resources.memory.swap: swap accounting is not available on this host (\(dir)/memory.memsw.limit_in_bytes does not exist), so memory+swap cannot be limited to \(swap)", errno: ENOENT)
    }
    if let limit, let swap {
      // The kernel keeps memsw.limit >= limit at every moment: raise memsw first when growing.
      if updating {
        let current = try CgroupIO.readUInt64IfPresent(dir + "/memory.limit_in_bytes") ?? UInt64.max
        if swap == -1 || current < UInt64(swap) {
          try writeSwap(); try writeLimit()
        } else {
          try writeLimit(); try writeSwap()
        }
      } else {
        let error = CgroupIO.tryWrite(dir + "/memory.limit_in_bytes", String(limit))
        if error == EINVAL {
          try writeSwap(); try writeLimit()
        } else if error != 0 {
          throw CgroupIO.writeError(dir + "/memory.limit_in_bytes", String(limit), error).prefixed("linux.resources.memory.limit")
        } else {
          try writeSwap()
        }
      }
    } else {
      try writeLimit()
      try writeSwap()
    }
    if let reservation = memory.reservation, reservation != 0 {
      try write(dir, "memory.soft_limit_in_bytes", String(reservation), field: "linux.resources.memory.reservation")
    }
    // memory.kmem.limit_in_bytes (`kernel`) is deprecated and gone from current kernels: skipped.
    if let tcp = memory.kernelTCP, tcp != 0 {
      _ = try writeIfPresent(dir, "memory.kmem.tcp.limit_in_bytes", String(tcp), field: "linux.resources.memory.kernelTCP")
    }
    if let swappiness = memory.swappiness {
      try write(dir, "memory.swappiness", String(swappiness), field: "linux.resources.memory.swappiness")
    }
    if let disable = memory.disableOOMKiller, disable || updating {
      try write(dir, "memory.oom_control", disable ? "1" : "0", field: "linux.resources.memory.disableOOMKiller")
    }
    if let hierarchy = memory.useHierarchy {
      try write(dir, "memory.use_hierarchy", hierarchy ? "1" : "0", field: "linux.resources.memory.useHierarchy")
    }
  }

  private func setMemoryV2(_ memory: LinuxMemory, dir: String, updating: Bool) throws {
    if memory.swappiness != nil {
      throw BerthError(.unsupported, "linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness")
    }
    if memory.disableOOMKiller == true {
      throw BerthError(.unsupported, "linux.resources.memory.disableOOMKiller: cgroup v2 cannot disable the OOM killer")
    }
    // kernel and kernelTCP have no cgroup v2 files (kernel memory is always accounted); useHierarchy
    // is always on. All three are ignored, as runc does.
    let limit = memory.limit.flatMap { $0 == 0 ? nil : $0 }
    var limitForSwap = limit
    if memory.swap.map({ $0 > 0 }) == true && limit == nil {
      // Only swap given (an update): convert against the current limit.
      if let current = try CgroupIO.readTrimmedIfPresent(dir + "/memory.max") {
        limitForSwap = current == "max" ? -1 : Int64(current)
      }
    }
    if let swapValue = try Conversions.swapMax(swap: memory.swap, limit: limitForSwap) {
      if try !writeIfPresent(dir, "memory.swap.max", swapValue, field: "linux.resources.memory.swap") {
        // Swap not enabled: unlimited or no swap is what there is anyway (as runc).
        if swapValue != "max" && swapValue != "0" {
          throw BerthError(.unsupported, "linux.resources.memory.swap: swap accounting is not available on this host (\(dir)/memory.swap.max does not exist)", errno: ENOENT)
        }
      }
    }
    if let limit {
      if updating, memory.checkBeforeUpdate == true, limit > 0,
         let usage = try CgroupIO.readUInt64IfPresent(dir + "/memory.current"), usage > UInt64(limit) {
        throw BerthError(.invalidArgument, "linux.resources.memory.limit: \(limit) is below the current usage \(usage) of \(dir) (checkBeforeUpdate)")
      }
      try write(dir, "memory.max", Conversions.v2Limit(limit), field: "linux.resources.memory.limit")
    }
    if let reservation = memory.reservation, reservation != 0 {
      try write(dir, "memory.low", Conversions.v2Limit(reservation), field: "linux.resources.memory.reservation")
    }
  }

  // MARK: - CPU

  private func setCPUV1(_ cpu: LinuxCPU, dir: String) throws {
    if let idle = cpu.idle {
      try writeRequired(dir, "cpu.idle", String(idle), field: "linux.resources.cpu.idle", missing: "this kernel has no cpu.idle")
    }
    if let shares = cpu.shares, shares != 0, cpu.idle != 1 {
      try write(dir, "cpu.shares", String(shares), field: "linux.resources.cpu.shares")
    }
    let period = cpu.period.flatMap { $0 == 0 ? nil : $0 }
    let quota = cpu.quota.flatMap { $0 == 0 ? nil : $0 }
    if let period {
      let error = CgroupIO.tryWrite(dir + "/cpu.cfs_period_us", String(period))
      if error != 0 {
        // A new period can clash with the old quota: set the quota first, then retry.
        if error == EINVAL, let quota, CgroupIO.tryWrite(dir + "/cpu.cfs_quota_us", String(quota)) == 0 {
          try write(dir, "cpu.cfs_period_us", String(period), field: "linux.resources.cpu.period")
        } else {
          throw CgroupIO.writeError(dir + "/cpu.cfs_period_us", String(period), error).prefixed("linux.resources.cpu.period")
        }
      }
    }
    if let quota {
      try write(dir, "cpu.cfs_quota_us", String(quota), field: "linux.resources.cpu.quota")
    }
    if let burst = cpu.burst {
      try writeRequired(dir, "cpu.cfs_burst_us", String(burst), field: "linux.resources.cpu.burst", missing: "this kernel has no CFS burst")
    }
    let rtPeriod = cpu.realtimePeriod.flatMap { $0 == 0 ? nil : $0 }
    let rtRuntime = cpu.realtimeRuntime.flatMap { $0 == 0 ? nil : $0 }
    if let rtPeriod {
      let error = CgroupIO.tryWrite(dir + "/cpu.rt_period_us", String(rtPeriod))
      if error != 0 {
        // As with CFS: the runtime may have to shrink before the period can.
        if let rtRuntime, CgroupIO.tryWrite(dir + "/cpu.rt_runtime_us", String(rtRuntime)) == 0 {
          try write(dir, "cpu.rt_period_us", String(rtPeriod), field: "linux.resources.cpu.realtimePeriod")
        } else {
          throw CgroupIO.writeError(dir + "/cpu.rt_period_us", String(rtPeriod), error).prefixed("linux.resources.cpu.realtimePeriod")
        }
      }
    }
    if let rtRuntime {
      try write(dir, "cpu.rt_runtime_us", String(rtRuntime), field: "linux.resources.cpu.realtimeRuntime")
    }
  }

  private func setCPUV2(_ cpu: LinuxCPU, dir: String) throws {
    if cpu.realtimePeriod.map({ $0 != 0 }) == true || cpu.realtimeRuntime.map({ $0 != 0 }) == true {
      throw BerthError(.unsupported, "linux.resources.cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no real-time CPU limits")
    }
    if let idle = cpu.idle {
      try writeRequired(dir, "cpu.idle", String(idle), field: "linux.resources.cpu.idle", missing: "this kernel has no cpu.idle")
    }
    if let shares = cpu.shares, shares != 0, cpu.idle != 1 {
      try write(dir, "cpu.weight", String(Conversions.cpuWeight(shares: shares)), field: "linux.resources.cpu.shares")
    }
    let period = cpu.period.flatMap { $0 == 0 ? nil : $0 }
    let quota = cpu.quota.flatMap { $0 == 0 ? nil : $0 }
    if quota != nil || period != nil {
      var quotaText: String
      if let quota {
        quotaText = quota > 0 ? String(quota) : "max"
      } else {
        // Only the period changes: keep the current quota.
        let current = try CgroupIO.readTrimmedIfPresent(dir + "/cpu.max") ?? ""
        quotaText = current.split(separator: " ").first.map(String.init) ?? "max"
        if quotaText.isEmpty { quotaText = "max" }
      }
      let value = period.map { quotaText + " " + String($0) } ?? quotaText
      try write(dir, "cpu.max", value, field: "linux.resources.cpu.quota")
    }
    if let burst = cpu.burst {
      try writeRequired(dir, "cpu.max.burst", String(burst), field: "linux.resources.cpu.burst", missing: "this kernel has no CPU burst")
    }
  }

  private func setCpuset(_ cpu: LinuxCPU, dir: String) throws {
    if let cpus = cpu.cpus, !cpus.isEmpty {
      let error = CgroupIO.tryWrite(dir + "/cpuset.cpus", cpus)
      if error != 0 { throw cpusetError("cpus", cpus, dir: dir, errno: error) }
    }
    if let mems = cpu.mems, !mems.isEmpty {
      let error = CgroupIO.tryWrite(dir + "/cpuset.mems", mems)
      if error != 0 { throw cpusetError("mems", mems, dir: dir, errno: error) }
    }
  }

  /// Explains a refused cpuset: most often CPUs or nodes the parent does not have.
  private func cpusetError(_ what: String, _ value: String, dir: String, errno error: Int32) -> BerthError {
    let field = "linux.resources.cpu.\(what)"
    if error == EINVAL || error == ERANGE, let wanted = Conversions.parseList(value) {
      let parentFile = Path.dirname(dir) + "/cpuset.effective_" + what
      if let available = try? CgroupIO.readTrimmedIfPresent(parentFile), let have = Conversions.parseList(available),
         !Conversions.isSubset(wanted, of: have) {
        let noun = what == "cpus" ? "CPUs" : "memory nodes"
        return BerthError(.invalidArgument, "\(field): \(quoted(value)) is not a subset of the host's \(noun) \(available)", errno: error)
      }
    }
    return CgroupIO.writeError(dir + "/cpuset." + what, value, error).prefixed(field)
  }

  // MARK: - Block I/O

  private func setBlockIOV1(_ io: LinuxBlockIO, dir: String) throws {
    if let weight = io.weight, weight != 0 {
      if try !writeIfPresent(dir, "blkio.weight", String(weight), field: "linux.resources.blockIO.weight") {
        try writeRequired(dir, "blkio.bfq.weight", String(weight), field: "linux.resources.blockIO.weight",
                          missing: "neither blkio.weight (CFQ) nor blkio.bfq.weight (BFQ) exists: no I/O scheduler with weights")
      }
    }
    if let leaf = io.leafWeight, leaf != 0 {
      try writeRequired(dir, "blkio.leaf_weight", String(leaf), field: "linux.resources.blockIO.leafWeight",
                        missing: "leaf weights need the CFQ I/O scheduler, which this kernel lacks")
    }
    for (index, device) in (io.weightDevice ?? []).enumerated() {
      let field = "linux.resources.blockIO.weightDevice[\(index)]"
      if let weight = device.weight, weight != 0 {
        let value = "\(device.major):\(device.minor) \(weight)"
        if try !writeIfPresent(dir, "blkio.weight_device", value, field: field) {
          try writeRequired(dir, "blkio.bfq.weight_device", value, field: field,
                            missing: "neither blkio.weight_device nor blkio.bfq.weight_device exists")
        }
      }
      if let leaf = device.leafWeight, leaf != 0 {
        try writeRequired(dir, "blkio.leaf_weight_device", "\(device.major):\(device.minor) \(leaf)", field: field + ".leafWeight",
                          missing: "leaf weights need the CFQ I/O scheduler, which this kernel lacks")
      }
    }
    let throttles: [(String, [LinuxThrottleDevice]?, String)] = [
      ("blkio.throttle.read_bps_device", io.throttleReadBpsDevice, "throttleReadBpsDevice"),
      ("blkio.throttle.write_bps_device", io.throttleWriteBpsDevice, "throttleWriteBpsDevice"),
      ("blkio.throttle.read_iops_device", io.throttleReadIOPSDevice, "throttleReadIOPSDevice"),
      ("blkio.throttle.write_iops_device", io.throttleWriteIOPSDevice, "throttleWriteIOPSDevice"),
    ]
    for (file, devices, name) in throttles {
      for (index, device) in (devices ?? []).enumerated() {
        try write(dir, file, "\(device.major):\(device.minor) \(device.rate)", field: "linux.resources.blockIO.\(name)[\(index)]")
      }
    }
  }

  private func setIOV2(_ io: LinuxBlockIO, dir: String) throws {
    if let leaf = io.leafWeight, leaf != 0 {
      throw BerthError(.unsupported, "linux.resources.blockIO.leafWeight: cgroup v2 has no leaf weights")
    }
    // BFQ takes the blkio weight as it is; io.weight (iocost) needs the 1..10000 scale.
    if let weight = io.weight, weight != 0 {
      if try !writeIfPresent(dir, "io.bfq.weight", String(weight), field: "linux.resources.blockIO.weight") {
        try write(dir, "io.weight", "default \(Conversions.ioWeight(blkioWeight: weight))", field: "linux.resources.blockIO.weight")
      }
    }
    for (index, device) in (io.weightDevice ?? []).enumerated() {
      if device.leafWeight.map({ $0 != 0 }) == true {
        throw BerthError(.unsupported, "linux.resources.blockIO.weightDevice[\(index)].leafWeight: cgroup v2 has no leaf weights")
      }
      guard let weight = device.weight, weight != 0 else { continue }
      let field = "linux.resources.blockIO.weightDevice[\(index)]"
      if try !writeIfPresent(dir, "io.bfq.weight", "\(device.major):\(device.minor) \(weight)", field: field) {
        try write(dir, "io.weight", "\(device.major):\(device.minor) \(Conversions.ioWeight(blkioWeight: weight))", field: field)
      }
    }
    // io.max takes every limit of a device in one line: "8:0 rbps=1048576 wiops=100".
    var order: [String] = []
    var lines: [String: [String]] = [:]
    let throttles: [(String, [LinuxThrottleDevice]?)] = [
      ("rbps", io.throttleReadBpsDevice), ("wbps", io.throttleWriteBpsDevice),
      ("riops", io.throttleReadIOPSDevice), ("wiops", io.throttleWriteIOPSDevice),
    ]
    for (key, devices) in throttles {
      for device in devices ?? [] {
        let id = "\(device.major):\(device.minor)"
        if lines[id] == nil { order.append(id); lines[id] = [] }
        lines[id]?.append("\(key)=\(device.rate == 0 ? "max" : String(device.rate))")
      }
    }
    for id in order {
      try write(dir, "io.max", ([id] + (lines[id] ?? [])).joined(separator: " "), field: "linux.resources.blockIO (device \(id))")
    }
  }

  // MARK: - Network, devices, unified

  private func setNetwork(_ network: LinuxNetwork) throws {
    if let classID = network.classID {
      guard let dir = v1ByController["net_cls"] else {
        throw BerthError(.unsupported, "linux.resources.network.classID: the net_cls controller (cgroup v1 only) is not mounted on this host")
      }
      try write(dir, "net_cls.classid", String(classID), field: "linux.resources.network.classID")
    }
    if let priorities = network.priorities, !priorities.isEmpty {
      guard let dir = v1ByController["net_prio"] else {
        throw BerthError(.unsupported, "linux.resources.network.priorities: the net_prio controller (cgroup v1 only) is not mounted on this host")
      }
      for (index, priority) in priorities.enumerated() {
        try write(dir, "net_prio.ifpriomap", "\(priority.name) \(priority.priority)", field: "linux.resources.network.priorities[\(index)]")
      }
    }
  }

  private func setDevices(_ rules: [DeviceRule]) throws {
    if let dir = v1ByController["devices"] {
      // One descriptor per file for all the rules: each write(2) is one rule, and a runtime
      // start writes a dozen of them.
      let allowPath = dir + "/devices.allow", denyPath = dir + "/devices.deny"
      let allow = open(allowPath, O_WRONLY | O_CLOEXEC)
      let deny = open(denyPath, O_WRONLY | O_CLOEXEC)
      defer {
        if allow >= 0 { close(allow) }
        if deny >= 0 { close(deny) }
      }
      guard allow >= 0, deny >= 0 else {
        throw BerthError.system("open \(allow < 0 ? allowPath : denyPath)").prefixed("linux.resources.devices")
      }
      func put(_ fd: Int32, _ text: String, _ path: String, field: String) throws {
        var value = text
        let n = value.withUTF8 { bytes in retryOnInterrupt { Glibc.write(fd, bytes.baseAddress, bytes.count) } }
        if n < 0 { throw CgroupIO.writeError(path, text, errno).prefixed(field) }
      }
      try put(deny, "a", denyPath, field: "linux.resources.devices")
      for (index, line) in DeviceRule.v1Lines(rules) {
        try put(line.allow ? allow : deny, line.text, line.allow ? allowPath : denyPath,
                field: "linux.resources.devices[\(index)]")
      }
      return
    }
    guard let unifiedDir else {
      throw BerthError(.unsupported, "linux.resources.devices: this host mounts neither a v1 devices hierarchy nor cgroup2 (for an eBPF device filter)")
    }
    do {
      try DeviceFilter.install(rules, cgroup: unifiedDir)
    } catch let error as BerthError {
      throw error.prefixed("linux.resources.devices")
    }
  }

  private func setUnified(_ values: [String: String]) throws {
    guard let unifiedDir else { return }  // validate() refused this already
    let offered = mode == .hybrid ? try rootControllers() : []
    for key in values.keys.sorted() {
      guard let value = values[key] else { continue }
      let field = "linux.resources.unified[\(quoted(key))]"
      let controller = String(key.prefix { $0 != "." })
      if mode == .hybrid, offered.contains(controller), !unifiedEnabled.contains(controller), v1ByController[controller] == nil {
        try enableControllers([controller], for: unifiedDir)
      }
      let error = CgroupIO.tryWrite(unifiedDir + "/" + key, value)
      if error == ENOENT {
        throw BerthError(.invalidArgument, "\(field): \(unifiedDir)/\(key) does not exist (unknown file, or the \(controller) controller is not enabled for this cgroup)", errno: error)
      }
      if error != 0 { throw CgroupIO.writeError(unifiedDir + "/" + key, value, error).prefixed(field) }
    }
  }
}

extension LinuxMemory {
  var isSet: Bool {
    limit != nil || reservation != nil || swap != nil || kernelTCP != nil || swappiness != nil
      || disableOOMKiller != nil || useHierarchy != nil
  }
}

extension LinuxCPU {
  var hasCPUControllerFields: Bool {
    shares != nil || quota != nil || burst != nil || period != nil || realtimeRuntime != nil
      || realtimePeriod != nil || idle != nil
  }
}

extension LinuxBlockIO {
  var isSet: Bool {
    weight != nil || leafWeight != nil || weightDevice?.isEmpty == false || throttleReadBpsDevice?.isEmpty == false
      || throttleWriteBpsDevice?.isEmpty == false || throttleReadIOPSDevice?.isEmpty == false
      || throttleWriteIOPSDevice?.isEmpty == false
  }
}
