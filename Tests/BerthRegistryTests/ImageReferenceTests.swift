import BerthJSON
import BerthOCI
import Testing

private let hexA = String(repeating: "a", count: 64)
private let digestA = "sha256:" + hexA

@Suite("ImageReference")
struct ImageReferenceTests {
  struct Valid: Sendable, CustomStringConvertible {
    var input: String
    var domain: String
    var path: String
    var tag: String?
    var digest: String?
    var full: String
    var familiarName: String
    var familiarString: String
    var description: String { input }
  }

  static let valid: [Valid] = [
    Valid(input: "busybox", domain: "docker.io", path: "library/busybox", tag: "latest", digest: nil,
          full: "docker.io/library/busybox:latest", familiarName: "busybox", familiarString: "busybox:latest"),
    Valid(input: "busybox:1.36", domain: "docker.io", path: "library/busybox", tag: "1.36", digest: nil,
          full: "docker.io/library/busybox:1.36", familiarName: "busybox", familiarString: "busybox:1.36"),
    Valid(input: "user/app", domain: "docker.io", path: "user/app", tag: "latest", digest: nil,
          full: "docker.io/user/app:latest", familiarName: "user/app", familiarString: "user/app:latest"),
    Valid(input: "docker.io/busybox", domain: "docker.io", path: "library/busybox", tag: "latest", digest: nil,
          full: "docker.io/library/busybox:latest", familiarName: "busybox", familiarString: "busybox:latest"),
    Valid(input: "index.docker.io/library/ubuntu:20.04", domain: "docker.io", path: "library/ubuntu", tag: "20.04", digest: nil,
          full: "docker.io/library/ubuntu:20.04", familiarName: "ubuntu", familiarString: "ubuntu:20.04"),
    Valid(input: "registry-1.docker.io/user/app", domain: "docker.io", path: "user/app", tag: "latest", digest: nil,
          full: "docker.io/user/app:latest", familiarName: "user/app", familiarString: "user/app:latest"),
    Valid(input: "docker.io/library/a/b", domain: "docker.io", path: "library/a/b", tag: "latest", digest: nil,
          full: "docker.io/library/a/b:latest", familiarName: "library/a/b", familiarString: "library/a/b:latest"),
    Valid(input: "localhost:5000/x", domain: "localhost:5000", path: "x", tag: "latest", digest: nil,
          full: "localhost:5000/x:latest", familiarName: "localhost:5000/x", familiarString: "localhost:5000/x:latest"),
    Valid(input: "localhost/x", domain: "localhost", path: "x", tag: "latest", digest: nil,
          full: "localhost/x:latest", familiarName: "localhost/x", familiarString: "localhost/x:latest"),
    Valid(input: "127.0.0.1:5000/x:tag", domain: "127.0.0.1:5000", path: "x", tag: "tag", digest: nil,
          full: "127.0.0.1:5000/x:tag", familiarName: "127.0.0.1:5000/x", familiarString: "127.0.0.1:5000/x:tag"),
    Valid(input: "registry.example.com/a/b@" + digestA, domain: "registry.example.com", path: "a/b", tag: nil, digest: digestA,
          full: "registry.example.com/a/b@" + digestA, familiarName: "registry.example.com/a/b",
          familiarString: "registry.example.com/a/b@" + digestA),
    Valid(input: "name:tag@" + digestA, domain: "docker.io", path: "library/name", tag: "tag", digest: digestA,
          full: "docker.io/library/name:tag@" + digestA, familiarName: "name", familiarString: "name:tag@" + digestA),
    Valid(input: "example.com:443/x/y/z:v1.0_rc-2", domain: "example.com:443", path: "x/y/z", tag: "v1.0_rc-2", digest: nil,
          full: "example.com:443/x/y/z:v1.0_rc-2", familiarName: "example.com:443/x/y/z", familiarString: "example.com:443/x/y/z:v1.0_rc-2"),
    Valid(input: "[::1]:5000/x", domain: "[::1]:5000", path: "x", tag: "latest", digest: nil,
          full: "[::1]:5000/x:latest", familiarName: "[::1]:5000/x", familiarString: "[::1]:5000/x:latest"),
    Valid(input: "Foo/bar", domain: "Foo", path: "bar", tag: "latest", digest: nil,
          full: "Foo/bar:latest", familiarName: "Foo/bar", familiarString: "Foo/bar:latest"),
    Valid(input: "a.b/c__d/e-f--g.h", domain: "a.b", path: "c__d/e-f--g.h", tag: "latest", digest: nil,
          full: "a.b/c__d/e-f--g.h:latest", familiarName: "a.b/c__d/e-f--g.h", familiarString: "a.b/c__d/e-f--g.h:latest"),
    Valid(input: "x:_Tag.1-A", domain: "docker.io", path: "library/x", tag: "_Tag.1-A", digest: nil,
          full: "docker.io/library/x:_Tag.1-A", familiarName: "x", familiarString: "x:_Tag.1-A"),
  ]

  @Test("valid references parse and normalize", arguments: valid)
  func parses(_ case_: Valid) throws {
    let ref = try ImageReference(parsing: case_.input)
    #expect(ref.domain == case_.domain)
    #expect(ref.path == case_.path)
    #expect(ref.tag == case_.tag)
    #expect(ref.digest?.description == case_.digest)
    #expect(ref.description == case_.full)
    #expect(ref.familiarName == case_.familiarName)
    #expect(ref.familiarString == case_.familiarString)
    // The full form parses back to the same reference.
    #expect(try ImageReference(parsing: ref.description) == ref)
  }

  static let invalid: [(input: String, words: String)] = [
    ("Busybox", "repository names must be lowercase"),
    ("docker.io/User/app", "repository names must be lowercase"),
    ("", "empty"),
    ("busybox:", "tag after \":\" is empty"),
    ("busybox:-bad", "tag \"-bad\" is not valid"),
    ("busybox:" + String(repeating: "t", count: 129), "longer than 128"),
    (":tag", "repository name is empty"),
    ("a//b", "empty component"),
    ("a/b/", "empty component"),
    ("-a", "component \"-a\" is not valid"),
    ("a_", "component \"a_\" is not valid"),
    ("a___b", "component \"a___b\" is not valid"),
    ("a..b", "component \"a..b\" is not valid"),
    ("a b", "not valid"),
    ("busybox@sha256:abc", "at least 32 hex digits"),
    ("busybox@md5:0123456789abcdef0123456789abcdef", "algorithm \"md5\" is not supported"),
    ("busybox@sha256:" + String(repeating: "A", count: 64), "lowercase hex"),
    (hexA, "image ID"),
    ("localhost:abc/x", "port must be a number"),
    ("-bad.example.com/x", "registry host"),
    ("example.com/" + String(repeating: "a", count: 250), "longer than 255"),
    ("[zz]:5000/x", "not an IPv6 address"),
  ]

  @Test("invalid references are refused, quoting the input and saying why", arguments: invalid)
  func refuses(_ input: String, _ words: String) {
    do {
      let ref = try ImageReference(parsing: input)
      Issue.record("\"\(input)\" parsed as \(ref)")
    } catch {
      #expect(error.description.hasPrefix("invalid reference \"\(input)\": "), "\(error)")
      #expect(error.description.contains(words), "\(error)")
    }
  }

  @Test func lowercaseMessageMatchesDocker() {
    #expect(throws: ReferenceError(input: "Busybox", reason: "repository names must be lowercase")) {
      try ImageReference(parsing: "Busybox")
    }
  }

  @Test func withTagAndDigestKeepTheOther() throws {
    let ref = try ImageReference(parsing: "localhost:5000/x:one")
    let digest = try Digest(parsing: digestA)
    let pinned = ref.withDigest(digest)
    #expect(pinned.description == "localhost:5000/x:one@" + digestA)
    #expect(pinned.manifestReference == digestA)
    let retagged = try pinned.withTag("two")
    #expect(retagged.tag == "two")
    #expect(retagged.digest == digest)
    #expect(throws: ReferenceError.self) { try ref.withTag("-no") }
    #expect(ref.repositoryOnly.description == "localhost:5000/x")
    #expect(pinned.withoutDigest.description == "localhost:5000/x:one")
    #expect(ref.manifestReference == "one")
  }

  @Test func apiHostOfDockerHub() throws {
    #expect(try ImageReference(parsing: "busybox").apiHost == "registry-1.docker.io")
    #expect(try ImageReference(parsing: "localhost:5000/x").apiHost == "localhost:5000")
  }

  @Test func buildsFromParts() throws {
    let ref = try ImageReference(domain: "index.docker.io", path: "library/busybox", tag: "1")
    #expect(ref.description == "docker.io/library/busybox:1")
    #expect(throws: ReferenceError.self) { try ImageReference(domain: "localhost:5000", path: "UPPER") }
    #expect(throws: ReferenceError.self) { try ImageReference(domain: "bad_host", path: "x") }
  }

  @Test func codableAsString() throws {
    let ref = try ImageReference(parsing: "user/app:1")
    let bytes = try JSON.encode(ref)
    #expect(String(decoding: bytes, as: UTF8.self) == "\"docker.io/user/app:1\"")
    #expect(try JSON.decode(ImageReference.self, from: bytes) == ref)
  }
}

