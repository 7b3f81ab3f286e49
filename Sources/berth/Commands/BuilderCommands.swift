import ArgumentParser
import BerthBuild
import BerthEngine

/// `berth builder …`: the build cache.
struct BuilderCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "builder", abstract: "Manage builds.", subcommands: [BuilderPrune.self, Build.self])
}

/// `berth builder prune [-a] [-f]`: without -a, the cache entries that can no longer hit;
/// with -a, all of the cache (and the layers only it kept).
struct BuilderPrune: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove build cache.")
  @OptionGroup var global: GlobalOptions
  @Flag(name: .shortAndLong, help: "Remove all unused build cache, not just dangling ones.") var all = false
  @Flag(name: .shortAndLong, help: "Do not prompt for confirmation.") var force = false

  func run() async throws {
    if !force {
      let what = all ? "all build cache" : "all dangling build cache"
      guard CLIOutput.confirm("WARNING! This will remove \(what).\n") else { return }
    }
    let engine = try global.engine()
    let report = try await BuildCachePruner.prune(images: engine.images, all: all)
    CLIOutput.printSection("Deleted build cache objects:", report.removed)
    print("Total reclaimed space: \(CLIOutput.humanSize(report.reclaimed))")
  }
}
