import ArgumentParser
import BerthEngine
import BerthJSON
import BerthOS
import Foundation

/// `berth version [--format T]`: Docker's Client and Server sections. Berth has no daemon:
/// the "server" is the engine in this same binary, with the OCI runtimes it finds.
struct VersionCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "version", abstract: "Show the Berth version information.")
  @OptionGroup var global: GlobalOptions
  @Option(name: .shortAndLong, help: "Format output using a custom template, or 'json'.") var format: String?

  /// The Swift compiler berth was built with.
  static let swiftVersion: String = {
    #if compiler(>=6.3)
    return "6.3"
    #elseif compiler(>=6.2)
    return "6.2"
    #elseif compiler(>=6.1)
    return "6.1"
    #else
    return "6.0"
    #endif
  }()

  func run() async throws {
    let host = HostFacts.current
    let runtimes = ContainerEngine.runtimeVersions()
    let kernel = (try? FS.readText("/proc/sys/kernel/osrelease", trimmingNewline: true)) ?? ""
    let object = Self.json(arch: host.goArch, kernel: kernel, runtimes: runtimes)
    if let format {
      let template = try OutputTemplate(format == "json" ? "{{json .}}" : format)
      print(CLIOutput.render(template, object))
      return
    }
    print(Self.text(arch: host.goArch, runtimes: runtimes), terminator: "")
  }

  static func text(arch: String, runtimes: [RuntimeVersion]) -> String {
    func line(_ indent: Int, _ label: String, _ value: String) -> String {
      let head = String(repeating: " ", count: indent) + label + ":"
      return head.padding(toLength: max(head.count + 1, 20), withPad: " ", startingAt: 0) + value
    }
    var lines = [
      "Client:",
      line(1, "Version", Berth.version),
      line(1, "Swift version", swiftVersion),
      line(1, "OS/Arch", "linux/\(arch)"),
      line(1, "Context", "default"),
      "",
      "Server: Berth",
      " Engine:",
      line(2, "Version", Berth.version),
      line(2, "Swift version", swiftVersion),
      line(2, "OS/Arch", "linux/\(arch)"),
      line(2, "Experimental", "false"),
    ]
    for runtime in runtimes {
      lines.append(" \(runtime.name):")
      lines.append(line(2, "Version", runtime.version))
      if let commit = runtime.commit { lines.append(line(2, "GitCommit", commit)) }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// Docker's version JSON, with Berth's facts.
  static func json(arch: String, kernel: String, runtimes: [RuntimeVersion]) -> JSONValue {
    let engine: JSONValue = [
      "Name": "Engine", "Version": .string(Berth.version),
      "Details": ["SwiftVersion": .string(swiftVersion), "Os": "linux", "Arch": .string(arch), "KernelVersion": .string(kernel), "Experimental": "false"],
    ]
    let components = [engine] + runtimes.map { runtime -> JSONValue in
      ["Name": .string(runtime.name), "Version": .string(runtime.version), "Details": ["GitCommit": .string(runtime.commit ?? "")]]
    }
    return .object(JSONObject([
      ("Client", .object(JSONObject([
        ("Platform", .object(["Name": ""])),
        ("Version", .string(Berth.version)),
        ("SwiftVersion", .string(swiftVersion)),
        ("Os", "linux"),
        ("Arch", .string(arch)),
        ("Context", "default"),
      ]))),
      ("Server", .object(JSONObject([
        ("Platform", .object(["Name": "Berth"])),
        ("Components", .array(components)),
        ("Version", .string(Berth.version)),
        ("SwiftVersion", .string(swiftVersion)),
        ("Os", "linux"),
        ("Arch", .string(arch)),
        ("KernelVersion", .string(kernel)),
        ("Experimental", false),
      ]))),
    ]))
  }
}
