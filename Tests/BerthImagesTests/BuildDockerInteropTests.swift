import BerthOS
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// An image built by `berth build` and pushed with `berth push` to a local registry pulls and
/// runs under docker (a private dockerd), with the config Berth wrote (Env, WorkingDir, Cmd).
@Suite("berth build, then docker run", .dockerdAvailable)
struct BuildDockerInteropTests {
  /// Two stages: the first makes a file with RUN, the second copies it, sets ENV and WORKDIR,
  /// runs a step that reads them, and has a CMD that prints all of it.
  static func dockerfile(base: String) -> String {
    """
    FROM \(base) AS maker
    RUN busybox mkdir -p /out && echo "made in stage one" > /out/greeting
    FROM \(base)
    COPY --from=maker /out/greeting /opt/app/greeting
    ENV GREETING=hello NAME="berth image"
    WORKDIR /opt/app
    RUN echo "stamped in $(pwd) for $NAME" > stamp
    CMD ["sh", "-c", "echo $GREETING from $PWD; cat greeting stamp; echo $NAME"]
    """
  }

  static let expectedOutput = "hello from /opt/app\nmade in stage one\nstamped in /opt/app for berth image\nberth image\n"

  /// Why `berth build` cannot run containers here (RUN steps), or nil.
  static var buildUnavailableReason: String? {
    if let reason = RegistryFixture.unavailableReason { return reason }
    if geteuid() != 0 { return "berth build needs root: RUN steps are containers" }
    if access("/bin/busybox", X_OK) != 0 { return "needs busybox-static at /bin/busybox (scripts/install-deps.sh)" }
    let products = Path.dirname(BerthBinary.path)
    for program in ["berth-runtime", "berth-monitor"] where access(products + "/" + program, X_OK) != 0 {
      return "\(program) is not in \(products): build with --build-tests"
    }
    return nil
  }

  @Test("an image berth built and pushed runs under docker with its Env, WorkingDir and Cmd")
  func builtImageRunsUnderDocker() async throws {
    if let reason = Self.buildUnavailableReason { try Test.cancel(Comment(rawValue: reason)) }
    // A short label: the run root's attach sockets (RUNROOT/<64 hex>/attach) must fit in sun_path.
    try await Sandbox.with("bd") { berth in
      let runRoot = berth.directory + "/run"
      let engine = ["BERTH_RUNROOT": runRoot]
      try await RegistryFixture.with { registry in
        let base = registry.reference("\(uniqueName("build-docker"))/busybox:1")
        try await registry.push(try TestImage.busybox(), as: base)

        let context = berth.scratch + "/context"
        try FS.makeDirectories(context)
        try FS.write(context + "/Dockerfile", Self.dockerfile(base: base))
        let built = registry.reference("\(uniqueName("build-docker"))/app:1")
        let build = try await berth.run(["build", "-t", built, context], environment: engine)
        try #require(build.code == 0, "\(build)")
        // The build left no container and no mount behind.
        let containers = try await berth.run(["ps", "-a", "-q"], environment: engine)
        #expect(containers.code == 0 && containers.lines.isEmpty, "\(containers)")
        #expect(Processes.mounts(under: berth.directory).isEmpty, "mounts left: \(Processes.mounts(under: berth.directory))")

        let pushed = try await berth.run(["push", built], environment: engine)
        try #require(pushed.code == 0, "\(pushed)")
        let ours = try await berth.inspect(built)
        let ourID = try #require(ours["Id"] as? String)
        let ourLayers = try #require((ours["RootFS"] as? [String: Any])?["Layers"] as? [String])
        #expect(ourLayers.count >= 3, "base, COPY and RUN layers: \(ourLayers)")

        try await PrivateDockerd.with { docker in
          // docker treats 127.0.0.0/8 registries as insecure (plain HTTP) without configuration.
          try await docker.ok("pull", built)
          let ran = try await docker.ok("run", "--rm", "--network", "none", built)
          #expect(ran.stdout == Self.expectedOutput, "\(ran)")

          let inspected = try await docker.ok(
            "image", "inspect", "--format",
            "{{json .Id}}\n{{json .RootFS.Layers}}\n{{json .Config.Env}}\n{{json .Config.WorkingDir}}\n{{json .Config.Cmd}}", built)
          let fields = inspected.lines
          try #require(fields.count == 5, "\(inspected)")
          func decoded(_ line: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(line.utf8), options: .fragmentsAllowed) }
          #expect(try decoded(fields[0]) as? String == ourID, "docker's image ID is the config digest berth pushed")
          #expect(try decoded(fields[1]) as? [String] == ourLayers)
          #expect(
            try decoded(fields[2]) as? [String]
              == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello", "NAME=berth image"])
          #expect(try decoded(fields[3]) as? String == "/opt/app")
          #expect(try decoded(fields[4]) as? [String] == ["sh", "-c", "echo $GREETING from $PWD; cat greeting stamp; echo $NAME"])
          // `--rm` removed the container.
          let left = try await docker.ok("ps", "-a", "-q")
          #expect(left.lines.isEmpty, "\(left)")
        }
      }
    }
  }
}
