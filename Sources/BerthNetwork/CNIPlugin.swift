#if canImport(Glibc)
import Glibc
#endif
import BerthJSON
import BerthOS

/// Runs one CNI plugin as the CNI spec (1.0.0) says: the command and the container in
/// environment variables, the network configuration on stdin, the result or {code, msg} on
/// stdout.
struct CNIPlugin {
  static let version = "1.0.0"
  /// Where Debian's containernetworking-plugins live; BERTH_CNI_PATH overrides.
  static let searchPath: [String] = {
    if let custom = getenvString("BERTH_CNI_PATH") { return custom.split(separator: ":").map(String.init) }
    return ["/usr/lib/cni", "/opt/cni/bin"]
  }()

  enum Command: String { case add = "ADD", del = "DEL", check = "CHECK" }

  var type: String

  var executable: String? {
    CNIPlugin.searchPath.map { Path.join($0, type) }.first(where: FS.exists)
  }

  /// Runs the plugin; returns its parsed result (null for DEL) or throws its error message.
  @discardableResult
  func run(
    _ command: Command, containerID: String, netns: String, interface: String, config: JSONObject
  ) throws -> JSONValue {
    guard let path = executable else {
      throw BerthError(
        .unsupported,
        "CNI plugin \(type) not found in \(CNIPlugin.searchPath.joined(separator: ":")); install containernetworking-plugins")
    }
    var config = config
    config["cniVersion"] = .string(CNIPlugin.version)
    config["type"] = .string(type)
    let env = [
      "CNI_COMMAND=\(command.rawValue)", "CNI_CONTAINERID=\(containerID)", "CNI_NETNS=\(netns)",
      "CNI_IFNAME=\(interface)", "CNI_PATH=\(CNIPlugin.searchPath.joined(separator: ":"))",
      // portmap and bridge run iptables, sysctl and friends through PATH.
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ]
    let result = try Subprocess.run(
      path, args: [type], env: env, input: JSON.serialize(.object(config)), timeoutNanoseconds: 60_000_000_000)
    let output = String(decoding: result.output, as: UTF8.self)
    guard result.status == .exited(0) else {
      var message = String(decoding: result.error, as: UTF8.self).trimmingTrailingNewlines
      if let error = try? JSON.parse(output), let text = error["msg"]?.stringValue {
        message = text
        if let details = error["details"]?.stringValue, !details.isEmpty { message += ": " + details }
      }
      if result.timedOut { message = "timed out after 60 s" }
      throw BerthError(.commandFailed, "CNI \(type) \(command.rawValue) for \(interface) failed: \(message)")
    }
    if command != .add { return .null }
    do {
      return try JSON.parse(result.output)
    } catch {
      throw BerthError(.commandFailed, "CNI \(type) ADD printed an unreadable result (\(error)): \(output)")
    }
  }
}

func getenvString(_ name: String) -> String? {
  guard let value = getenv(name) else { return nil }
  let text = String(cString: value)
  return text.isEmpty ? nil : text
}
