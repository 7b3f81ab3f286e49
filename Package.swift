// swift-tools-version:6.0
import PackageDescription

// Berth: a Linux container engine. See ../shared/DESIGN.md and README.md.
//
// The runtime path (berth-runtime and every module it links) stays free of Foundation:
// measured here, Foundation adds over 1 ms to every start and 60 MB to a static binary.

let package = Package(
  name: "berth",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "berth-runtime", targets: ["berth-runtime"]),
  ],
  dependencies: [],
  targets: [
    // Syscalls, constants and helpers that Swift's Glibc module does not expose.
    .target(name: "CLinux", exclude: ["exec-stub"]),
    // libseccomp, found through pkg-config (libseccomp-dev).
    .systemLibrary(
      name: "CSeccomp", pkgConfig: "libseccomp",
      providers: [.apt(["libseccomp-dev"])]),

    .target(name: "BerthJSON"),
    .target(name: "BerthOS", dependencies: ["CLinux"]),
    .target(name: "BerthOCI", dependencies: ["BerthJSON"]),
    .target(name: "BerthCgroups", dependencies: ["BerthOS", "BerthOCI", "CLinux"]),
    .target(name: "BerthSeccomp", dependencies: ["BerthOS", "BerthOCI", "CSeccomp", "CLinux"]),
    .target(name: "BerthRuntime", dependencies: [
      "BerthOS", "BerthOCI", "BerthJSON", "BerthCgroups", "BerthSeccomp", "CLinux",
    ]),
    .executableTarget(name: "berth-runtime", dependencies: ["BerthRuntime"]),

    .testTarget(name: "BerthJSONTests", dependencies: ["BerthJSON"]),
    .testTarget(name: "BerthOCITests", dependencies: ["BerthOCI", "BerthJSON"]),
    .testTarget(name: "BerthOSTests", dependencies: ["BerthOS"]),
    .testTarget(name: "BerthCgroupsTests", dependencies: ["BerthCgroups", "BerthOCI", "BerthOS"]),
    .testTarget(name: "BerthSeccompTests", dependencies: ["BerthSeccomp", "BerthOCI", "BerthOS"]),
    .testTarget(name: "BerthRuntimeTests", dependencies: ["BerthRuntime", "BerthOCI", "BerthJSON", "berth-runtime"]),
  ]
)
