import Foundation
import Testing

/// The sandbox's leak check sees each kind of leftover of a running container, so that its
/// silence after the other tests means something.
@Suite("EngineSandbox's leak check", .engineSandbox)
struct LeakCheckTests {
  @Test("a running container shows up in every category; after rm -f none is left")
  func seesARunningContainer() async throws {
    try await EngineSandbox.with { sandbox in
      let id = try await sandbox.runDetached("busybox", "sleep", "100")
      let found = await sandbox.leftovers()
      let expectedKinds = [
        "ps -a lists", sandbox.containersDirectory + " holds", "mounted: " + sandbox.containerDirectory(id) + "/rootfs",
        "process ", "container process ", "cgroup ", "run root entry " + sandbox.runRoot + "/" + id,
        "run root entry " + sandbox.runRoot + "/locks/" + id,
        "run root entry " + sandbox.runRoot + "/runtime/berth-runtime/" + id,
      ]
      for kind in expectedKinds {
        #expect(found.contains { $0.hasPrefix(kind) }, "the leak check missed \(kind)…: \(found)")
      }
      #expect(found.contains { $0.hasPrefix("process ") && $0.contains("berth-monitor") }, "\(found)")
      try await sandbox.ok("rm", "-f", id)
      #expect(await sandbox.leftovers().isEmpty)
    }
  }
}
