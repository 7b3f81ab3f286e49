import CLinux
import CMonitor

/// Starts `argv` (argv[0] is a path, or a name looked up in PATH) through CLinux's spawn helper.
/// `fdMap` holds (source, target) pairs; every other descriptor is closed in the child. The
/// child inherits the monitor's environment, with signals unblocked and reset to defaults.
/// Returns the pid, or -1 with errno set.
func spawnProcess(_ argv: [String], fdMap: [(Int32, Int32)], newSession: Bool) -> Int32 {
  guard let program = argv.first, !program.isEmpty else {
    cmonitor_set_errno(ENOENT)
    return -1
  }
  let path = resolveExecutable(program)
  var cArgs: [UnsafeMutablePointer<CChar>?] = []
  cArgs.reserveCapacity(argv.count + 1)
  for argument in argv { cArgs.append(argument.withCString { strdup($0) }) }
  cArgs.append(nil)
  defer { for pointer in cArgs { free(pointer) } }
  var flatMap: [Int32] = []
  for (source, target) in fdMap {
    flatMap.append(source)
    flatMap.append(target)
  }
  return path.withCString { cPath in
    cArgs.withUnsafeBufferPointer { args in
      flatMap.withUnsafeBufferPointer { map in
        berth_spawn(cPath, args.baseAddress, cmonitor_environ(), map.baseAddress, Int32(fdMap.count), nil,
                    newSession ? 1 : 0)
      }
    }
  }
}

/// A program name without a slash is looked up in PATH (as execvp would).
private func resolveExecutable(_ program: String) -> String {
  var hasSlash = false
  for byte in program.utf8 where byte == UInt8(ascii: "/") { hasSlash = true }
  if hasSlash { return program }
  var searchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  if let value = getenv("PATH") { searchPath = String(cString: value) }
  var directory: [UInt8] = []
  let bytes = Array(searchPath.utf8)
  for (index, byte) in bytes.enumerated() {
    if byte != UInt8(ascii: ":") { directory.append(byte) }
    if byte == UInt8(ascii: ":") || index == bytes.count - 1 {
      if !directory.isEmpty {
        let candidate = String(decoding: directory, as: UTF8.self) + "/" + program
        if candidate.withCString({ access($0, X_OK) }) == 0 { return candidate }
      }
      directory.removeAll(keepingCapacity: true)
    }
  }
  return program
}

