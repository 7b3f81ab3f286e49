import BerthOCI
import BerthOS
import Foundation
import Testing

@testable import BerthEngine

/// `--init` in the OCI spec: berth-init bound read-only at Docker's /sbin/docker-init and put
/// in front of the container's command.
@Suite("SpecBuilder: --init")
struct SpecBuilderInitTests {
  static let id = String(repeating: "ab", count: 32)
  static let initBinary = "/usr/libexec/berth/berth-init"
  static let image = ImageConfig(
    architecture: "amd64", os: "linux", config: ContainerConfig(Entrypoint: ["/entry"], Cmd: ["default"]),
    rootfs: RootFS(diff_ids: []))

  /// Options as `run [--init] IMAGE sh -c 'echo hi'` gives them, with a bind mount on /sbin.
  static func options(runInit: Bool) throws -> ContainerOptions {
    var flags = ContainerFlagValues()
    flags.runInit = runInit
    flags.volumes = ["/tmp:/sbin"]
    return try ContainerOptions.parse(flags, image: "busybox", command: ["sh", "-c", "echo hi"])
  }

  static func build(_ options: ContainerOptions, initBinary: String?) throws -> Spec {
    let rootfs = try makeRootfs()
    defer { try? FileManager.default.removeItem(atPath: rootfs) }
    let mounts = options.mountsToResolve(image: image).map { ResolvedMount($0, hostPath: $0.source) }
    return try SpecBuilder.build(
      options: options, image: image, containerID: id, rootfs: rootfs, mounts: mounts, initBinary: initBinary)
  }

  static func makeRootfs() throws -> String {
    let path = NSTemporaryDirectory() + "berth-spec-init-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path + "/etc", withIntermediateDirectories: true)
    try "root:x:0:0:root:/root:/bin/sh\n".write(toFile: path + "/etc/passwd", atomically: false, encoding: .utf8)
    return path
  }

  @Test("--init parses into the options")
  func parsed() throws {
    #expect(try Self.options(runInit: true).runInit)
    #expect(try !Self.options(runInit: false).runInit)
  }

  @Test("with --init: docker-init runs the image's entrypoint and the command after --")
  func arguments() throws {
    let spec = try Self.build(Self.options(runInit: true), initBinary: Self.initBinary)
    #expect(spec.process?.args == ["/sbin/docker-init", "--", "/entry", "sh", "-c", "echo hi"])
  }

  @Test("with --init: the binary is bound read-only at /sbin/docker-init, after the user's mounts")
  func mount() throws {
    let spec = try Self.build(Self.options(runInit: true), initBinary: Self.initBinary)
    let mounts = spec.mounts ?? []
    let initMounts = mounts.filter { $0.destination == SpecBuilder.initPath }
    #expect(initMounts == [Mount(destination: "/sbin/docker-init", type: "bind", source: Self.initBinary, options: ["bind", "ro"])])
    // A mount on /sbin must come first, or it would hide the binary.
    let sbin = try #require(mounts.firstIndex { $0.destination == "/sbin" }, "\(mounts.map(\.destination))")
    #expect(mounts.last?.destination == SpecBuilder.initPath)
    #expect(sbin < mounts.count - 1)
  }

  @Test("without --init: neither the mount nor the wrapper, even when a binary is found")
  func withoutInit() throws {
    let spec = try Self.build(Self.options(runInit: false), initBinary: Self.initBinary)
    #expect(spec.process?.args == ["/entry", "sh", "-c", "echo hi"])
    #expect(!(spec.mounts ?? []).contains { $0.destination == SpecBuilder.initPath })
  }

  @Test("with --init and no berth-init on the host: a not-found error that names it")
  func missingBinary() throws {
    do {
      _ = try Self.build(Self.options(runInit: true), initBinary: nil)
      Issue.record("built a spec without an init binary")
    } catch let error as BerthError {
      #expect(error.code == .notFound)
      #expect(error.message.contains("berth-init"), "\(error.message)")
    }
  }

  @Test("the engine finds berth-init through BERTH_BERTH_INIT, next to berth, or in PATH")
  func located() throws {
    // The test bundle sits next to the built berth-init, like berth does once installed.
    try #require(InitBinary.unavailableReason == nil, "\(InitBinary.unavailableReason ?? "")")
    let found = try #require(Executables.find("berth-init"))
    #expect(access(found, X_OK) == 0)
    #expect(Path.basename(found) == "berth-init")
  }
}
