import BerthOCI
import BerthOS

/// A validated `linux.resources.devices` rule.
///
/// Semantics (both cgroup versions): a container starts with no device access (default deny),
/// then the rules apply in order; for each access bit (read, write, mknod) the last rule whose
/// type and numbers match the device decides. v1 gets this from the kernel by writing "a" to
/// `devices.deny` and then each rule to `devices.allow` or `devices.deny`; v2 gets it from the
/// eBPF program of ``DeviceFilter``, which walks the rules from last to first. (The v1 kernel
/// differs only for a deny that partially overlaps an earlier, wider allow, such as allow
/// `c *:* m` then deny `c 1:3 m`: v1 removes only an identical exception, so there it keeps
/// the mknod; write device lists as "deny all, then allow what is needed" to avoid the case.)
struct DeviceRule: Equatable, Sendable {
  enum Kind: UInt8, Sendable {
    case all = 97  // "a"
    case block = 98  // "b"
    case char = 99  // "c"
  }

  var allow: Bool
  var kind: Kind
  /// nil: any.
  var major: UInt32?
  var minor: UInt32?
  /// Bits of BPF_DEVCG_ACC_*: mknod 1, read 2, write 4.
  var access: UInt32

  static let mknod: UInt32 = 1
  static let read: UInt32 = 2
  static let write: UInt32 = 4
  static let allAccess: UInt32 = 7

  /// Whether the rule matches every device for every access.
  var matchesEverything: Bool { kind == .all && major == nil && minor == nil && access == DeviceRule.allAccess }

  static func parse(_ rules: [LinuxDeviceCgroup]) throws -> [DeviceRule] {
    try rules.enumerated().map { index, rule in
      let field = "linux.resources.devices[\(index)]"
      let kind: Kind
      switch rule.type ?? "a" {
      case "a", "": kind = .all
      case "b": kind = .block
      case "c": kind = .char
      case let other:
        throw BerthError(.invalidArgument, "\(field).type: \(quoted(other)) is not a device type (a, b or c)")
      }
      func number(_ value: Int64?, _ name: String) throws -> UInt32? {
        guard let value, value != -1 else { return nil }
        guard value >= 0 && value <= Int64(Int32.max) else {
          throw BerthError(.invalidArgument, "\(field).\(name): \(value) is not a device number")
        }
        return UInt32(value)
      }
      var access: UInt32 = 0
      let letters = rule.access ?? ""
      for letter in letters {
        switch letter {
        case "r": access |= read
        case "w": access |= write
        case "m": access |= mknod
        default:
          throw BerthError(.invalidArgument, "\(field).access: \(quoted(letters)) is not made of r, w and m")
        }
      }
      if letters.isEmpty { access = allAccess }
      return DeviceRule(allow: rule.allow, kind: kind, major: try number(rule.major, "major"),
                        minor: try number(rule.minor, "minor"), access: access)
    }
  }

  /// The lines for v1's devices.allow / devices.deny, with the index of the spec rule they
  /// come from. "a" alone means every device to the kernel (it ignores numbers and access
  /// after it), so a rule of type "a" that is narrower becomes a "b" and a "c" line.
  static func v1Lines(_ rules: [DeviceRule]) -> [(index: Int, line: (allow: Bool, text: String))] {
    var result: [(index: Int, line: (allow: Bool, text: String))] = []
    for (index, rule) in rules.enumerated() {
      if rule.matchesEverything {
        result.append((index, (rule.allow, "a")))
        continue
      }
      let numbers = "\(rule.major.map(String.init) ?? "*"):\(rule.minor.map(String.init) ?? "*")"
      var letters = ""
      if rule.access & read != 0 { letters += "r" }
      if rule.access & write != 0 { letters += "w" }
      if rule.access & mknod != 0 { letters += "m" }
      let types: [String] = switch rule.kind {
      case .all: ["b", "c"]
      case .block: ["b"]
      case .char: ["c"]
      }
      for type in types { result.append((index, (rule.allow, "\(type) \(numbers) \(letters)"))) }
    }
    return result
  }
}
