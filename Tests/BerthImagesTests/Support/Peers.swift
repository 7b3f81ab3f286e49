import BerthOS
import BerthTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// podman with a store of its own (root, runroot, tmpdir, auth file under a temp dir), the
/// cgroupfs manager and runc (what this machine needs). Removed, mounts and all, afterwards.
struct Podman: Sendable {
  let directory: String

  static var unavailableReason: String? {
    Processes.which("podman") == nil ? "podman is not installed" : (Processes.which("runc") == nil ? "runc is not installed" : nil)
  }

  static func with<T>(_ body: (Podman) async throws -> T) async throws -> T {
    let directory = try RegistrySupport.makeTemporaryDirectory(prefix: "berth-img-podman")
    defer { Processes.removeTree(directory) }
    for sub in ["root", "runroot", "tmp", "scratch"] { try FS.makeDirectories(directory + "/" + sub) }
    try FS.write(directory + "/auth.json", "{}\n", mode: 0o600)
    let podman = Podman(directory: directory)
    do {
      let result = try await body(podman)
      await podman.stopEverything()
      return result
    } catch {
      await podman.stopEverything()
      throw error
    }
  }

  var globalArguments: [String] {
    [
      "--root", directory + "/root", "--runroot", directory + "/runroot", "--tmpdir", directory + "/tmp",
      "--cgroup-manager", "cgroupfs", "--runtime", "runc", "--events-backend", "none", "--storage-driver", "overlay",
    ]
  }

  var environment: [String: String] {
    [
      "PATH": Processes.path, "HOME": directory, "TMPDIR": directory + "/scratch",
      "REGISTRY_AUTH_FILE": directory + "/auth.json", "LC_ALL": "C.UTF-8",
    ]
  }

  func run(_ arguments: [String], input: [UInt8] = []) async throws -> CommandResult {
    try await Processes.run("/usr/bin/podman", globalArguments + arguments, environment: environment, input: input)
  }

  @discardableResult
  func ok(_ arguments: String...) async throws -> CommandResult {
    let result = try await run(arguments)
    if result.code != 0 { throw CommandFailed(result: result) }
    return result
  }

  /// `podman image inspect --format '{{.Id}}'` (hex, no "sha256:").
  func imageID(_ name: String) async throws -> String {
    try await ok("image", "inspect", "--format", "{{.Id}}", name).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// The image's diffIDs.
  func diffIDs(_ name: String) async throws -> [String] {
    let text = try await ok("image", "inspect", "--format", "{{json .RootFS.Layers}}", name).output
    return (try JSONSerialization.jsonObject(with: Data(text)) as? [String]) ?? []
  }

  /// Runs `/bin/busybox echo ok` in the image.
  func runEcho(_ image: String) async throws -> CommandResult {
    try await run([
      "run", "--rm", "--network", "none", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768", image,
      "/bin/busybox", "echo", "ok",
    ])
  }

  private func stopEverything() async {
    _ = try? await run(["rm", "--all", "--force"])
  }
}

/// A dockerd of its own (data root, exec root, socket, pid file, config under a temp dir; no
/// bridge, no iptables), with the containerd it starts. Stopped and removed afterwards.
final class PrivateDockerd: Sendable {
  let directory: String
  let pid: pid_t
  private let reaped = Mutex(false)

  var socket: String { directory + "/docker.sock" }

  private init(directory: String, pid: pid_t) {
    self.directory = directory
    self.pid = pid
  }

  static var unavailableReason: String? {
    if Processes.which("dockerd") == nil { return "dockerd is not installed (docker.io)" }
    if Processes.which("docker") == nil { return "the docker CLI is not installed" }
    if geteuid() != 0 { return "dockerd needs root" }
    return nil
  }

  /// Starts dockerd, runs `body`, stops it. Cancels the test (a skip, with the reason) when
  /// dockerd does not come up.
  static func with<T>(_ body: (PrivateDockerd) async throws -> T) async throws -> T {
    let directory = try RegistrySupport.makeTemporaryDirectory(prefix: "berth-img-dockerd")
    defer { Processes.removeTree(directory) }
    try FS.write(directory + "/daemon.json", "{}\n")
    try FS.makeDirectories(directory + "/cli")
    let logFD = open(directory + "/dockerd.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    let nullFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
    defer { close(logFD); close(nullFD) }
    let arguments = [
      "dockerd", "--data-root", directory + "/data", "--exec-root", directory + "/exec", "-H", "unix://" + directory + "/docker.sock",
      "--pidfile", directory + "/docker.pid", "--config-file", directory + "/daemon.json", "--bridge=none", "--iptables=false",
      "--ip6tables=false", "--exec-opt", "native.cgroupdriver=cgroupfs", "--log-level", "warn",
    ]
    let path = Processes.which("dockerd") ?? "/usr/sbin/dockerd"
    let pid = try Subprocess.spawn(
      path, args: arguments, env: ["PATH=" + Processes.path, "HOME=" + directory], fds: [(nullFD, 0), (logFD, 1), (logFD, 2)],
      newSession: true)
    let daemon = PrivateDockerd(directory: directory, pid: pid)
    do {
      var ready = false
      for _ in 0..<240 {
        if daemon.hasExited() { break }
        if let version = try? await daemon.docker(["version", "--format", "{{.Server.Version}}"]), version.code == 0 {
          ready = true
          break
        }
        try await Task.sleep(for: .milliseconds(250))
      }
      if !ready {
        let log = (try? FS.readText(directory + "/dockerd.log")) ?? ""
        await daemon.stop()
        try Test.cancel("dockerd did not start here: \(log.suffix(1500))")
      }
      let result = try await body(daemon)
      await daemon.stop()
      return result
    } catch {
      await daemon.stop()
      throw error
    }
  }

  /// Reaps dockerd if it ended; whether it has.
  func hasExited() -> Bool {
    reaped.withLock { done in
      if done { return true }
      var status: Int32 = 0
      let rc = waitpid(pid, &status, WNOHANG)
      if rc == pid || (rc < 0 && errno == ECHILD) { done = true }
      return done
    }
  }

  /// Runs the docker CLI against this daemon.
  func docker(_ arguments: [String]) async throws -> CommandResult {
    try await Processes.run(
      Processes.which("docker") ?? "/usr/bin/docker", ["-H", "unix://" + socket] + arguments,
      environment: ["PATH": Processes.path, "HOME": directory, "DOCKER_CONFIG": directory + "/cli", "LC_ALL": "C.UTF-8"],
      timeout: .seconds(120))
  }

  @discardableResult
  func ok(_ arguments: String...) async throws -> CommandResult {
    let result = try await docker(arguments)
    if result.code != 0 { throw CommandFailed(result: result) }
    return result
  }

  /// SIGTERM (dockerd stops its containerd), SIGKILL after 20 s; then the containerd it
  /// started, should it still run.
  func stop() async {
    let containerdPIDFile = directory + "/exec/containerd/containerd.pid"
    let containerd = (try? FS.readText(containerdPIDFile, trimmingNewline: true)).flatMap { pid_t($0) }
    if !hasExited() {
      kill(pid, SIGTERM)
      for _ in 0..<80 {
        if hasExited() { break }
        try? await Task.sleep(for: .milliseconds(250))
      }
      if !hasExited() {
        kill(pid, SIGKILL)
        _ = try? await Processes.wait(pid)
        reaped.withLock { $0 = true }
      }
    }
    if let containerd, containerd > 1, kill(containerd, 0) == 0,
       let cmdline = try? FS.readText("/proc/\(containerd)/cmdline"), cmdline.contains(directory) {
      kill(containerd, SIGKILL)
    }
  }
}

/// skopeo, with no signature policy and the given temp dir for its files.
enum Skopeo {
  static var unavailableReason: String? { Processes.which("skopeo") == nil ? "skopeo is not installed" : nil }

  @discardableResult
  static func ok(_ arguments: [String], home: String) async throws -> CommandResult {
    let result = try await Processes.run(
      Processes.which("skopeo") ?? "/usr/bin/skopeo", ["--insecure-policy"] + arguments,
      environment: ["PATH": Processes.path, "HOME": home, "TMPDIR": home, "REGISTRY_AUTH_FILE": home + "/auth.json"])
    if result.code != 0 { throw CommandFailed(result: result) }
    return result
  }
}

extension Trait where Self == ConditionTrait {
  static var podmanAvailable: Self {
    let reason = BerthBinary.unavailableReason ?? RegistryFixture.unavailableReason ?? Podman.unavailableReason
    return .enabled(if: reason == nil, Comment(rawValue: reason ?? ""))
  }

  static var skopeoAvailable: Self {
    let reason = BerthBinary.unavailableReason ?? RegistryFixture.unavailableReason ?? Skopeo.unavailableReason
    return .enabled(if: reason == nil, Comment(rawValue: reason ?? ""))
  }

  static var dockerdAvailable: Self {
    let reason = BerthBinary.unavailableReason ?? PrivateDockerd.unavailableReason
    return .enabled(if: reason == nil, Comment(rawValue: reason ?? ""))
  }
}
