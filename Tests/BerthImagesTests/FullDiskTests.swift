import BerthOS
import BerthTestSupport
import Foundation
import Testing

/// A store on a small tmpfs.
@Suite("full disk", .needsRoot)
struct FullDiskTests {
  static func mountTmpfs(_ directory: String, size: String, remount: Bool = false) async throws {
    var arguments = ["-t", "tmpfs", "-o", (remount ? "remount," : "") + "size=\(size)", "tmpfs", directory]
    if remount { arguments = ["-o", "remount,size=\(size)", directory] }
    let result = try await Processes.run("/bin/mount", arguments, environment: ["PATH": Processes.path])
    if result.code != 0 { throw CommandFailed(result: result) }
  }

  @Test("a pull bigger than the disk: a clear no-space error, nothing partial; with room, the pull works")
  func fullDisk() async throws {
    let image = try TestImage.random(layerSizes: [9_000_000], seed: 701)
    try await withMisbehavingRegistry { registry in
      registry.serve(image, repository: "big/app", tag: "1")
      try await Sandbox.with("fulldisk") { berth in
        // The whole store lives on the tmpfs; Sandbox.with unmounts it whatever happens.
        let mountPoint = berth.directory + "/root"
        try FS.makeDirectories(mountPoint)
        try await Self.mountTmpfs(mountPoint, size: "8m")
        defer { Processes.unmountAll(under: mountPoint) }
        #expect(Processes.mounts(under: mountPoint) == [mountPoint])

        let name = "\(registry.host)/big/app:1"
        let failed = try await berth.run("pull", name)
        #expect(failed.code == 1, "\(failed)")
        #expect(failed.stderr.lowercased().contains("no space"), "\(failed)")
        try await berth.expectNothingStored("after running out of space")

        // Room again: the same store takes the image.
        try await Self.mountTmpfs(mountPoint, size: "64m", remount: true)
        let pulled = try await berth.ok("pull", name)
        #expect(pulled.stdout.contains("Status: Downloaded newer image"), "\(pulled)")
        #expect(try await berth.imageIDs() == [image.configDigest])
        #expect(FS.exists(mountPoint + "/layers/\(image.chainIDHexes[0])/diff/data/layer-0"))
        #expect(berth.ingestFiles.isEmpty && berth.stagingDirectories.isEmpty)
      }
    }
  }
}
