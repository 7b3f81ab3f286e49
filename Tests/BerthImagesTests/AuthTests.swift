import BerthOS
import BerthTestSupport
import Foundation
import Testing

/// `berth login` / `logout` and pulls and pushes against registries that want credentials.
@Suite("registry authentication", .registryAvailable)
struct AuthTests {
  /// The `auths` object of the sandbox's config.json.
  static func auths(_ berth: Sandbox) throws -> [String: Any] {
    let parsed = try JSONSerialization.jsonObject(with: Data(try FS.read(berth.credentialsFile)))
    return (parsed as? [String: Any])?["auths"] as? [String: Any] ?? [:]
  }

  @Test("basic auth: login writes Docker's config (0600), pull and push work, logout removes it")
  func basic() async throws {
    let image = try TestImage.busybox()
    try await RegistryFixture.with(auth: .basic(username: "alice", password: "s3cret pass")) { registry in
      try await registry.push(image, as: "private/busybox:1")
      let name = registry.reference("private/busybox:1")
      try await Sandbox.with("auth") { berth in
        // Without credentials: refused, nothing stored.
        let anonymous = try await berth.run("pull", name)
        #expect(anonymous.code == 1)
        #expect(anonymous.stderr.lowercased().contains("unauthorized"), "\(anonymous)")
        #expect(anonymous.stderr.contains("berth login \(registry.host)"), "the error says what to do: \(anonymous)")
        try await berth.expectNothingStored("anonymous pull")

        let login = try await berth.ok(["login", "-u", "alice", "--password-stdin", registry.host], input: Array("s3cret pass\n".utf8))
        #expect(login.stdout.contains("Login Succeeded"), "\(login)")
        let info = try #require(try FS.lstatIfPresent(berth.credentialsFile))
        #expect(info.st_mode & 0o777 == 0o600, "config.json mode \(String(info.st_mode & 0o777, radix: 8))")
        let entry = try #require(try Self.auths(berth)[registry.host] as? [String: Any], "no auths[\(registry.host)]")
        #expect(entry["auth"] as? String == Data("alice:s3cret pass".utf8).base64EncodedString())

        try await berth.ok("pull", name)
        #expect(try await berth.inspect(name)["Id"] as? String == image.configDigest)
        let pushedName = registry.reference("private/pushed:2")
        try await berth.ok("tag", name, pushedName)
        try await berth.ok("push", pushedName)
        for layer in image.layers {
          #expect(registry.repositoryLinksBlob("private/pushed", layer.digest), "push did not put \(layer.digest)")
        }
        let manifest = try await registry.request("GET", "/v2/private/pushed/manifests/2", repository: "private/pushed",
                                                  headers: [("Accept", image.manifestMediaType)])
        #expect(manifest.status == 200)
        #expect(RegistrySupport.sha256(manifest.body) == image.manifestDigest)

        let logout = try await berth.ok("logout", registry.host)
        #expect(logout.stdout.contains("Removing login credentials for \(registry.host)"), "\(logout)")
        #expect(try Self.auths(berth)[registry.host] == nil)
        let again = try await berth.run("pull", registry.reference("private/pushed:2"))
        #expect(again.code == 1)
        #expect(again.stderr.lowercased().contains("unauthorized"), "\(again)")
        let secondLogout = try await berth.ok("logout", registry.host)
        #expect(secondLogout.stdout.contains("Not logged in to \(registry.host)"), "\(secondLogout)")
      }
    }
  }

  @Test("basic auth: a wrong password is refused with exit code 1 and nothing is written")
  func wrongPassword() async throws {
    try await RegistryFixture.with(auth: .basic(username: "alice", password: "right")) { registry in
      try await Sandbox.with("auth") { berth in
        let login = try await berth.run(["login", "-u", "alice", "--password-stdin", registry.host], input: Array("wrong\n".utf8))
        #expect(login.code == 1, "\(login)")
        #expect(login.stderr.lowercased().contains("unauthorized"), "\(login)")
        #expect(!login.stdout.contains("Login Succeeded"))
        let written = FS.exists(berth.credentialsFile) ? try Self.auths(berth)[registry.host] : nil
        #expect(written == nil, "a refused login stored credentials")

        // A wrong password already in config.json: pulls say so.
        try FS.write(berth.credentialsFile, #"{"auths":{"\#(registry.host)":{"auth":"\#(Data("alice:wrong".utf8).base64EncodedString())"}}}"#, mode: 0o600)
        let pull = try await berth.run("pull", registry.reference("private/none:1"))
        #expect(pull.code == 1)
        #expect(pull.stderr.lowercased().contains("unauthorized"), "\(pull)")
        #expect(pull.stderr.contains("alice"), "the error names the user whose credentials were refused: \(pull)")
      }
    }
  }

  @Test("token auth: login, pull and push through the token service")
  func token() async throws {
    let image = try TestImage.random(layerSizes: [30_000, 10_000], seed: 201)
    try await RegistryFixture.with(auth: .token(username: "bob", password: "tok-pw", anonymousPull: false)) { registry in
      try await registry.push(image, as: "team/app:1")
      let name = registry.reference("team/app:1")
      try await Sandbox.with("auth") { berth in
        let anonymous = try await berth.run("pull", name)
        #expect(anonymous.code == 1)
        #expect(anonymous.stderr.lowercased().contains("unauthorized") || anonymous.stderr.lowercased().contains("denied"), "\(anonymous)")
        try await berth.expectNothingStored("anonymous pull")

        try await berth.ok(["login", "-u", "bob", "--password-stdin", registry.host], input: Array("tok-pw\n".utf8))
        try await berth.ok("pull", name)
        #expect(try await berth.inspect(name)["RootFS"].flatMap { ($0 as? [String: Any])?["Layers"] as? [String] } == image.diffIDs)

        let target = registry.reference("team/copy:1")
        try await berth.ok("tag", name, target)
        let pushed = try await berth.ok("push", target)
        for layer in image.layers {
          #expect(registry.repositoryLinksBlob("team/copy", layer.digest))
          // The token covers the source repository too, so the registry mounts.
          #expect(pushed.lines.contains { $0.hasPrefix("\(layer.digest.hex.prefix(12)): Mounted from") }, "\(pushed)")
        }
        let tokens = registry.tokenService?.requests ?? []
        #expect(tokens.contains { $0.username == "bob" && $0.status == 200 && $0.scopes.contains { $0.contains("team/app") && $0.contains("pull") } },
                "\(tokens.map { "\($0.username ?? "-") \($0.scopes) \($0.status)" })")
        #expect(tokens.contains { $0.username == "bob" && $0.status == 200 && $0.scopes.contains { $0.contains("team/copy") && $0.contains("push") } },
                "\(tokens.map { "\($0.username ?? "-") \($0.scopes) \($0.status)" })")

        // A wrong password at the token service.
        try await berth.ok("logout", registry.host)
        let wrong = try await berth.run(["login", "-u", "bob", "--password-stdin", registry.host], input: Array("nope\n".utf8))
        #expect(wrong.code == 1)
        #expect(wrong.stderr.lowercased().contains("unauthorized"), "\(wrong)")
      }
    }
  }
}
