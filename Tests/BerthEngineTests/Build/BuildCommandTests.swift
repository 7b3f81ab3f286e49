import BerthImages
import BerthOCI
import BerthOS
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `berth build` end to end through the berth binary: real RUN containers, layers, the cache,
/// stages, the context and its .dockerignore, and what a failing build leaves (nothing).
@Suite(.serialized, .engineSandbox)
struct BuildCommandTests {
  static let multiStage = """
    # A builder stage whose output the final stage copies.
    FROM busybox AS b
    ARG GREETING=hi
    RUN echo "$GREETING from b" > /greet && echo built-in-b
    FROM busybox
    COPY --from=b /greet /app/greet
    COPY src/ /app/src/
    ENV NAME=world
    WORKDIR /app/work
    USER alice
    CMD ["sh", "-c", "cat /app/greet /app/src/*; echo $NAME; id -un; pwd"]
    """

  /// A context directory with the Dockerfile, two source files and a .dockerignore that
  /// leaves one of them out.
  static func makeContext(_ sandbox: EngineSandbox, dockerfile: String = multiStage) throws -> String {
    let context = sandbox.scratch + "/ctx"
    try FS.makeDirectories(context + "/src")
    try FS.write(context + "/Dockerfile", dockerfile)
    try FS.write(context + "/src/a.txt", "alpha\n")
    try FS.write(context + "/src/secret.txt", "do not ship\n")
    try FS.write(context + "/.dockerignore", "# keep secrets out\nsrc/secret.txt\n")
    return context
  }

  /// Directories of unpacked layers in the store.
  static func layerCount(_ sandbox: EngineSandbox) -> Int {
    ((try? FS.list(sandbox.root + "/layers")) ?? []).filter { $0.count == 64 }.count
  }

  /// The "STEP n/N: ..." lines followed by " ---> Using cache".
  static func cachedSteps(_ output: String) -> [String] {
    let lines = output.split(separator: "\n").map(String.init)
    return lines.indices.compactMap { index in
      index + 1 < lines.count && lines[index + 1] == " ---> Using cache" ? lines[index] : nil
    }
  }

  /// What a build must not leave: step directories, mounts, runtime containers.
  static func expectNoBuildLeftovers(_ sandbox: EngineSandbox, sourceLocation: SourceLocation = #_sourceLocation) {
    let steps = ((try? FS.list(sandbox.root + "/build")) ?? [])
    #expect(steps.isEmpty, "build directories left: \(steps)", sourceLocation: sourceLocation)
    #expect(sandbox.mountPoints.isEmpty, "mounts left: \(sandbox.mountPoints)", sourceLocation: sourceLocation)
    let runtimeState = (try? FS.list(sandbox.runRoot + "/runtime/berth-runtime")) ?? []
    #expect(runtimeState.isEmpty, "runtime containers left: \(runtimeState)", sourceLocation: sourceLocation)
  }

  @Test func multiStageBuildRunsAndRebuildsFromTheCache() async throws {
    try await EngineSandbox.with { sandbox in
      let context = try Self.makeContext(sandbox)
      let first = try await sandbox.ok(["build", "-t", "app", context], timeout: 120)
      #expect(first.stdout.contains("STEP 1/10: FROM busybox AS b"))
      #expect(first.stdout.contains("\nbuilt-in-b\n"), "the RUN step's output is shown")
      #expect(first.stdout.contains("Successfully tagged app:latest"))
      #expect(Self.cachedSteps(first.stdout).isEmpty)
      Self.expectNoBuildLeftovers(sandbox)

      let ran = try await sandbox.ok("run", "--rm", "app")
      #expect(ran.stdout == "hi from b\nalpha\nworld\nalice\n/app/work\n")
      // .dockerignore kept the secret out.
      #expect(try await sandbox.ok("run", "--rm", "app", "ls", "/app/src").stdout == "a.txt\n")
      let history = try await sandbox.ok("history", "--no-trunc", "app").stdout
      #expect(history.contains("ENV NAME=world"))
      #expect(history.contains("COPY --from=b /greet /app/greet"))

      // No change: every step after FROM from the cache, no container, no new layer, same image.
      let layers = Self.layerCount(sandbox)
      let id = try await sandbox.ok("images", "-q", "--no-trunc", "app").trimmed
      let again = try await sandbox.ok(["build", "-t", "app", context])
      // Every step but the FROMs and the ARG (which makes no history entry).
      #expect(Self.cachedSteps(again.stdout).count == 7, "\(again.stdout)")
      #expect(!again.stdout.contains("\nbuilt-in-b\n"))
      #expect(!again.stdout.contains("Done in"))
      #expect(Self.layerCount(sandbox) == layers)
      #expect(try await sandbox.ok("images", "-q", "--no-trunc", "app").trimmed == id)
      Self.expectNoBuildLeftovers(sandbox)
    }
  }

  @Test func aChangedSourceFileRebuildsFromItsCopyOn() async throws {
    try await EngineSandbox.with { sandbox in
      let context = try Self.makeContext(sandbox)
      try await sandbox.ok(["build", "-t", "app", context], timeout: 120)
      try FS.write(context + "/src/a.txt", "changed\n")
      // A change in an ignored file changes nothing.
      try FS.write(context + "/src/secret.txt", "still not shipped\n")
      let rebuilt = try await sandbox.ok(["build", "-t", "app", context])
      let cached = Self.cachedSteps(rebuilt.stdout)
      #expect(cached.map { $0.split(separator: ":")[0] } == ["STEP 3/10", "STEP 5/10"], "\(rebuilt.stdout)")
      #expect(rebuilt.stdout.contains("STEP 6/10: COPY src/ /app/src/\n ---> Done in"))
      #expect(try await sandbox.ok("run", "--rm", "app", "cat", "/app/src/a.txt").stdout == "changed\n")
    }
  }

  @Test func noCacheRunsEveryStep() async throws {
    try await EngineSandbox.with { sandbox in
      let context = try Self.makeContext(sandbox)
      try await sandbox.ok(["build", "-t", "app", context], timeout: 120)
      let again = try await sandbox.ok(["build", "--no-cache", "-t", "app", context], timeout: 120)
      #expect(Self.cachedSteps(again.stdout).isEmpty)
      #expect(again.stdout.contains("\nbuilt-in-b\n"))
    }
  }

  @Test func buildArgsTargetAndQuiet() async throws {
    try await EngineSandbox.with { sandbox in
      let context = try Self.makeContext(sandbox)
      let quiet = try await sandbox.ok(
        ["build", "-q", "--target", "b", "--build-arg", "GREETING=hello", "--iidfile", sandbox.scratch + "/iid", "-t", "b", context],
        timeout: 120)
      // -q: the ID only, nothing of the steps or of the RUN output.
      #expect(quiet.stdout.hasPrefix("sha256:") && quiet.lines.count == 1, "\(quiet.stdout)")
      #expect(try FS.readText(sandbox.scratch + "/iid") == quiet.trimmed)
      #expect(try await sandbox.ok("run", "--rm", "b", "cat", "/greet").stdout == "hello from b\n")
      // Only the target's stage ran: the final stage's files are not there.
      #expect(try await sandbox.run("run", "--rm", "b", "ls", "/app").code != 0)
      // Another value of the build arg is another cache key.
      let other = try await sandbox.ok(["build", "--target", "b", "--build-arg", "GREETING=bye", "-t", "b", context], timeout: 120)
      #expect(Self.cachedSteps(other.stdout).isEmpty)
      #expect(try await sandbox.ok("run", "--rm", "b", "cat", "/greet").stdout == "bye from b\n")

      // --label marks the final image; a build arg from the environment (`--build-arg NAME`).
      try await sandbox.ok(
        ["build", "--target", "b", "--build-arg", "GREETING", "--label", "team=berth", "-t", "labelled", context],
        environment: ["GREETING=from-env"], timeout: 120)
      #expect(try await sandbox.ok("image", "inspect", "-f", "{{json .Config.Labels}}", "labelled").trimmed == "{\"team\":\"berth\"}")
      #expect(try await sandbox.ok("run", "--rm", "labelled", "cat", "/greet").stdout == "from-env from b\n")

      let unknown = try await sandbox.run("build", "--target", "nope", context)
      #expect(unknown.code == 1)
      #expect(unknown.stderr.contains("target stage \"nope\" could not be found"), "\(unknown)")
    }
  }

  @Test func dockerfileOnStdin() async throws {
    try await EngineSandbox.with { sandbox in
      let dockerfile = "FROM busybox\nRUN echo from-stdin > /f\nCMD [\"cat\", \"/f\"]\n"
      let built = try await sandbox.ok(["build", "-t", "piped", "-"], input: Array(dockerfile.utf8), timeout: 120)
      #expect(built.stdout.contains("Successfully tagged piped:latest"))
      #expect(try await sandbox.ok("run", "--rm", "piped").stdout == "from-stdin\n")
      Self.expectNoBuildLeftovers(sandbox)

      // A tar context on stdin: its Dockerfile and files.
      let context = try Self.makeContext(sandbox, dockerfile: "FROM busybox\nCOPY src/a.txt /a\n")
      let tar = try RegistrySupport.run("/usr/bin/tar", ["-C", context, "-cf", "-", "."])
      try await sandbox.ok(["build", "-t", "tarred", "-"], input: tar, timeout: 120)
      #expect(try await sandbox.ok("run", "--rm", "tarred", "cat", "/a").stdout == "alpha\n")
      Self.expectNoBuildLeftovers(sandbox)
    }
  }

  @Test func aFailingRunNamesTheLineAndLeavesNothing() async throws {
    try await EngineSandbox.with { sandbox in
      let context = try Self.makeContext(sandbox, dockerfile: """
        FROM busybox
        RUN echo first > /first
        # a comment line

        RUN echo about to fail && exit 3
        CMD ["true"]
        """)
      let imagesBefore = try await sandbox.ok("images", "-q").lines
      let layersBefore = Self.layerCount(sandbox)
      let failed = try await sandbox.run(["build", "-t", "broken", context], timeout: 120)
      #expect(failed.code == 1)
      #expect(failed.stdout.contains("about to fail"))
      #expect(failed.stderr.contains("Dockerfile:5: RUN echo about to fail && exit 3: exit code 3"), "\(failed)")
      #expect(try await sandbox.ok("images", "-q").lines == imagesBefore)
      #expect(try await sandbox.run("image", "inspect", "broken").code != 0)
      // The first RUN's layer stays (the cache), nothing of the failed step does.
      #expect(Self.layerCount(sandbox) == layersBefore + 1)
      Self.expectNoBuildLeftovers(sandbox)
    }
  }

  @Test func anInterruptedBuildLeavesNothing() async throws {
    try await EngineSandbox.with { sandbox in
      let context = try Self.makeContext(sandbox, dockerfile: "FROM busybox\nRUN echo started && sleep 4242\n")
      let build = try sandbox.spawnBerth(["build", context])
      #expect(await build.waitForOutput("\nstarted\n", seconds: 30), "\(build.output) \(build.errorOutput)")
      build.signal(SIGINT)
      let status = await build.wait(seconds: 30)
      #expect(status?.shellCode == 130, "\(String(describing: status)) \(build.errorOutput)")
      let sleeping = HostScan.processes().filter { !$0.zombie && $0.commandLine.contains("sleep 4242") }
      #expect(sleeping.isEmpty, "the step's command still runs: \(sleeping.map(\.pid))")
      Self.expectNoBuildLeftovers(sandbox)

      // SIGKILL cannot be handled: the next build removes what the killed one left.
      let killed = try sandbox.spawnBerth(["build", context])
      #expect(await killed.waitForOutput("\nstarted\n", seconds: 30), "\(killed.output) \(killed.errorOutput)")
      killed.signal(SIGKILL)
      _ = await killed.wait(seconds: 10)
      #expect(!sandbox.mountPoints.isEmpty, "the killed build's step is still mounted")
      try FS.write(context + "/Dockerfile", "FROM busybox\nENV A=1\n")
      try await sandbox.ok(["build", context])
      let gone = await sandbox.eventually(10) {
        HostScan.processes().allSatisfy { $0.zombie || !$0.commandLine.contains("sleep 4242") }
      }
      #expect(gone, "the killed build's step still runs")
      Self.expectNoBuildLeftovers(sandbox)
    }
  }

  @Test func badReferencesAreClearErrors() async throws {
    try await EngineSandbox.with { sandbox in
      // An image that cannot be pulled (nothing listens on port 1).
      let context = try Self.makeContext(sandbox, dockerfile: "FROM busybox AS base\nFROM localhost:1/nothing/here\n")
      let missing = try await sandbox.run(["build", context], timeout: 60)
      #expect(missing.code == 1)
      #expect(missing.stderr.contains("Dockerfile:2: FROM localhost:1/nothing/here"), "\(missing)")
      // COPY --from a stage that comes later is refused.
      try FS.write(context + "/Dockerfile", "FROM busybox AS a\nCOPY --from=later /x /x\nFROM busybox AS later\n")
      let later = try await sandbox.run(["build", "--target", "a", context])
      #expect(later.code == 1)
      #expect(later.stderr.contains("Dockerfile:2:"), "\(later)")
      // A missing source file names the file.
      try FS.write(context + "/Dockerfile", "FROM busybox\nCOPY nothing.txt /x\n")
      let source = try await sandbox.run(["build", context])
      #expect(source.code == 1)
      #expect(source.stderr.contains("Dockerfile:2: COPY nothing.txt /x: nothing.txt: not found"), "\(source)")
      // A syntax error names the line.
      try FS.write(context + "/Dockerfile", "FROM busybox\nRUNN true\n")
      let syntax = try await sandbox.run(["build", context])
      #expect(syntax.code == 1)
      #expect(syntax.stderr.contains("Dockerfile:2"), "\(syntax)")
      // ADD from a URL: no network for builds here, a clear message.
      try FS.write(context + "/Dockerfile", "FROM busybox\nADD http://example.invalid/x.tar /x\n")
      let url = try await sandbox.run(["build", context])
      #expect(url.code == 1)
      #expect(url.stderr.contains("ADD from a URL needs the network"), "\(url)")
      Self.expectNoBuildLeftovers(sandbox)
    }
  }

  @Test func addExtractsALocalTarAndCopyTakesChownAndChmod() async throws {
    try await EngineSandbox.with { sandbox in
      let context = try Self.makeContext(sandbox, dockerfile: """
        FROM busybox
        ADD files.tar.gz /opt/
        COPY --chown=alice --chmod=700 src/a.txt /home/alice/a
        RUN <<EOF
        echo heredoc-ran > /h
        EOF
        ARG A=1 B=$A
        COPY <<EOF /quoted
        "$B" and 'kept'
        EOF
        VOLUME ["/my data"]
        """)
      try FS.makeDirectories(sandbox.scratch + "/t/inner")
      try FS.write(sandbox.scratch + "/t/inner/x", "in the tar\n")
      _ = try RegistrySupport.run("/usr/bin/tar", ["-C", sandbox.scratch + "/t", "-czf", context + "/files.tar.gz", "inner"])
      try await sandbox.ok(["build", "-t", "added", context], timeout: 120)
      #expect(try await sandbox.ok("run", "--rm", "added", "cat", "/opt/inner/x", "/h").stdout == "in the tar\nheredoc-ran\n")
      let listing = try await sandbox.ok("run", "--rm", "added", "stat", "-c", "%a %U %G", "/home/alice/a").stdout
      #expect(listing == "700 alice alice\n")
      // A COPY heredoc keeps its quotes; an ARG default sees the one before it.
      #expect(try await sandbox.ok("run", "--rm", "added", "cat", "/quoted").stdout == "\"1\" and 'kept'\n")
      // One volume, its path with a space.
      let volumes = try await sandbox.ok("image", "inspect", "-f", "{{json .Config.Volumes}}", "added").trimmed
      #expect(volumes == "{\"/my data\":{}}")
    }
  }

  @Test func builderPruneRemovesStaleEntriesOrAllOfTheCache() async throws {
    try await EngineSandbox.with { sandbox in
      let context = try Self.makeContext(sandbox, dockerfile: "FROM busybox\nRUN echo one > /one\n")
      let cacheDirectory = sandbox.root + "/build-cache"
      try await sandbox.ok(["build", "-t", "pruned", context])
      // Every entry can still hit: the dangling-only prune keeps them all.
      #expect(!(try await sandbox.ok("builder", "prune", "-f").stdout.contains("Deleted build cache objects")))
      #expect(try await sandbox.ok(["build", "-t", "pruned", context]).stdout.contains("Using cache"))
      // All of it: the next build runs its steps again.
      #expect(try await sandbox.ok("builder", "prune", "-a", "-f").stdout.contains("Deleted build cache objects:"))
      #expect(((try? FS.list(cacheDirectory)) ?? []).isEmpty)
      #expect(!(try await sandbox.ok(["build", "-t", "pruned", context]).stdout.contains("Using cache")))
      // The image and its layers gone: its entries are stale, and the plain prune takes them.
      try await sandbox.ok("rmi", "pruned")
      try await sandbox.ok("image", "prune", "-a", "-f")
      #expect(!((try? FS.list(cacheDirectory)) ?? []).isEmpty)
      #expect(try await sandbox.ok("builder", "prune", "-f").stdout.contains("Deleted build cache objects:"))
      #expect(((try? FS.list(cacheDirectory)) ?? []).isEmpty)
    }
  }

  @Test func onbuildTriggersRunInTheChildBuild() async throws {
    try await EngineSandbox.with { sandbox in
      let context = try Self.makeContext(sandbox, dockerfile: "FROM busybox\nONBUILD COPY src/a.txt /from-trigger\n")
      try await sandbox.ok(["build", "-t", "parent", context])
      let config = try await sandbox.ok("image", "inspect", "-f", "{{json .Config.OnBuild}}", "parent").trimmed
      #expect(config == "[\"COPY src/a.txt /from-trigger\"]")
      try FS.write(context + "/Dockerfile", "FROM parent\nCMD [\"cat\", \"/from-trigger\"]\n")
      try await sandbox.ok(["build", "-t", "child", context])
      #expect(try await sandbox.ok("run", "--rm", "child").stdout == "alpha\n")
      // The trigger is consumed: the child passes none on.
      #expect(try await sandbox.ok("image", "inspect", "-f", "{{json .Config.OnBuild}}", "child").trimmed == "null")
    }
  }

  @Test func runStepsUseTheHostNetworkOrNone() async throws {
    try await EngineSandbox.with { sandbox in
      // The namespace itself, not its interfaces: other tests add and remove veths meanwhile.
      let context = try Self.makeContext(
        sandbox, dockerfile: "FROM busybox\nRUN ls /sys/class/net > /links && readlink /proc/self/ns/net > /netns\n")
      try await sandbox.ok(["build", "--network", "none", "-t", "isolated", context])
      #expect(try await sandbox.ok("run", "--rm", "isolated", "cat", "/links").stdout == "lo\n")
      try await sandbox.ok(["build", "-t", "hosted", context])
      let hostNamespace = try FS.readLink("/proc/self/ns/net")
      #expect(try await sandbox.ok("run", "--rm", "hosted", "cat", "/netns").trimmed == hostNamespace)
    }
  }

  @Test func runMountsOfACacheABindAndATmpfs() async throws {
    try await EngineSandbox.with { sandbox in
      let context = try Self.makeContext(sandbox, dockerfile: """
        FROM busybox AS tools
        RUN echo tool-data > /tool
        FROM busybox
        RUN --mount=type=cache,target=/cache echo run >> /cache/runs && wc -l < /cache/runs > /runs-seen
        RUN --mount=type=bind,source=src,target=/mnt/src cat /mnt/src/a.txt > /from-bind
        RUN --mount=type=bind,from=tools,source=/tool,target=/t cat /t > /from-stage
        RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/y && ls /scratch > /tmpfs-seen
        """)
      try await sandbox.ok(["build", "-t", "mounted", context], timeout: 120)
      let seen = try await sandbox.ok("run", "--rm", "mounted", "cat", "/runs-seen", "/from-bind", "/from-stage", "/tmpfs-seen")
      #expect(seen.stdout == "1\nalpha\ntool-data\ny\n")
      // The mount points are not in the image.
      let listed = try await sandbox.run("run", "--rm", "mounted", "ls", "-d", "/cache", "/mnt", "/t", "/scratch")
      #expect(listed.stdout.isEmpty && listed.code != 0, "\(listed)")
      // The cache outlives the build: a build without the step cache sees the first run's line.
      try await sandbox.ok(["build", "--no-cache", "-t", "mounted", context], timeout: 120)
      #expect(try await sandbox.ok("run", "--rm", "mounted", "cat", "/runs-seen").stdout == "2\n")
      // A changed bound file is a new key for the step that binds it.
      try FS.write(context + "/src/a.txt", "changed\n")
      let rebuilt = try await sandbox.ok(["build", "-t", "mounted", context], timeout: 120)
      #expect(rebuilt.stdout.contains("cat /mnt/src/a.txt > /from-bind\n ---> Done in"), "\(rebuilt.stdout)")
      #expect(try await sandbox.ok("run", "--rm", "mounted", "cat", "/from-bind").stdout == "changed\n")
      let secret = try Self.makeContext(sandbox, dockerfile: "FROM busybox\nRUN --mount=type=secret,id=x true\n")
      let refused = try await sandbox.run(["build", secret])
      #expect(refused.code == 1 && refused.stderr.contains("type=secret is not supported"), "\(refused)")
      Self.expectNoBuildLeftovers(sandbox)
    }
  }

  @Test func onlyTheHostPlatformIsBuilt() async throws {
    try await EngineSandbox.with { sandbox in
      // BuildKit's automatic platform arguments, in FROM and once declared in a stage.
      let context = try Self.makeContext(sandbox, dockerfile: """
        FROM --platform=$BUILDPLATFORM busybox
        ARG TARGETARCH
        RUN echo "arch=$TARGETARCH" > /arch
        """)
      try await sandbox.ok(["build", "-t", "platformed", context])
      #expect(try await sandbox.ok("run", "--rm", "platformed", "cat", "/arch").stdout == "arch=\(Platform.host.architecture)\n")
      let other = try await sandbox.run(["build", "--platform", "linux/s390x", context])
      #expect(other.code == 1)
      #expect(other.stderr.contains("builds only for this host's platform"), "\(other)")
    }
  }

  @Test func copyKeepsFileCapabilitiesAndHardLinks() async throws {
    try await EngineSandbox.with { sandbox in
      let context = try Self.makeContext(sandbox, dockerfile: "FROM busybox\nCOPY linked /linked\nCOPY capable /capable\n")
      try FS.makeDirectories(context + "/linked")
      try FS.write(context + "/linked/f1", "one file\n")
      #expect(link(context + "/linked/f1", context + "/linked/f2") == 0)
      try FS.write(context + "/capable", "#!/bin/sh\n", mode: 0o755)
      let capability: [UInt8] = [0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00] + [UInt8](repeating: 0, count: 12)
      let name = Array("security.capability".utf8)
      #expect(ExtendedAttributes.set(.path(Array((context + "/capable").utf8CString)), name: name, value: capability) == 0)
      try await sandbox.ok(["build", "-t", "capable", context])
      let top = try await sandbox.ok("image", "inspect", "-f", "{{json .RootFS.Layers}}", "capable").trimmed
      let layers = try #require(try JSONSerialization.jsonObject(with: Data(top.utf8)) as? [String])
      let chainIDs = layers.reduce(into: [String]()) { ids, diffID in
        ids.append(ids.last.map { Digest(sha256Of: Array("\($0) \(diffID)".utf8)).description } ?? diffID)
      }
      let last = try #require(chainIDs.last).replacingOccurrences(of: "sha256:", with: "")
      let file = sandbox.root + "/layers/\(last)/diff/capable"
      #expect(try ExtendedAttributes.value(.path(Array(file.utf8CString)), name: name) == capability)
      let inodes = try await sandbox.ok("run", "--rm", "capable", "stat", "-c", "%i %h", "/linked/f1", "/linked/f2").lines
      #expect(inodes.count == 2 && inodes[0] == inodes[1] && inodes[0].hasSuffix(" 2"), "\(inodes)")
    }
  }

  @Test func copyLayersAreReproducible() async throws {
    try await EngineSandbox.with { sandbox in
      let context = try Self.makeContext(sandbox, dockerfile: "FROM busybox\nCOPY src /app/src\nWORKDIR /app/w\n")
      try await sandbox.ok(["build", "-t", "one", context])
      let first = try await sandbox.ok("image", "inspect", "-f", "{{json .RootFS.Layers}}", "one").trimmed
      try await sandbox.ok(["build", "--no-cache", "-t", "two", context])
      let second = try await sandbox.ok("image", "inspect", "-f", "{{json .RootFS.Layers}}", "two").trimmed
      #expect(first == second)
      #expect(first.contains("sha256:"))
    }
  }
}
