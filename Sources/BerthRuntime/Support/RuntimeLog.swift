#if canImport(Glibc)
import Glibc
#endif
import BerthJSON
import BerthOS

/// The runtime's log: `--log FILE` and `--log-format text|json`, as runc writes them (engines
/// such as containerd read the last "error" entry of the JSON log to report failures).
/// Without --log, messages go to stderr.
struct RuntimeLog {
  enum Format: String { case text, json }
  enum Level: String { case debug, info, warning, error }

  var path: String?
  var format: Format = .text
  var debug = false

  func write(_ level: Level, _ message: String) {
    if level == .debug && !debug { return }
    guard let path else {
      if level != .debug || debug { writeToStandardError("berth-runtime: \(level == .error ? "" : level.rawValue + ": ")\(message)\n") }
      return
    }
    let line: String
    switch format {
    case .json:
      let entry: JSONValue = .object(JSONObject([
        ("level", .string(level.rawValue)), ("msg", .string(message)), ("time", .string(Clock.rfc3339Now())),
      ]))
      line = JSON.serializeString(entry) + "\n"
    case .text:
      line = "time=\"\(Clock.rfc3339Now())\" level=\(level.rawValue) msg=\(quotedForLog(message))\n"
    }
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      writeToStandardError("berth-runtime: \(message)\n")
      return
    }
    try? writeAllBytes(fd, Array(line.utf8))
    close(fd)
  }

  private func quotedForLog(_ message: String) -> String {
    "\"" + message.replacing("\"", with: "\\\"") + "\""
  }
}
