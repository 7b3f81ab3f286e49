import BerthOCI
import BerthOS
import Foundation

/// `--change` instructions (`import`, later `commit`): the Dockerfile instructions that only
/// change an image's config — CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR,
/// STOPSIGNAL, ONBUILD.
public enum ConfigChanges {
  public static func apply(_ changes: [String], to config: ContainerConfig) throws -> ContainerConfig {
    var result = config
    for change in changes {
      let trimmed = change.trimmingCharacters(in: .whitespaces)
      let split = trimmed.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? trimmed.endIndex
      let instruction = trimmed[..<split].uppercased()
      let argument = trimmed[split...].trimmingCharacters(in: .whitespaces)
      guard !argument.isEmpty else {
        throw BerthError(.invalidArgument, "--change \(quoted(change)): \(instruction) needs an argument")
      }
      switch instruction {
      case "CMD": result.Cmd = commandForm(argument)
      case "ENTRYPOINT": result.Entrypoint = commandForm(argument)
      case "ENV":
        for (key, value) in try keyValues(argument, instruction: "ENV", change: change) {
          var env = (result.Env ?? []).filter { !$0.hasPrefix(key + "=") }
          env.append("\(key)=\(value)")
          result.Env = env
        }
      case "LABEL":
        var labels = result.Labels ?? [:]
        for (key, value) in try keyValues(argument, instruction: "LABEL", change: change) { labels[key] = value }
        result.Labels = labels
      case "EXPOSE":
        var ports = result.ExposedPorts ?? [:]
        for port in argument.split(separator: " ") {
          ports[port.contains("/") ? String(port) : "\(port)/tcp"] = EmptyObject()
        }
        result.ExposedPorts = ports
      case "VOLUME":
        var volumes = result.Volumes ?? [:]
        for path in jsonArray(argument) ?? argument.split(separator: " ").map(String.init) { volumes[path] = EmptyObject() }
        result.Volumes = volumes
      case "USER": result.User = argument
      case "WORKDIR": result.WorkingDir = argument
      case "STOPSIGNAL": result.StopSignal = argument
      case "ONBUILD": result.OnBuild = (result.OnBuild ?? []) + [argument]
      default:
        throw BerthError(
          .invalidArgument,
          "--change \(quoted(change)): \(instruction) cannot be changed this way (use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME or WORKDIR)")
      }
    }
    return result
  }

  /// `["a", "b"]` (exec form) as it is; anything else (shell form) through /bin/sh -c.
  static func commandForm(_ text: String) -> [String] {
    jsonArray(text) ?? ["/bin/sh", "-c", text]
  }

  static func jsonArray(_ text: String) -> [String]? {
    guard text.hasPrefix("["), let data = text.data(using: .utf8) else { return nil }
    return try? JSONDecoder().decode([String].self, from: data)
  }

  /// `K=V K2="V 2"`, or the old `K V` form.
  static func keyValues(_ text: String, instruction: String, change: String) throws -> [(String, String)] {
    guard text.contains("=") else {
      let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
      guard parts.count == 2 else { throw BerthError(.invalidArgument, "--change \(quoted(change)): \(instruction) needs KEY=VALUE") }
      return [(parts[0], parts[1])]
    }
    var pairs: [(String, String)] = []
    var rest = Substring(text)
    while !rest.isEmpty {
      rest = rest.drop { $0 == " " }
      guard let equals = rest.firstIndex(of: "=") else {
        throw BerthError(.invalidArgument, "--change \(quoted(change)): \(instruction) needs KEY=VALUE pairs")
      }
      let key = String(rest[..<equals])
      rest = rest[rest.index(after: equals)...]
      var value = ""
      if rest.first == "\"" {
        rest = rest.dropFirst()
        guard let close = rest.firstIndex(of: "\"") else {
          throw BerthError(.invalidArgument, "--change \(quoted(change)): unterminated quote")
        }
        value = String(rest[..<close])
        rest = rest[rest.index(after: close)...]
      } else {
        let end = rest.firstIndex(of: " ") ?? rest.endIndex
        value = String(rest[..<end])
        rest = rest[end...]
      }
      pairs.append((key, value))
    }
    return pairs
  }
}
