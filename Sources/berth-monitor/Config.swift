// The monitor's configuration file: `key=value` lines written by the engine (see
// docs/monitor.md). Repeatable keys keep their order; unknown keys are ignored so that an
// older monitor runs with a newer engine.

enum RestartPolicy {
  case no
  case onFailure
  case always
  case unlessStopped
}

enum ConfigError: Error {
  case unreadable(String)
  case invalid(String)
}

struct MonitorConfig {
  var id = ""
  var bundle = ""
  var runtime = ""
  var runtimeArgs: [String] = []
  var stateDir = ""
  var socket = ""
  var terminal = false
  var stdin = false
  var logJSONFile = false
  var logPath = ""
  var logMaxSize: Int64 = 0
  var logMaxFiles = 1
  var restart = RestartPolicy.no
  var restartMax = 0
  var healthArgs: [String] = []
  var healthInterval: Int64 = 30_000_000_000
  var healthTimeout: Int64 = 30_000_000_000
  var healthStartPeriod: Int64 = 0
  var healthRetries = 3
  var startAuto = true
  var exitArgs: [String] = []

  /// A file of the state directory.
  func statePath(_ name: String) -> String { stateDir + "/" + name }

  static func load(path: String) throws(ConfigError) -> MonitorConfig {
    guard let bytes = readFile(path) else {
      throw .unreadable("cannot read the configuration \(path): \(errnoText())")
    }
    return try parse(bytes)
  }

  static func parse(_ bytes: [UInt8]) throws(ConfigError) -> MonitorConfig {
    var config = MonitorConfig()
    var logDriverSeen = false
    var lineStart = 0
    while lineStart < bytes.count {
      var lineEnd = lineStart
      while lineEnd < bytes.count && bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
      let line = bytes[lineStart..<lineEnd]
      lineStart = lineEnd + 1
      guard !line.isEmpty, line.first != UInt8(ascii: "#") else { continue }
      guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else {
        throw .invalid("configuration line without '=': \(String(decoding: line, as: UTF8.self))")
      }
      let key = String(decoding: line[line.startIndex..<equals], as: UTF8.self)
      let valueBytes = line[(equals + 1)...]
      let value = String(decoding: valueBytes, as: UTF8.self)

      func number() throws(ConfigError) -> Int64 {
        guard let n = parseDecimal(valueBytes) else { throw .invalid("\(key): not a number: \(value)") }
        return n
      }
      func flag() throws(ConfigError) -> Bool {
        if bytesEqual(valueBytes, "1") || bytesEqual(valueBytes, "true") { return true }
        if bytesEqual(valueBytes, "0") || bytesEqual(valueBytes, "false") { return false }
        throw .invalid("\(key): expected 0 or 1, not \(value)")
      }

      switch key {
      case "id": config.id = value
      case "bundle": config.bundle = value
      case "runtime": config.runtime = value
      case "runtime-arg": config.runtimeArgs.append(value)
      case "state-dir": config.stateDir = value
      case "socket": config.socket = value
      case "terminal": config.terminal = try flag()
      case "stdin": config.stdin = try flag()
      case "log-driver":
        logDriverSeen = true
        if bytesEqual(valueBytes, "json-file") {
          config.logJSONFile = true
        } else if bytesEqual(valueBytes, "none") {
          config.logJSONFile = false
        } else {
          throw .invalid("log-driver: unsupported driver \(value) (json-file or none)")
        }
      case "log-path": config.logPath = value
      case "log-max-size": config.logMaxSize = try number()
      case "log-max-files": config.logMaxFiles = max(1, Int(try number()))
      case "restart":
        if bytesEqual(valueBytes, "no") || valueBytes.isEmpty {
          config.restart = .no
        } else if bytesEqual(valueBytes, "on-failure") {
          config.restart = .onFailure
        } else if bytesEqual(valueBytes, "always") {
          config.restart = .always
        } else if bytesEqual(valueBytes, "unless-stopped") {
          config.restart = .unlessStopped
        } else {
          throw .invalid("restart: unknown policy \(value)")
        }
      case "restart-max": config.restartMax = Int(try number())
      case "health-arg": config.healthArgs.append(value)
      case "health-interval": config.healthInterval = try number()
      case "health-timeout": config.healthTimeout = try number()
      case "health-start-period": config.healthStartPeriod = try number()
      case "health-retries": config.healthRetries = Int(try number())
      case "start":
        if bytesEqual(valueBytes, "auto") {
          config.startAuto = true
        } else if bytesEqual(valueBytes, "wait") {
          config.startAuto = false
        } else {
          throw .invalid("start: expected auto or wait, not \(value)")
        }
      case "exit-arg": config.exitArgs.append(value)
      default: break
      }
    }
    for (name, value) in [("id", config.id), ("bundle", config.bundle), ("runtime", config.runtime),
                          ("state-dir", config.stateDir), ("socket", config.socket)] where value.isEmpty {
      throw .invalid("the configuration lacks \(name)=")
    }
    if !logDriverSeen && !config.logPath.isEmpty { config.logJSONFile = true }
    if config.logJSONFile && config.logPath.isEmpty { throw .invalid("log-driver=json-file needs log-path=") }
    // Docker's defaults for zero values.
    if config.healthInterval <= 0 { config.healthInterval = 30_000_000_000 }
    if config.healthTimeout <= 0 { config.healthTimeout = 30_000_000_000 }
    if config.healthRetries <= 0 { config.healthRetries = 3 }
    if config.healthStartPeriod < 0 { config.healthStartPeriod = 0 }
    return config
  }
}
