import ArgumentParser
import BerthEngine
import BerthOS
import Foundation

/// `berth update [flags] CONTAINER…`: new resource limits (and restart policy) for containers,
/// running or not.
struct UpdateCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "update", abstract: "Update configuration of one or more containers.")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Memory limit.") var memory: String?
  @Option(name: .customLong("memory-swap"), help: "Swap limit equal to memory plus swap: -1 to enable unlimited swap.") var memorySwap: String?
  @Option(name: .customLong("memory-reservation"), help: "Memory soft limit.") var memoryReservation: String?
  @Option(help: "Number of CPUs.") var cpus: String?
  @Option(name: [.customShort("c"), .customLong("cpu-shares")], help: "CPU shares (relative weight).") var cpuShares: String?
  @Option(name: .customLong("cpu-period"), help: "Limit CPU CFS (Completely Fair Scheduler) period.") var cpuPeriod: String?
  @Option(name: .customLong("cpu-quota"), help: "Limit CPU CFS (Completely Fair Scheduler) quota.") var cpuQuota: String?
  @Option(name: .customLong("cpuset-cpus"), help: "CPUs in which to allow execution (0-3, 0,1).") var cpusetCpus: String?
  @Option(name: .customLong("cpuset-mems"), help: "MEMs in which to allow execution (0-3, 0,1).") var cpusetMems: String?
  @Option(name: .customLong("pids-limit"), help: "Tune container pids limit (set -1 for unlimited).") var pidsLimit: String?
  @Option(help: "Restart policy to apply when a container exits.") var restart: String?
  @OptionGroup var containers: ContainerNames

  func validate() throws {
    try containers.validate("update")
    let given: [String?] = [memory, memorySwap, memoryReservation, cpus, cpuShares, cpuPeriod, cpuQuota, cpusetCpus, cpusetMems, pidsLimit, restart]
    if given.allSatisfy({ $0 == nil }) {
      throw ValidationError("you must provide one or more flags when using this command")
    }
  }

  func run() async throws {
    let update: ResourceUpdate
    do {
      update = try ResourceUpdate.parse(
        memory: memory, memorySwap: memorySwap, memoryReservation: memoryReservation, cpus: cpus, cpuShares: cpuShares,
        cpuPeriod: cpuPeriod, cpuQuota: cpuQuota, cpusetCpus: cpusetCpus, cpusetMems: cpusetMems, pidsLimit: pidsLimit,
        restart: restart)
    } catch {
      throw ValidationError(error.text)
    }
    try await containers.each(global, report: { CLIOutput.daemonError($0) }) { engine, record in
      try await engine.update(record, update)
    }
  }
}
