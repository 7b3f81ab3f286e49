import BerthCgroups
import BerthJSON
import BerthOCI
import BerthOS

extension ContainerEngine {
  /// The container's cgroup, where its spec's `linux.cgroupsPath` puts it: berth-runtime and
  /// runc (cgroupfs driver) both read that path against each hierarchy the host mounts (v1,
  /// hybrid or v2), so one lookup serves every runtime. Only reads: nothing is created.
  public func cgroup(of record: ContainerRecord) throws -> any CgroupManager {
    let spec = try JSON.decode(Spec.self, from: FS.read(layout.bundleConfig(record.id)))
    return try CgroupHost.detect().manager(cgroupsPath: spec.linux?.cgroupsPath, containerID: record.id)
  }

  /// The host pids of every process in the container (its cgroup and the cgroups below).
  public func processes(of record: ContainerRecord) throws -> [Int32] {
    try cgroup(of: record).processes()
  }
}
