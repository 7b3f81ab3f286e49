import BerthImages
import BerthOCI
import BerthOS
import BerthTestSupport
import Foundation
import Testing

/// A committed image leaves berth: podman pulls it from a registry and runs it.
@Suite("ImageCommitter interop", .podmanAvailable, .sharedRegistry, .needsRoot)
struct ImageCommitterInteropTests {
  @Test("on a pulled Docker schema 2 image: berth commit, berth push, podman pull and run: the committed files and CMD are there")
  func podmanRunsCommittedImage() async throws {
    let registry = try SharedRegistry.get()
    let repository = uniqueName("committed")
    let name = registry.reference("\(repository)/app:1")
    let base = try TestImage.busybox(format: .docker)
    try await registry.push(base, as: registry.reference("\(repository)/base:1"))
    try await Sandbox.with("ci") { berth in
      // Containers need a run root: one inside the sandbox, removed with it.
      let global = ["--runroot", berth.directory + "/run"]
      try await berth.ok(global + ["pull", registry.reference("\(repository)/base:1")])
      try await berth.ok(global + ["tag", registry.reference("\(repository)/base:1"), "busybox"])
      try await berth.ok(global + [
        "run", "--network", "none", "--name", "c1", "busybox", "sh", "-c",
        "echo committed > /hello && busybox ln /hello /hello2 && rm /etc/group",
      ])
      let id = try await berth.ok(global + ["commit", "-c", #"CMD ["sh","-c","cat /hello2; test -e /etc/group || echo group-gone"]"#, "c1", name]).stdout
        .trimmingCharacters(in: .whitespacesAndNewlines)
      try await berth.ok(global + ["rm", "c1"])
      try await berth.ok(global + ["push", name])
      // The base's Docker layer blob is listed as is (same bytes), with the OCI media type.
      let manifest = try berth.store().manifest(of: try berth.store().resolve(name))
      #expect(manifest.mediaType == MediaType.ociManifest)
      #expect(manifest.layers.map(\.mediaType) == [MediaType.ociLayerGzip, MediaType.ociLayerGzip])
      #expect(manifest.layers.first?.digest == base.layers[0].digest)

      try await Podman.with { podman in
        try await podman.ok("pull", "-q", "--tls-verify=false", name)
        #expect(try await podman.imageID(name) == String(id.dropFirst("sha256:".count)))
        let ran = try await podman.run([
          "run", "--rm", "--network", "none", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768", name,
        ])
        #expect(ran.code == 0 && ran.lines == ["committed", "group-gone"], "\(ran.stdout)\n\(ran)")
      }
    }
  }
}
