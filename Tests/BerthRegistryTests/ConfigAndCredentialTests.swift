import BerthJSON
import BerthOS
import BerthRegistry
import BerthTestSupport
import Foundation
import Testing

@Suite("Registries configuration")
struct RegistriesConfigTests {
  @Test func loopbackHostsUsePlainHTTP() {
    let config = RegistriesConfig()
    for host in ["localhost:5000", "localhost", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000", "::1", "x.localhost:80"] {
      #expect(config.hostConfig(for: host).scheme == "http", "\(host)")
    }
    for host in ["docker.io", "registry.example.com:5000", "10.0.0.7:5000", "128.0.0.1", "localhost.example.com"] {
      #expect(config.hostConfig(for: host).scheme == "https", "\(host)")
    }
  }

  @Test func dockerHubUsesItsAPIHost() {
    let hub = RegistriesConfig().hostConfig(for: "docker.io")
    #expect(hub.apiHost == "registry-1.docker.io")
    #expect(hub.endpoint.baseURL == "https://registry-1.docker.io")
  }

  @Test func parsesInsecureAndMirrors() throws {
    let text = """
      {"insecure": ["myhost:5000", "http://other:80/"],
       "mirrors": {"docker.io": ["mirror.example.com", "http://10.0.0.8:5000"]},
       "futureKey": 1}
      """
    let config = try RegistriesConfig.parse(Array(text.utf8))
    #expect(config.insecure == ["myhost:5000", "other:80"])
    #expect(config.hostConfig(for: "myhost:5000").scheme == "http")
    #expect(config.hostConfig(for: "other:80").isPlainHTTP)
    #expect(config.hostConfig(for: "myhost:5001").scheme == "https")
    let mirrors = config.hostConfig(for: "docker.io").mirrors
    #expect(mirrors == [
      RegistryEndpoint(scheme: "https", host: "mirror.example.com"),
      RegistryEndpoint(scheme: "http", host: "10.0.0.8:5000"),
    ])
  }

  @Test func malformedFileNamesTheField() {
    do {
      _ = try RegistriesConfig.parse(Array(#"{"insecure": "myhost"}"#.utf8), source: "/etc/berth/registries.json")
      Issue.record("a string for insecure was accepted")
    } catch let error as BerthError {
      #expect(error.message.contains("/etc/berth/registries.json"))
      #expect(error.message.contains("insecure"))
    } catch {
      Issue.record("unexpected \(error)")
    }
  }

  @Test func loadsFromEnvironmentPathAndDefaultsWhenMissing() async throws {
    try await withTemporaryDirectory { directory in
      let path = directory + "/registries.json"
      try FS.write(path, #"{"insecure": ["envhost:1"]}"#)
      let config = try RegistriesConfig.load(environment: ["BERTH_REGISTRIES_CONFIG": path])
      #expect(config.insecure == ["envhost:1"])
      let missing = try RegistriesConfig.load(path: directory + "/absent.json")
      #expect(missing == RegistriesConfig())
    }
  }
}

@Suite("WWW-Authenticate")
struct AuthChallengeTests {
  @Test func bearerWithScopes() {
    let header = #"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push repository:c:pull""#
    let challenges = AuthChallenge.parse(header)
    #expect(challenges.count == 1)
    #expect(challenges.first?.scheme == "bearer")
    #expect(challenges.first?.realm == "https://auth.example.com/token")
    #expect(challenges.first?.service == "registry.example.com")
    #expect(challenges.first?.scopes == ["repository:a/b:pull,push", "repository:c:pull"])
  }

  @Test func basicAndSeveralChallenges() {
    let challenges = AuthChallenge.parse(#"Basic realm="Registry Realm", Bearer realm="http://x/token", error="insufficient_scope""#)
    #expect(challenges.map(\.scheme) == ["basic", "bearer"])
    #expect(challenges[0].realm == "Registry Realm")
    #expect(challenges[1].parameters["error"] == "insufficient_scope")
    #expect(AuthChallenge.parse(#"basic realm=unquoted"#).first?.realm == "unquoted")
    #expect(AuthChallenge.parse(#"Bearer realm="a\"b""#).first?.realm == #"a"b"#)
  }
}

@Suite("Credential store")
struct CredentialStoreTests {
  @Test func roundTripKeepsUnknownKeysAndMode0600() async throws {
    try await withTemporaryDirectory { directory in
      let path = directory + "/docker/config.json"
      try FS.makeDirectories(directory + "/docker")
      let original = """
        {
          "auths": {"other.example.com": {"auth": "\(Data("o:p".utf8).base64EncodedString())", "email": "x@y"}},
          "psFormat": "table {{.ID}}",
          "proxies": {"default": {"httpProxy": "http://proxy:3128"}},
          "currentContext": "default"
        }
        """
      try FS.write(path, original, mode: 0o644)
      let store = CredentialStore(path: path)
      try store.store(RegistryCredentials(username: "alice", password: "s3cret:with:colons"), for: "127.0.0.1:5000")
      try store.store(RegistryCredentials(username: "bob", password: "hub"), for: "docker.io")

      #expect(try store.credentials(for: "127.0.0.1:5000") == RegistryCredentials(username: "alice", password: "s3cret:with:colons"))
      #expect(try store.credentials(for: "docker.io")?.username == "bob")
      #expect(try store.credentials(for: "index.docker.io")?.username == "bob")
      #expect(try store.credentials(for: "other.example.com")?.password == "p")
      #expect(try store.credentials(for: "nothere:1") == nil)

      let file = try JSON.parse(try FS.read(path))
      #expect(file["psFormat"]?.stringValue == "table {{.ID}}")
      #expect(file["proxies"]?["default"]?["httpProxy"]?.stringValue == "http://proxy:3128")
      #expect(file["currentContext"]?.stringValue == "default")
      #expect(file["auths"]?["other.example.com"]?["email"]?.stringValue == "x@y")
      #expect(file["auths"]?["https://index.docker.io/v1/"]?["auth"]?.stringValue == Data("bob:hub".utf8).base64EncodedString())
      #expect(file["auths"]?["docker.io"] == nil)

      var info = stat()
      #expect(stat(path, &info) == 0)
      #expect(info.st_mode & 0o777 == 0o600)

      #expect(try store.erase(host: "127.0.0.1:5000"))
      #expect(try store.credentials(for: "127.0.0.1:5000") == nil)
      #expect(try store.credentials(for: "docker.io")?.username == "bob")
      #expect(try !store.erase(host: "127.0.0.1:5000"))
      #expect(try JSON.parse(try FS.read(path))["psFormat"]?.stringValue == "table {{.ID}}")
    }
  }

  @Test func otherSpellingsOfTheHostAreFound() async throws {
    try await withTemporaryDirectory { directory in
      let path = directory + "/config.json"
      let auth = Data("u:p".utf8).base64EncodedString()
      try FS.write(path, #"{"auths": {"http://myhost:5000/v1/": {"auth": "\#(auth)"}, "registry-1.docker.io": {"username": "h", "password": "q"}}}"#)
      let store = CredentialStore(path: path)
      #expect(try store.credentials(for: "myhost:5000")?.username == "u")
      #expect(try store.credentials(for: "docker.io") == RegistryCredentials(username: "h", password: "q"))
    }
  }

  @Test func malformedAuthNamesTheEntry() async throws {
    try await withTemporaryDirectory { directory in
      let path = directory + "/config.json"
      try FS.write(path, #"{"auths": {"h:1": {"auth": "%%%"}}}"#)
      await expectRegistryError(.invalidArgument, ["auths[\"h:1\"].auth", path]) {
        _ = try CredentialStore(path: path).credentials(for: "h:1")
      }
    }
  }

  @Test func credentialHelperProtocol() async throws {
    try await withTemporaryDirectory { directory in
      // A helper keeping one secret per server URL in files, speaking Docker's protocol.
      let helper = directory + "/bin/docker-credential-berthtest"
      try FS.makeDirectories(directory + "/bin")
      try FS.makeDirectories(directory + "/secrets")
      try FS.write(helper, """
        #!/bin/sh
        store=\(directory)/secrets
        case "$1" in
          get) read -r url; key=$(printf %s "$url" | tr -c 'a-zA-Z0-9' _)
               if [ -f "$store/$key" ]; then cat "$store/$key"; else echo "credentials not found in native keychain"; exit 1; fi ;;
          store) json=$(cat); url=$(printf %s "$json" | sed 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/')
               key=$(printf %s "$url" | tr -c 'a-zA-Z0-9' _); printf %s "$json" > "$store/$key" ;;
          erase) read -r url; key=$(printf %s "$url" | tr -c 'a-zA-Z0-9' _)
               if [ -f "$store/$key" ]; then rm "$store/$key"; else echo "credentials not found in native keychain"; exit 1; fi ;;
        esac
        """, mode: 0o755)
      let path = directory + "/config.json"
      try FS.write(path, #"{"credHelpers": {"helped:5000": "berthtest"}, "detachKeys": "ctrl-x"}"#)
      let store = CredentialStore(path: path, helperSearchPath: [directory + "/bin"])

      try store.store(RegistryCredentials(username: "carol", password: "pw"), for: "helped:5000")
      #expect(try store.credentials(for: "helped:5000") == RegistryCredentials(username: "carol", password: "pw"))
      let file = try JSON.parse(try FS.read(path))
      #expect(file["auths"]?["helped:5000"]?.objectValue?.isEmpty == true, "the secret stays out of the file")
      #expect(file["detachKeys"]?.stringValue == "ctrl-x")
      #expect(try FS.list(directory + "/secrets").count == 1)

      // Hosts without a helper still use the file.
      try store.store(RegistryCredentials(username: "dave", password: "x"), for: "plain:1")
      #expect(try JSON.parse(try FS.read(path))["auths"]?["plain:1"]?["auth"] != nil)

      #expect(try store.erase(host: "helped:5000"))
      #expect(try store.credentials(for: "helped:5000") == nil)
      #expect(try FS.list(directory + "/secrets").isEmpty)
    }
  }

  @Test func missingHelperIsNamed() async throws {
    try await withTemporaryDirectory { directory in
      let path = directory + "/config.json"
      try FS.write(path, #"{"credsStore": "nonexistent-helper"}"#)
      await expectRegistryError(.notFound, ["docker-credential-nonexistent-helper"]) {
        _ = try CredentialStore(path: path, helperSearchPath: [directory]).credentials(for: "x:1")
      }
    }
  }
}
