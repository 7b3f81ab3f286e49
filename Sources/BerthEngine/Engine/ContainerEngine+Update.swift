import BerthJSON
import BerthOCI
import BerthOS
import Foundation

/// What `berth update` changes; nil leaves a value as it is (as Docker, a zero means "not
/// given" for the sizes and counts).
public struct ResourceUpdate: Sendable, Equatable {
  public var memory: Int64?
  /// Memory plus swap; -1 for unlimited swap.
  public var memorySwap: Int64?
  public var memoryReservation: Int64?
  public var nanoCPUs: Int64?
  public var cpuShares: Int64?
  public var cpuPeriod: Int64?
  public var cpuQuota: Int64?
  public var cpusetCpus: String?
  public var cpusetMems: String?
  /// Zero or negative: no limit.
  public var pidsLimit: Int64?
  public var restartPolicy: RestartPolicy?

  public init() {}

  /// Whether any resource (not the restart policy) changes: only those reach the runtime.
  public var changesResources: Bool {
    memory != nil || memorySwap != nil || memoryReservation != nil || nanoCPUs != nil || cpuShares != nil
      || cpuPeriod != nil || cpuQuota != nil || cpusetCpus != nil || cpusetMems != nil || pidsLimit != nil
  }

  /// Parses the flags as typed, with Docker's messages for values it cannot read.
  public static func parse(
    memory: String? = nil, memorySwap: String? = nil, memoryReservation: String? = nil, cpus: String? = nil,
    cpuShares: String? = nil, cpuPeriod: String? = nil, cpuQuota: String? = nil, cpusetCpus: String? = nil,
    cpusetMems: String? = nil, pidsLimit: String? = nil, restart: String? = nil
  ) throws(BerthErrorMessage) -> ResourceUpdate {
    var update = ResourceUpdate()
    // As Docker: a zero size or count means "not given".
    func given(_ value: Int64?) -> Int64? { value == 0 ? nil : value }
    update.memory = try given(FlagSyntax.sizeFlag(memory, long: "memory", short: "m"))
    if let memorySwap { update.memorySwap = memorySwap == "-1" ? -1 : try given(FlagSyntax.sizeFlag(memorySwap, long: "memory-swap")) }
    update.memoryReservation = try given(FlagSyntax.sizeFlag(memoryReservation, long: "memory-reservation"))
    update.nanoCPUs = try given(FlagSyntax.cpusFlag(cpus))
    update.cpuShares = try given(FlagSyntax.integerFlag(cpuShares, long: "cpu-shares", short: "c"))
    update.cpuPeriod = try given(FlagSyntax.integerFlag(cpuPeriod, long: "cpu-period"))
    update.cpuQuota = try given(FlagSyntax.integerFlag(cpuQuota, long: "cpu-quota"))
    update.cpusetCpus = cpusetCpus.flatMap { $0.isEmpty ? nil : $0 }
    update.cpusetMems = cpusetMems.flatMap { $0.isEmpty ? nil : $0 }
    update.pidsLimit = try FlagSyntax.integerFlag(pidsLimit, long: "pids-limit")
    if let restart { update.restartPolicy = try ContainerOptions.parseRestartPolicy(restart) }
    return update
  }
}

extension ContainerEngine {
  /// `berth update`: new limits for a container, kept in its record and its spec (so the
  /// next start has them) and, when it runs, applied at once through the OCI runtime's
  /// `update`. Refuses what Docker's daemon refuses, with its messages. A new restart policy
  /// is recorded; the monitor of a running container goes on with the old one until the
  /// container next starts.
  @discardableResult
  public func update(_ record: ContainerRecord, _ update: ResourceUpdate, host: HostFacts = .current) async throws -> ContainerRecord {
    try await withLock(record.id) {
      guard var current = try containers.get(id: record.id) else {
        throw BerthError(.notFound, "No such container: \(record.id)")
      }
      if let policy = update.restartPolicy, !policy.isNone, current.options.autoRemove {
        throw BerthError(.invalidArgument, "Restart policy cannot be updated because AutoRemove is enabled for the container")
      }
      current.options.resources = try Self.updatedResources(current.options.resources, update, host: host)
      if let policy = update.restartPolicy { current.options.restartPolicy = policy }

      if update.changesResources {
        let state = state(of: record.id)
        if state.status == .running || state.status == .paused {
          let result = try runtime(current, ["update"] + Self.runtimeFlags(update, resources: current.options.resources) + [record.id])
          if !result.ok { throw BerthError(.commandFailed, "Cannot update container \(record.id): \(result.message)") }
        }
        try rewriteSpecResources(current, host: host)
      }
      try containers.update(current)
      return current
    }
  }

  /// The container's resources with the update laid over them, checked as Docker's daemon
  /// checks them.
  static func updatedResources(
    _ old: ContainerOptions.Resources, _ update: ResourceUpdate, host: HostFacts
  ) throws -> ContainerOptions.Resources {
    var new = old
    func refuse(_ message: String) -> BerthError { BerthError(.invalidArgument, message) }
    if let memory = update.memory {
      if memory < 6 * 1024 * 1024 { throw refuse("Minimum memory limit allowed is 6MB") }
      if update.memorySwap == nil, let swap = old.memorySwap, swap > 0, memory > swap {
        throw refuse("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")
      }
      new.memory = memory
    }
    if let swap = update.memorySwap {
      if swap > 0 {
        guard let memory = new.memory else {
          throw refuse("You should always set the Memory limit when using Memoryswap limit, see usage")
        }
        if swap < memory { throw refuse("Minimum memoryswap limit should be larger than memory limit, see usage") }
      }
      new.memorySwap = swap
    }
    if let reservation = update.memoryReservation {
      if reservation < 6 * 1024 * 1024 { throw refuse("Minimum memory reservation allowed is 6MB") }
      new.memoryReservation = reservation
    }
    if let memory = new.memory, let reservation = new.memoryReservation, memory < reservation {
      throw refuse("Minimum memory limit can not be less than memory reservation limit, see usage")
    }
    if let nano = update.nanoCPUs {
      if (old.cpuQuota ?? 0) > 0 || update.cpuQuota != nil {
        throw refuse("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set")
      }
      if (old.cpuPeriod ?? 0) > 0 || update.cpuPeriod != nil {
        throw refuse("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set")
      }
      if nano < 0 || nano > Int64(host.cpuCount) * 1_000_000_000 {
        throw refuse("range of CPUs is from 0.01 to \(host.cpuCount).00, as there are only \(host.cpuCount) CPUs available")
      }
      new.nanoCPUs = nano
    }
    if update.cpuQuota != nil || update.cpuPeriod != nil, (old.nanoCPUs ?? 0) > 0, update.nanoCPUs == nil {
      throw refuse("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
    }
    if let period = update.cpuPeriod {
      if period < 1000 || period > 1_000_000 {
        throw refuse("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
      }
      new.cpuPeriod = period
    }
    if let quota = update.cpuQuota {
      if quota > 0 && quota < 1000 { throw refuse("CPU cfs quota can not be less than 1ms (i.e. 1000)") }
      new.cpuQuota = quota
    }
    if let shares = update.cpuShares {
      if shares < 0 { throw refuse("shares: invalid argument") }
      new.cpuShares = shares
    }
    if let cpus = update.cpusetCpus {
      guard let wanted = CPUList.parse(cpus) else { throw refuse("Invalid value \(cpus) for cpuset cpus") }
      guard wanted.isSubset(of: CPUList.parse(host.onlineCPUs) ?? []) else {
        throw refuse("Requested CPUs are not available - requested \(cpus), available: \(host.onlineCPUs)")
      }
      new.cpusetCpus = cpus
    }
    if let mems = update.cpusetMems {
      guard let wanted = CPUList.parse(mems) else { throw refuse("Invalid value \(mems) for cpuset mems") }
      guard wanted.isSubset(of: CPUList.parse(host.memoryNodes) ?? []) else {
        throw refuse("Requested memory nodes are not available - requested \(mems), available: \(host.memoryNodes)")
      }
      new.cpusetMems = mems
    }
    if let pids = update.pidsLimit { new.pidsLimit = pids > 0 ? pids : nil }
    return new
  }

  /// `RUNTIME update` flags for what changes (runc and berth-runtime take the same ones).
  static func runtimeFlags(_ update: ResourceUpdate, resources: ContainerOptions.Resources) -> [String] {
    var flags: [String] = []
    if let memory = update.memory { flags += ["--memory", String(memory)] }
    if let reservation = update.memoryReservation { flags += ["--memory-reservation", String(reservation)] }
    if let swap = update.memorySwap { flags += ["--memory-swap", String(swap)] }
    if let shares = update.cpuShares { flags += ["--cpu-share", String(shares)] }
    if let nano = update.nanoCPUs {
      let period: Int64 = 100_000
      flags += ["--cpu-period", String(period), "--cpu-quota", String(nano * period / 1_000_000_000)]
    }
    if let period = update.cpuPeriod { flags += ["--cpu-period", String(period)] }
    if let quota = update.cpuQuota { flags += ["--cpu-quota", String(quota)] }
    if let cpus = update.cpusetCpus { flags += ["--cpuset-cpus", cpus] }
    if let mems = update.cpusetMems { flags += ["--cpuset-mems", mems] }
    if let pids = update.pidsLimit { flags += ["--pids-limit", String(pids > 0 ? pids : -1)] }
    return flags
  }

  /// The bundle's config.json with the new limits (its device rules kept), so that the next
  /// start runs with them.
  private func rewriteSpecResources(_ record: ContainerRecord, host: HostFacts) throws {
    let path = layout.bundleConfig(record.id)
    var spec = try JSON.decode(Spec.self, from: try FS.read(path))
    var resources = try SpecBuilder.resources(options: record.options, host: host)
    resources.devices = spec.linux?.resources?.devices
    if spec.linux == nil { spec.linux = Linux() }
    spec.linux?.resources = resources
    try FS.writeAtomically(path, try JSON.encode(spec), mode: 0o600)
  }
}
