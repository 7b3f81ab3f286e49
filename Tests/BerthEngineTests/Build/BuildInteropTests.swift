import BerthOS
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// An image built by `berth build`, pushed to a local registry, runs under podman; and the
/// same Dockerfile built by `podman build` gives the same file system (paths, types, modes,
/// owners), compared by listing both images' files from podman containers.
@Suite(.serialized, .engineNeeds("podman"))
struct BuildInteropTests {
  static func dockerfile(base: String) -> String {
    """
    FROM \(base) AS b
    RUN mkdir -p /out/sub && echo made > /out/sub/f && chmod 700 /out/sub && ln -s sub/f /out/link
    FROM \(base)
    COPY --from=b /out /app/out
    COPY src/ /app/src/
    RUN rm /bin/vi && mkdir -p /var/empty && echo touched > /etc/touched
    WORKDIR /app/w
    ENV X=1
    CMD ["cat", "/app/out/sub/f"]
    """
  }

  /// podman with a store of its own under `directory` (runc, cgroupfs: what this machine needs).
  struct Podman {
    let directory: String

    func run(_ arguments: [String], timeout: Double = 180) async throws -> EngineOutcome {
      let global = [
        "--root", directory + "/root", "--runroot", directory + "/run", "--tmpdir", directory + "/tmp",
        "--cgroup-manager", "cgroupfs", "--events-backend", "none", "--storage-driver", "overlay",
      ]
      return try await EngineSandbox.runProgram(
        "/usr/bin/podman", global + arguments,
        environment: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + directory, "LC_ALL=C.UTF-8"],
        timeout: timeout)
    }

    @discardableResult
    func ok(_ arguments: [String], timeout: Double = 180) async throws -> EngineOutcome {
      let outcome = try await run(arguments, timeout: timeout)
      if outcome.code != 0 { throw EngineCommandFailed(outcome: outcome) }
      return outcome
    }

    /// Every file of the image (path, type, mode, owner), from a container's view.
    func listing(_ image: String) async throws -> Set<String> {
      let outcome = try await ok([
        "run", "--rm", "--runtime", "runc", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768", "--network", "none", image,
        "find", "/", "-xdev", "-exec", "stat", "-c", "%n %F %a %u:%g", "{}", "+",
      ])
      return Set(outcome.lines)
    }

    func removeEverything() async {
      _ = try? await run(["rm", "-af", "-t", "0"])
      _ = try? await run(["rmi", "-af"])
      try? HostScan.unmountAll(under: directory)
      try? FS.removeTree(directory)
    }
  }

  @Test func aBerthImageRunsUnderPodmanAndMatchesPodmanBuild() async throws {
    if let reason = RegistryFixture.unavailableReason { try Test.cancel(Comment(rawValue: reason)) }
    var template = Array("/tmp/berth-build-podman-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw BerthError.system("mkdtemp") }
    let podman = Podman(directory: String(cString: made))
    defer { try? FS.removeTree(podman.directory) }
    do {
      try await EngineSandbox.with { sandbox in
        try await RegistryFixture.with { registry in
          // The base image, in the registry for podman.
          let base = registry.reference("build/busybox:1")
          try await sandbox.ok("tag", "busybox", base)
          try await sandbox.ok("push", base)
          let context = try BuildCommandTests.makeContext(sandbox, dockerfile: Self.dockerfile(base: base))

          let built = registry.reference("build/app:1")
          try await sandbox.ok(["build", "-t", built, context], timeout: 120)
          try await sandbox.ok("push", built)
          try await podman.ok(["pull", "--tls-verify=false", built])
          let ran = try await podman.ok([
            "run", "--rm", "--runtime", "runc", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768", "--network", "none", built,
          ])
          #expect(ran.stdout == "made\n")

          try await podman.ok(["pull", "--tls-verify=false", base])
          try await podman.ok(
            [
              "build", "--runtime", "runc", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768", "--network", "host", "--pull=never",
              "-t", "localhost/podman-built", context,
            ], timeout: 300)
          let ours = try await podman.listing(built)
          // podman build leaves the empty /etc/resolv.conf it bound over the image's (absent)
          // one in its RUN layer; Docker's builders and Berth's do not.
          let theirs = try await podman.listing("localhost/podman-built").filter { !$0.hasPrefix("/etc/resolv.conf ") }
          #expect(ours.count > 100, "\(ours.count) files")
          #expect(ours.subtracting(theirs).sorted() == [], "only in berth's image")
          #expect(theirs.subtracting(ours).sorted() == [], "only in podman's image")
        }
      }
    } catch {
      await podman.removeEverything()
      throw error
    }
    await podman.removeEverything()
  }
}
