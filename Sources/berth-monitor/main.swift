import CMonitor

// berth-monitor CONFIG_FILE
//
// The per-container supervisor (see docs/monitor.md). Started by the engine detached (setsid),
// with /dev/null as stdio and the write end of a sync pipe as fd 3.

/// argv from /proc/self/cmdline (Embedded Swift has no CommandLine).
func commandLineArguments() -> [String] {
  guard let bytes = readFile("/proc/self/cmdline", limit: 64 * 1024) else { return [] }
  var arguments: [String] = []
  var start = 0
  for (index, byte) in bytes.enumerated() where byte == 0 {
    arguments.append(String(decoding: bytes[start..<index], as: UTF8.self))
    start = index + 1
  }
  return arguments
}

func usageError(_ message: String) -> Never {
  // The engine reads errors on fd 3; a person running the monitor by hand reads stderr.
  _ = writeAll(2, "berth-monitor: " + message + "\n")
  _ = writeAll(3, "error " + message + "\n")
  exit(1)
}

let arguments = commandLineArguments()
if arguments.count != 2 { usageError("usage: berth-monitor CONFIG_FILE") }
let config: MonitorConfig
do {
  config = try MonitorConfig.load(path: arguments[1])
} catch {
  switch error {
  case .unreadable(let message), .invalid(let message): usageError(message)
  }
}
Monitor(config: config).run()
