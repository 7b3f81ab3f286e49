// swift-tools-version:6.0
import Foundation
import PackageDescription

/// berth-monitor is Embedded Swift (one runs per container: its memory is the engine's
/// per-container cost). Its link needs the toolchain's embedded Unicode tables, found next to
/// the `swift` running this manifest.
let embeddedLibraries: String = {
  let candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/opt/swift/usr/bin"]
  for bin in candidates where FileManager.default.isExecutableFile(atPath: bin + "/swiftc") {
    let root = URL(fileURLWithPath: bin + "/swiftc").resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
    #if arch(arm64)
    let triple = "aarch64-unknown-linux-gnu"
    #else
    let triple = "x86_64-unknown-linux-gnu"
    #endif
    let dir = root.appendingPathComponent("lib/swift/embedded/\(triple)").path
    if FileManager.default.fileExists(atPath: dir) { return dir }
  }
  return "/opt/swift/usr/lib/swift/embedded/x86_64-unknown-linux-gnu"
}()

// Berth: a Linux container engine. See ../shared/DESIGN.md, README.md and docs/.
//
// The runtime path (berth-runtime and every module it links) stays free of Foundation:
// measured here, Foundation adds over 1 ms to every start and 60 MB to a static binary. The
// engine (berth) may use Foundation, SwiftNIO and the rest.

let package = Package(
  name: "berth",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "berth-runtime", targets: ["berth-runtime"]),
    .executable(name: "berth", targets: ["berth"]),
    .executable(name: "berth-monitor", targets: ["berth-monitor"]),
    .executable(name: "berth-init", targets: ["berth-init"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
  ],
  targets: [
    // Syscalls, constants and helpers that Swift's Glibc module does not expose.
    .target(name: "CLinux", exclude: ["exec-stub"]),
    // libseccomp and libarchive, found through pkg-config (libseccomp-dev, libarchive-dev).
    .systemLibrary(
      name: "CSeccomp", pkgConfig: "libseccomp",
      providers: [.apt(["libseccomp-dev"])]),
    .systemLibrary(
      name: "CArchive", pkgConfig: "libarchive",
      providers: [.apt(["libarchive-dev"])]),

    // The runtime's modules (no Foundation).
    .target(name: "BerthJSON"),
    .target(name: "BerthOS", dependencies: ["CLinux"]),
    .target(name: "BerthOCI", dependencies: ["BerthJSON"]),
    .target(name: "BerthCgroups", dependencies: ["BerthOS", "BerthOCI", "CLinux"]),
    .target(name: "BerthSeccomp", dependencies: ["BerthOS", "BerthOCI", "CSeccomp", "CLinux"]),
    .target(name: "BerthRuntime", dependencies: [
      "BerthOS", "BerthOCI", "BerthJSON", "BerthCgroups", "BerthSeccomp", "CLinux",
    ]),
    .executableTarget(name: "berth-runtime", dependencies: ["BerthRuntime"]),

    // The engine's modules.
    .target(name: "BerthArchive", dependencies: [
      "CArchive", "BerthOS", "BerthOCI", "CLinux",
      .product(name: "Crypto", package: "swift-crypto"),
    ]),
    .target(name: "BerthRegistry", dependencies: [
      "BerthOCI", "BerthJSON", "BerthOS",
      .product(name: "AsyncHTTPClient", package: "async-http-client"),
      .product(name: "NIOCore", package: "swift-nio"),
      .product(name: "NIOHTTP1", package: "swift-nio"),
      .product(name: "Crypto", package: "swift-crypto"),
      .product(name: "Logging", package: "swift-log"),
    ]),
    .target(name: "BerthImages", dependencies: [
      "BerthOCI", "BerthJSON", "BerthOS", "BerthArchive", "BerthRegistry",
      .product(name: "GRDB", package: "GRDB.swift"),
      .product(name: "Crypto", package: "swift-crypto"),
      .product(name: "NIOCore", package: "swift-nio"),
    ]),
    // Networks: CNI plugins, network namespaces, firewall rules, the per-network DNS server.
    .target(name: "BerthNetwork", dependencies: [
      "BerthOS", "BerthJSON", "CLinux",
      .product(name: "NIOCore", package: "swift-nio"),
      .product(name: "NIOPosix", package: "swift-nio"),
    ]),
    .target(name: "BerthEngine", dependencies: [
      "BerthImages", "BerthOCI", "BerthJSON", "BerthOS", "BerthCgroups", "BerthArchive", "BerthNetwork", "CLinux",
      .product(name: "GRDB", package: "GRDB.swift"),
    ]),
    // `berth build`: the Dockerfile parser, .dockerignore, the builder and its cache.
    .target(name: "BerthBuild", dependencies: [
      "BerthEngine", "BerthImages", "BerthArchive", "BerthOCI", "BerthJSON", "BerthOS",
      .product(name: "Crypto", package: "swift-crypto"),
    ]),
    .target(name: "CMonitor"),
    // One per running container: Embedded Swift, the C library through CMonitor and CLinux.
    .executableTarget(
      name: "berth-monitor", dependencies: ["CLinux", "CMonitor"],
      swiftSettings: [.enableExperimentalFeature("Embedded"), .unsafeFlags(["-wmo", "-Osize"])],
      linkerSettings: [
        .unsafeFlags(["-enable-experimental-feature", "Embedded", "-L" + embeddedLibraries, "-lswiftUnicodeDataTables"]),
        .linkedLibrary("m"),
      ]),
    // The init of `berth run --init`, bind-mounted into containers with any or no libc: C with no
    // C library, fully static, a few KB (see the top of main.c). The Embedded flag only keeps
    // swiftc's link step from adding the Swift runtime to this C-only target.
    .executableTarget(
      name: "berth-init",
      cSettings: [
        .unsafeFlags(["-ffreestanding", "-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-ffunction-sections"]),
        .unsafeFlags(["-Os"], .when(configuration: .release)),
      ],
      linkerSettings: [
        .unsafeFlags([
          "-enable-experimental-feature", "Embedded", "-Xclang-linker", "-nostdlib", "-Xclang-linker", "-static",
          "-Xclang-linker", "-Qunused-arguments", "-Xlinker", "--gc-sections", "-Xlinker", "--build-id=none",
        ]),
        .unsafeFlags(["-Xlinker", "--strip-all"], .when(configuration: .release)),
      ]),
    .executableTarget(name: "berth", dependencies: [
      "BerthImages", "BerthEngine", "BerthRegistry", "BerthOCI", "BerthOS", "BerthNetwork", "BerthBuild",
      .product(name: "ArgumentParser", package: "swift-argument-parser"),
    ]),

    // Fixtures shared by the engine's tests: a real docker-registry on a loopback port, test
    // images. Not linked into any product.
    .target(name: "BerthTestSupport", dependencies: [
      "BerthOCI", "BerthJSON", "BerthOS", "CLinux",
      .product(name: "Crypto", package: "swift-crypto"),
      .product(name: "NIOCore", package: "swift-nio"),
      .product(name: "NIOPosix", package: "swift-nio"),
      .product(name: "NIOHTTP1", package: "swift-nio"),
    ]),

    .testTarget(name: "BerthJSONTests", dependencies: ["BerthJSON"]),
    .testTarget(name: "BerthOSTests", dependencies: ["BerthOS"]),
    .testTarget(name: "BerthOCITests", dependencies: ["BerthOCI", "BerthJSON"]),
    .testTarget(name: "BerthCgroupsTests", dependencies: ["BerthCgroups", "BerthOCI", "BerthOS"]),
    .testTarget(name: "BerthSeccompTests", dependencies: ["BerthSeccomp", "BerthOCI", "BerthOS"]),
    .testTarget(name: "BerthRuntimeTests", dependencies: ["BerthRuntime", "BerthOCI", "BerthJSON", "berth-runtime"]),
    .testTarget(name: "BerthArchiveTests", dependencies: ["BerthArchive", "BerthOS", "BerthOCI", "BerthTestSupport"]),
    .testTarget(name: "BerthRegistryTests", dependencies: [
      "BerthRegistry", "BerthOCI", "BerthJSON", "BerthOS", "BerthTestSupport",
      .product(name: "Crypto", package: "swift-crypto"),
      .product(name: "NIOCore", package: "swift-nio"),
      .product(name: "NIOPosix", package: "swift-nio"),
      .product(name: "NIOHTTP1", package: "swift-nio"),
    ]),
    .testTarget(name: "BerthEngineTests", dependencies: [
      "BerthEngine", "BerthImages", "BerthOCI", "BerthOS", "BerthJSON", "BerthTestSupport", "CLinux", "berth",
      "berth-runtime",
    ]),
    .testTarget(name: "BerthMonitorTests", dependencies: [
      "BerthOCI", "BerthOS", "BerthJSON", "BerthTestSupport", "CLinux", "berth-runtime",
    ]),
    .testTarget(name: "BerthNetworkTests", dependencies: [
      "BerthNetwork", "BerthOS", "BerthJSON", "BerthTestSupport", "CLinux",
      .product(name: "NIOCore", package: "swift-nio"),
      .product(name: "NIOPosix", package: "swift-nio"),
    ]),
    .testTarget(name: "BerthBuildTests", dependencies: [
      "BerthBuild", "BerthEngine", "BerthImages", "BerthArchive", "BerthOCI", "BerthOS", "BerthJSON", "BerthTestSupport",
    ]),
    .testTarget(name: "BerthImagesTests", dependencies: [
      "BerthImages", "BerthArchive", "BerthRegistry", "BerthOCI", "BerthOS", "BerthTestSupport", "CLinux", "berth",
      .product(name: "GRDB", package: "GRDB.swift"),
    ]),
  ]
)
