import BerthEngine
import BerthJSON
import BerthOCI
import BerthOS
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a RUN step's command in a container on a mounted step (``StepMount``): the engine's
/// SpecBuilder makes the spec (Docker's capabilities, seccomp profile, masked paths, the user
/// from the image's /etc/passwd), and `berth-runtime run` runs it in the foreground, with no
/// container record and no monitor. The command's stdout and stderr go to the given
/// descriptors.
///
/// Network: the host's network namespace by default (`--network host`: a build reaches what
/// the host reaches, as `docker build --network host`), or none (`--network none`: loopback
/// only). /etc/hosts and /etc/resolv.conf are copies of the host's, bound over the image's
/// and kept out of the layer, as Docker does.
struct StepRunner {
  let engine: ContainerEngine
  let network: BuildNetwork

  /// Runs `arguments` (the shell form already wrapped in SHELL) with the state's config;
  /// `extraEnv` are the build arguments in scope ("K=V"). Returns the exit status.
  func run(
    _ arguments: [String], in step: StepMount, config: ImageConfig, extraEnv: [String],
    script: (path: String, content: String)? = nil, extraMounts: [Mount] = [], output: (stdout: Int32, stderr: Int32)
  ) throws -> ExitStatus {
    var options = ContainerOptions(image: "")
    options.entrypoint = []
    options.command = arguments
    options.networkMode = network.rawValue
    // Build arguments are the step's environment, under what the image sets (Docker: ENV wins).
    let imageEnvKeys = Set((config.config?.Env ?? []).map { Self.key($0) })
    options.env = extraEnv.filter { !imageEnvKeys.contains(Self.key($0)) }

    // Host files the step may read and change: copies, so that the host's stay as they are.
    var hostsPath: String?, resolvPath: String?
    if let hosts = try? FS.read("/etc/hosts") {
      hostsPath = step.directory + "/hosts"
      try FS.write(step.directory + "/hosts", hosts)
    }
    if network == .host, let resolv = try? FS.read("/etc/resolv.conf") {
      resolvPath = step.directory + "/resolv.conf"
      try FS.write(step.directory + "/resolv.conf", resolv)
    }
    var spec = try SpecBuilder.build(
      options: options, image: config, containerID: step.id, rootfs: step.rootfs, hostsPath: hostsPath,
      resolvConfPath: resolvPath, cgroupParent: "/berth-build")
    if let script {
      // `RUN <<EOF` with a #! body: the body is an executable file, bound read-only.
      try FS.write(step.directory + "/script", script.content, mode: 0o755)
      spec.mounts = (spec.mounts ?? []) + [
        Mount(destination: script.path, type: "bind", source: step.directory + "/script", options: ["bind", "ro"])
      ]
    }
    // RUN --mount: after the defaults, so that they win over them.
    spec.mounts = (spec.mounts ?? []) + extraMounts
    // Mount points the runtime makes in the rootfs if missing: they must not become part of the layer.
    let stubs = ((spec.mounts ?? []).map(\.destination)).filter { !Self.exists(step.rootfs + $0) }
    try FS.makeDirectories(step.bundle, mode: 0o700)
    try FS.write(step.bundle + "/config.json", try JSON.encode(spec), mode: 0o600)

    let runtime = try RuntimeChoice.resolve(nil)
    let runtimeRoot = engine.layout.runtimeRoot(runtime.name)
    try FS.makeDirectories(runtimeRoot, mode: 0o700)
    let null = try OwnedFD.open("/dev/null", O_RDONLY)
    let pid = try Subprocess.spawn(
      runtime.path, args: [runtime.path, "--root", runtimeRoot, "run", "--bundle", step.bundle, step.id],
      env: ["PATH=" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin")],
      fds: [(null.raw, 0), (output.stdout, 1), (output.stderr, 2)])
    BuildInterrupt.shared.started(.init(pid: pid, id: step.id, runtimePath: runtime.path, runtimeRoot: runtimeRoot))
    defer { BuildInterrupt.shared.ended(step.id) }
    let status: ExitStatus
    do {
      status = try Subprocess.wait(pid)
    } catch {
      kill(pid, SIGKILL)
      _ = try? Subprocess.wait(pid)
      Self.forceDelete(step.id, runtimePath: runtime.path, root: runtimeRoot)
      throw error
    }
    BuildInterrupt.shared.parkIfInterrupted()
    // `run` deletes the container when it ends; after a crash of the runtime it may not have.
    if FS.exists(runtimeRoot + "/" + step.id) { Self.forceDelete(step.id, runtimePath: runtime.path, root: runtimeRoot) }
    try step.unmount()
    for stub in stubs { Self.removeStub(stub, upper: step.upper) }
    return status
  }

  /// `runtime delete --force ID`: a step's container, after a crash, an interrupt or a sweep.
  static func forceDelete(_ id: String, runtimePath: String, root: String) {
    _ = try? Subprocess.run(
      runtimePath, args: [runtimePath, "--root", root, "delete", "--force", id], timeoutNanoseconds: 30_000_000_000)
  }

  static func key(_ entry: String) -> Substring {
    entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
  }

  static func exists(_ path: String) -> Bool {
    (try? FS.lstatIfPresent(path)) != nil
  }

  /// Removes a mount point the runtime made (an empty file or directory) from the upper
  /// directory, and the parents it had to make, while they are empty.
  static func removeStub(_ destination: String, upper: String) {
    var path = Path.clean(destination)
    while path != "/" {
      let full = upper + path
      guard let info = try? FS.lstatIfPresent(full) else { return }
      let type = info.st_mode & S_IFMT
      if type == S_IFDIR {
        guard ((try? FS.list(full)) ?? ["?"]).isEmpty, rmdir(full) == 0 else { return }
      } else if type == S_IFREG && info.st_size == 0 {
        guard unlink(full) == 0 else { return }
      } else {
        return
      }
      path = Path.dirname(path)
    }
  }
}
