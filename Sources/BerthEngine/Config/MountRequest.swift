import BerthOS

/// A mount the user asked for (`-v`, `--mount`, `--tmpfs`) or the image declared (VOLUME),
/// before the engine gives volumes a place on the host.
public struct MountRequest: Codable, Sendable, Equatable {
  public enum Kind: String, Codable, Sendable {
    case bind, volume, tmpfs
  }

  /// Which flag it came from (for messages and `inspect`).
  public enum Origin: String, Codable, Sendable {
    case volumeFlag = "-v", mountFlag = "--mount", tmpfsFlag = "--tmpfs", image = "VOLUME"
  }

  public var type: Kind
  /// bind: an absolute host path; volume: the volume's name, nil for an anonymous volume;
  /// tmpfs: nil.
  public var source: String?
  /// Where in the container: absolute and clean.
  public var target: String
  public var readOnly: Bool
  /// bind: "rprivate" (Docker's default), "private", "rshared", "shared", "rslave", "slave".
  public var propagation: String?
  /// bind: `bind-nonrecursive` (a "bind" mount instead of "rbind").
  public var nonRecursive: Bool
  /// volume: do not copy the image's content at the target into a new, empty volume.
  public var noCopy: Bool
  /// bind from `-v`: Docker creates a missing source directory (`--mount` refuses instead).
  public var createSource: Bool
  /// tmpfs: the user's options ("size=64m", "mode=1777", "exec", "ro"), which
  /// ``SpecBuilder`` merges over Docker's defaults (noexec, nosuid, nodev, rprivate).
  public var tmpfsOptions: [String]
  /// volume: `volume-driver` (only "local" exists in Berth), `volume-opt` and `volume-label`.
  public var volumeDriver: String?
  public var volumeOptions: [String: String]
  public var volumeLabels: [String: String]
  /// `-v`'s third field as given ("ro,Z"): Docker shows it as the mount's Mode.
  public var mode: String
  /// The flag's value as typed.
  public var raw: String
  public var origin: Origin

  public init(
    type: Kind, source: String? = nil, target: String, readOnly: Bool = false, propagation: String? = nil,
    nonRecursive: Bool = false, noCopy: Bool = false, createSource: Bool = false, tmpfsOptions: [String] = [],
    volumeDriver: String? = nil, volumeOptions: [String: String] = [:], volumeLabels: [String: String] = [:],
    mode: String = "", raw: String, origin: Origin
  ) {
    self.type = type
    self.source = source
    self.target = target
    self.readOnly = readOnly
    self.propagation = propagation
    self.nonRecursive = nonRecursive
    self.noCopy = noCopy
    self.createSource = createSource
    self.tmpfsOptions = tmpfsOptions
    self.volumeDriver = volumeDriver
    self.volumeOptions = volumeOptions
    self.volumeLabels = volumeLabels
    self.mode = mode
    self.raw = raw
    self.origin = origin
  }

  /// True for a volume without a name: the engine makes one with a random name.
  public var isAnonymousVolume: Bool { type == .volume && (source ?? "").isEmpty }
}

/// A mount with its host side found: what ``SpecBuilder`` mounts.
public struct ResolvedMount: Codable, Sendable, Equatable {
  public var request: MountRequest
  /// bind: the source (possibly created by the engine); volume: the volume's data directory
  /// (`volumes/<name>/_data`); tmpfs: nil.
  public var hostPath: String?

  public init(_ request: MountRequest, hostPath: String?) {
    self.request = request
    self.hostPath = hostPath
  }
}

/// "/a/b/" → "/a/b"; "a//b" → "a/b".
func normalizedPath(_ path: String) -> String { Path.clean(path) }

// MARK: Parsing

enum MountParsing {
  static let rwModes: Set<String> = ["rw", "ro"]
  static let labelModes: Set<String> = ["z", "Z"]
  static let propagationModes: Set<String> = ["private", "rprivate", "slave", "rslave", "shared", "rshared"]
  static let consistencyModes: Set<String> = ["consistent", "cached", "delegated"]
  static let defaultPropagation = "rprivate"

  /// Docker's local volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
  static let volumeNameCharacters = "[a-zA-Z0-9][a-zA-Z0-9_.-]"

  /// A `-v` mode: comma-separated, each known, at most one of each kind.
  static func isValidMode(_ mode: String) -> Bool {
    if mode.isEmpty { return true }
    var counts = [0, 0, 0, 0, 0]
    for option in mode.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
      if rwModes.contains(option) { counts[0] += 1 }
      else if labelModes.contains(option) { counts[1] += 1 }
      else if propagationModes.contains(option) { counts[2] += 1 }
      else if option == "nocopy" { counts[3] += 1 }
      else if consistencyModes.contains(option) { counts[4] += 1 }
      else { return false }
    }
    return counts.allSatisfy { $0 <= 1 }
  }

  /// `-v [SOURCE:]TARGET[:MODE]`.
  static func parseVolumeFlag(_ value: String, workingDirectory: String) throws(BerthErrorMessage) -> MountRequest {
    var spec = value
    // The CLI makes a relative source that starts with "." absolute ("./data:/data").
    if let colon = value.firstIndex(of: ":") {
      let host = String(value[..<colon])
      if host.hasPrefix(".") {
        spec = Path.clean(Path.join(workingDirectory, host)) + String(value[colon...])
      }
    }
    let invalidSpec = BerthErrorMessage("invalid volume specification: '\(spec)'")
    let parts = spec.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
    guard !parts[0].isEmpty else { throw invalidSpec }
    var source = "", target = "", mode = ""
    switch parts.count {
    case 1:
      target = parts[0]
    case 2:
      if isValidMode(parts[1]) { throw invalidSpec }
      source = parts[0]
      target = parts[1]
    case 3:
      source = parts[0]
      target = parts[1]
      mode = parts[2]
    default:
      throw invalidSpec
    }
    guard isValidMode(mode) else { throw BerthErrorMessage("invalid mode: \(mode)") }
    let options = Set(mode.split(separator: ",").map(String.init))
    let type: MountRequest.Kind = source.hasPrefix("/") ? .bind : .volume
    let propagation = options.first { propagationModes.contains($0) }
    let typeName = type.rawValue
    func config(_ reason: String) -> BerthErrorMessage {
      BerthErrorMessage("\(invalidSpec.text): invalid mount config for type \"\(typeName)\": \(reason)")
    }
    if let reason = targetProblem(target) { throw config(reason) }
    if type == .bind && options.contains("nocopy") { throw config("field VolumeOptions must not be specified") }
    if type == .volume && propagation != nil { throw config("field BindOptions must not be specified") }
    if type == .volume && !source.isEmpty { try validateVolumeName(source, hint: true) }
    return MountRequest(
      type: type, source: source.isEmpty ? nil : (type == .bind ? Path.clean(source) : source),
      target: Path.clean(target), readOnly: options.contains("ro"),
      propagation: type == .bind ? (propagation ?? defaultPropagation) : nil,
      noCopy: options.contains("nocopy"), createSource: type == .bind, mode: mode, raw: value, origin: .volumeFlag)
  }

  /// What is wrong with a mount target, in Docker's words; nil when nothing is.
  static func targetProblem(_ target: String) -> String? {
    if target.isEmpty { return "field Target must not be empty" }
    if Path.clean(target) == "/" { return "invalid specification: destination can't be '/'" }
    if !target.hasPrefix("/") { return "invalid mount path: '\(target)' mount path must be absolute" }
    return nil
  }

  /// The local volume driver's rule for names.
  static func validateVolumeName(_ name: String, hint: Bool) throws(BerthErrorMessage) {
    func ok(_ byte: UInt8, first: Bool) -> Bool {
      let alnum = (byte >= 48 && byte <= 57) || (byte | 0x20 >= 97 && byte | 0x20 <= 122)
      return first ? alnum : alnum || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
    }
    let bytes = Array(name.utf8)
    if bytes.count == 1 && ok(bytes[0], first: true) {
      throw BerthErrorMessage("create \(name): volume name is too short, names should be at least two alphanumeric characters")
    }
    let valid = bytes.count >= 2 && ok(bytes[0], first: true) && bytes.dropFirst().allSatisfy { ok($0, first: false) }
    if !valid {
      var text = "create \(name): \(FlagSyntax.goQuote(name)) includes invalid characters for a local volume name, "
        + "only \(FlagSyntax.goQuote(volumeNameCharacters)) are allowed"
      if hint { text += ". If you intended to pass a host directory, use absolute path" }
      throw BerthErrorMessage(text)
    }
  }

  /// `--mount type=...,source=...,target=...,...` (CSV, as the Docker CLI reads it).
  static func parseMountFlag(_ value: String, workingDirectory: String) throws(BerthErrorMessage) -> MountRequest {
    func flagError(_ reason: String) -> BerthErrorMessage {
      FlagSyntax.invalidArgument(value, long: "mount", reason)
    }
    let fields: [String]
    do { fields = try csvFields(value) } catch { throw flagError(error.text) }
    var typeName = "volume"
    var source = "", target = ""
    var readOnly = false
    var propagation: String?
    var nonRecursive: Bool?
    var noCopy: Bool?
    var volumeDriver: String?
    var volumeOptions: [String: String]?
    var volumeLabels: [String: String]?
    var tmpfsSize: Int64?
    var tmpfsMode: UInt32?
    var sawBindOption = false, sawVolumeOption = false, sawTmpfsOption = false
    for field in fields {
      guard let equals = field.firstIndex(of: "=") else {
        switch field {
        case "readonly", "ro": readOnly = true
        case "volume-nocopy": noCopy = true; sawVolumeOption = true
        case "bind-nonrecursive": nonRecursive = true; sawBindOption = true
        default: throw flagError("invalid field '\(field)' must be a key=value pair")
        }
        continue
      }
      let key = String(field[..<equals]), val = String(field[field.index(after: equals)...])
      switch key {
      case "type":
        typeName = val.lowercased()
      case "source", "src":
        source = val
        if val == "." || val.hasPrefix("./") { source = Path.clean(Path.join(workingDirectory, val)) }
      case "target", "dst", "destination":
        target = val
      case "readonly", "ro":
        guard let flag = FlagSyntax.goBool(val) else { throw flagError("invalid value for \(key): \(val)") }
        readOnly = flag
      case "consistency":
        break
      case "bind-propagation":
        propagation = val.lowercased()
        sawBindOption = true
      case "bind-nonrecursive":
        guard let flag = FlagSyntax.goBool(val) else { throw flagError("invalid value for \(key): \(val)") }
        nonRecursive = flag
        sawBindOption = true
      case "volume-nocopy":
        guard let flag = FlagSyntax.goBool(val) else { throw flagError("invalid value for volume-nocopy: \(val)") }
        noCopy = flag
        sawVolumeOption = true
      case "volume-label", "volume-opt":
        let parts = val.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        if !parts[0].isEmpty {
          if key == "volume-label" {
            volumeLabels = (volumeLabels ?? [:]).merging([parts[0]: parts.count > 1 ? parts[1] : ""]) { $1 }
          } else {
            volumeOptions = (volumeOptions ?? [:]).merging([parts[0]: parts.count > 1 ? parts[1] : ""]) { $1 }
          }
        } else if key == "volume-label" {
          volumeLabels = volumeLabels ?? [:]
        } else {
          volumeOptions = volumeOptions ?? [:]
        }
        sawVolumeOption = true
      case "volume-driver":
        volumeDriver = val
        sawVolumeOption = true
      case "tmpfs-size":
        do { tmpfsSize = try FlagSyntax.ramInBytes(val) } catch { throw flagError("invalid value for \(key): \(val)") }
        sawTmpfsOption = true
      case "tmpfs-mode":
        guard let mode = UInt32(val, radix: 8) else { throw flagError("invalid value for \(key): \(val)") }
        tmpfsMode = mode
        sawTmpfsOption = true
      default:
        throw flagError("unexpected key '\(key)' in '\(field)'")
      }
    }
    if typeName.isEmpty { throw flagError("type is required") }
    if target.isEmpty { throw flagError("target is required") }
    if sawVolumeOption && typeName != "volume" { throw flagError("cannot mix 'volume-*' options with mount type '\(typeName)'") }
    if sawBindOption && typeName != "bind" { throw flagError("cannot mix 'bind-*' options with mount type '\(typeName)'") }
    if sawTmpfsOption && typeName != "tmpfs" { throw flagError("cannot mix 'tmpfs-*' options with mount type '\(typeName)'") }

    func config(_ reason: String) -> BerthErrorMessage {
      BerthErrorMessage("invalid mount config for type \(FlagSyntax.goQuote(typeName)): \(reason)")
    }
    if let reason = targetProblem(target) { throw config(reason) }
    switch typeName {
    case "bind":
      if source.isEmpty { throw config("field Source must not be empty") }
      if let propagation, !propagationModes.contains(propagation) { throw config("invalid propagation mode: \(propagation)") }
      if !source.hasPrefix("/") { throw config("invalid mount path: '\(source)' mount path must be absolute") }
      if !FS.exists(source) { throw config("bind source path does not exist: \(source)") }
      return MountRequest(
        type: .bind, source: Path.clean(source), target: Path.clean(target), readOnly: readOnly,
        propagation: propagation ?? defaultPropagation, nonRecursive: nonRecursive ?? false, raw: value,
        origin: .mountFlag)
    case "volume":
      if source.isEmpty && readOnly { throw config("must not set ReadOnly mode when using anonymous volumes") }
      if !source.isEmpty { try validateVolumeName(source, hint: false) }
      if let volumeDriver, !volumeDriver.isEmpty, volumeDriver != "local" {
        throw BerthErrorMessage("error looking up volume plugin \(volumeDriver): plugin \(FlagSyntax.goQuote(volumeDriver)) not found")
      }
      return MountRequest(
        type: .volume, source: source.isEmpty ? nil : source, target: Path.clean(target), readOnly: readOnly,
        noCopy: noCopy ?? false, volumeDriver: volumeDriver, volumeOptions: volumeOptions ?? [:],
        volumeLabels: volumeLabels ?? [:], raw: value, origin: .mountFlag)
    case "tmpfs":
      if !source.isEmpty { throw config("field Source must not be specified") }
      var options: [String] = []
      if readOnly { options.append("ro") }
      if let tmpfsMode, tmpfsMode != 0 { options.append("mode=" + String(tmpfsMode, radix: 8)) }
      if let tmpfsSize, tmpfsSize != 0 { options.append("size=" + tmpfsSizeText(tmpfsSize)) }
      return MountRequest(
        type: .tmpfs, target: Path.clean(target), readOnly: readOnly, tmpfsOptions: options, raw: value,
        origin: .mountFlag)
    default:
      throw config("mount type unknown")
    }
  }

  /// Docker's tmpfs size text: the largest of g, m, k that divides the size, else bytes.
  static func tmpfsSizeText(_ size: Int64) -> String {
    for (suffix, divisor) in [("g", Int64(1) << 30), ("m", Int64(1) << 20), ("k", Int64(1) << 10)]
    where size % divisor == 0 {
      return "\(size / divisor)\(suffix)"
    }
    return "\(size)"
  }

  /// `--tmpfs TARGET[:OPTIONS]`.
  static func parseTmpfsFlag(_ value: String) throws(BerthErrorMessage) -> MountRequest {
    let parts = value.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    let target = parts[0]
    if let reason = targetProblem(target), !target.isEmpty { throw BerthErrorMessage(reason) }
    if target.isEmpty { throw BerthErrorMessage("invalid mount path: '' mount path must be absolute") }
    let options = parts.count > 1 ? parts[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init) : []
    let userOptions = options == [""] ? [] : options
    // Checked now, as Docker checks them when it mounts.
    _ = try TmpfsOptions.merge(TmpfsOptions.defaults + userOptions)
    return MountRequest(
      type: .tmpfs, target: Path.clean(target), readOnly: userOptions.contains("ro"), tmpfsOptions: userOptions,
      mode: parts.count > 1 ? parts[1] : "", raw: value, origin: .tmpfsFlag)
  }

  /// Go's encoding/csv reading one record: commas separate fields, double quotes enclose a
  /// field (and `""` inside quotes is a quote).
  static func csvFields(_ line: String) throws(BerthErrorMessage) -> [String] {
    var fields: [String] = []
    var current = ""
    var inQuotes = false, quotedField = false, afterQuote = false
    var column = 0
    for character in line {
      column += 1
      if inQuotes {
        if character == "\"" { inQuotes = false; afterQuote = true } else { current.append(character) }
        continue
      }
      if afterQuote && character == "\"" {
        current.append("\"")
        inQuotes = true
        afterQuote = false
        continue
      }
      switch character {
      case ",":
        fields.append(current)
        current = ""
        quotedField = false
        afterQuote = false
      case "\"":
        if current.isEmpty && !quotedField {
          inQuotes = true
          quotedField = true
        } else {
          throw BerthErrorMessage("parse error on line 1, column \(column): bare \" in non-quoted-field")
        }
      default:
        if afterQuote {
          throw BerthErrorMessage("parse error on line 1, column \(column): extraneous or missing \" in quoted-field")
        }
        current.append(character)
      }
    }
    if inQuotes {
      throw BerthErrorMessage("parse error on line 1, column \(column + 1): extraneous or missing \" in quoted-field")
    }
    fields.append(current)
    return fields
  }
}

/// tmpfs mount options as Docker combines them: its defaults first, the user's after; for each
/// mount flag (and each of size=, mode=, ...) the last one wins.
enum TmpfsOptions {
  /// What Docker gives every tmpfs mount before the user's options.
  static let defaults = ["noexec", "nosuid", "nodev", "rprivate"]

  /// Flag options, by the flag they set or clear; propagation options share one key.
  private static let flagKeys: [String: String] = [
    "ro": "rdonly", "rw": "rdonly", "suid": "nosuid", "nosuid": "nosuid", "dev": "nodev", "nodev": "nodev",
    "exec": "noexec", "noexec": "noexec", "sync": "sync", "async": "sync", "dirsync": "dirsync",
    "remount": "remount", "mand": "mand", "nomand": "mand", "atime": "noatime", "noatime": "noatime",
    "diratime": "nodiratime", "nodiratime": "nodiratime", "bind": "bind", "rbind": "rbind",
    "relatime": "relatime", "norelatime": "relatime", "strictatime": "strictatime",
    "nostrictatime": "strictatime",
    "unbindable": "propagation", "runbindable": "propagation", "private": "propagation",
    "rprivate": "propagation", "shared": "propagation", "rshared": "propagation", "slave": "propagation",
    "rslave": "propagation",
  ]
  private static let dataKeys: Set<String> = ["size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"]

  static func merge(_ options: [String]) throws(BerthErrorMessage) -> [String] {
    var seenFlags = Set<String>(), seenData = Set<String>()
    var result: [String] = []
    for option in options.reversed() where option != "defaults" {
      if let key = flagKeys[option] {
        if seenFlags.insert(key).inserted { result.insert(option, at: 0) }
        continue
      }
      let parts = option.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
      guard parts.count == 2, dataKeys.contains(parts[0]) else {
        throw BerthErrorMessage("invalid tmpfs option [\(parts.map(FlagSyntax.goQuote).joined(separator: " "))]")
      }
      if seenData.insert(parts[0]).inserted { result.insert(option, at: 0) }
    }
    return result
  }
}
