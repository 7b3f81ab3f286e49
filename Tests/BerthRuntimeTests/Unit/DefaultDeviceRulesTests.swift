@testable import BerthRuntime
import BerthOCI
import Testing

@Suite("DefaultDeviceRules")
struct DefaultDeviceRulesTests {
  static let allowAll = LinuxDeviceCgroup(allow: true, type: "a", access: "rwm")

  func spec(rules: [LinuxDeviceCgroup]?, devices: [LinuxDevice]? = nil) -> Spec {
    Spec(linux: Linux(resources: LinuxResources(devices: rules), devices: devices))
  }

  @Test("no rules: nil, so the cgroup keeps its parent's access")
  func noRules() {
    #expect(DefaultDeviceRules.effective(Spec()) == nil)
    #expect(DefaultDeviceRules.effective(Spec(linux: Linux())) == nil)
    #expect(DefaultDeviceRules.effective(spec(rules: nil)) == nil)
    #expect(DefaultDeviceRules.effective(spec(rules: [])) == nil)
    // Devices alone do not make rules.
    #expect(DefaultDeviceRules.effective(spec(rules: nil, devices: [LinuxDevice(path: "/dev/fuse", type: "c", major: 10, minor: 229)])) == nil)
  }

  @Test(
    "a first rule that denies everything is kept first, with no allow-all before it",
    arguments: [
      LinuxDeviceCgroup(allow: false, access: "rwm"),
      LinuxDeviceCgroup(allow: false, type: "a", access: "rwm"),
      LinuxDeviceCgroup(allow: false, type: "a", major: -1, minor: -1, access: "rwm"),
    ])
  func denyAllFirst(_ denyAll: LinuxDeviceCgroup) throws {
    let rules = try #require(DefaultDeviceRules.effective(spec(rules: [denyAll])))
    #expect(rules.first == denyAll)
    #expect(!rules.contains(Self.allowAll))
    #expect(Array(rules.dropFirst()) == DefaultDeviceRules.always)
  }

  @Test(
    "any other first rule gets an allow-all in front (the cgroup starts allowing everything)",
    arguments: [
      LinuxDeviceCgroup(allow: false, type: "c", major: 1, minor: 3, access: "rwm"),
      LinuxDeviceCgroup(allow: false, type: "b", access: "rwm"),
      LinuxDeviceCgroup(allow: true, type: "c", major: 10, minor: 200, access: "rw"),
      LinuxDeviceCgroup(allow: false, type: "a", major: 5, access: "rwm"),
    ])
  func allowAllPrefix(_ first: LinuxDeviceCgroup) throws {
    let second = LinuxDeviceCgroup(allow: false, access: "rwm")
    let rules = try #require(DefaultDeviceRules.effective(spec(rules: [first, second])))
    #expect(rules.first == Self.allowAll)
    #expect(Array(rules[1...2]) == [first, second])
    #expect(Array(rules.dropFirst(3)) == DefaultDeviceRules.always)
  }

  @Test("the defaults allow mknod, the standard devices, ptys and tun")
  func defaults() {
    let always = DefaultDeviceRules.always
    #expect(always.allSatisfy { $0.allow })
    for (type, major, minor) in [("c", 1, 3), ("c", 1, 5), ("c", 1, 7), ("c", 1, 8), ("c", 1, 9), ("c", 5, 0), ("c", 5, 2), ("c", 10, 200)]
      as [(String, Int64, Int64)]
    {
      #expect(always.contains(LinuxDeviceCgroup(allow: true, type: type, major: major, minor: minor, access: "rwm")), "\(type) \(major):\(minor)")
    }
    #expect(always.contains(LinuxDeviceCgroup(allow: true, type: "c", major: 136, minor: nil, access: "rwm")))
    #expect(always.contains(LinuxDeviceCgroup(allow: true, type: "c", access: "m")))
    #expect(always.contains(LinuxDeviceCgroup(allow: true, type: "b", access: "m")))
  }

  @Test("configured devices get no rule of their own: access is what the spec's rules say (as runc)")
  func configuredDevices() throws {
    let denyAll = LinuxDeviceCgroup(allow: false, access: "rwm")
    let readFuse = LinuxDeviceCgroup(allow: true, type: "c", major: 10, minor: 229, access: "r")
    let devices = [
      LinuxDevice(path: "/dev/fuse", type: "c", major: 10, minor: 229),
      LinuxDevice(path: "/dev/sda", type: "b", major: 8, minor: 0),
    ]
    let rules = try #require(DefaultDeviceRules.effective(spec(rules: [denyAll, readFuse], devices: devices)))
    #expect(rules == [denyAll, readFuse] + DefaultDeviceRules.always)
    #expect(!rules.contains { $0.major == 8 && $0.minor == 0 })
  }

  @Test(
    "isDenyAll",
    arguments: [
      (LinuxDeviceCgroup(allow: false), true),
      (LinuxDeviceCgroup(allow: false, type: "a", access: "rwm"), true),
      (LinuxDeviceCgroup(allow: true, type: "a", access: "rwm"), false),
      (LinuxDeviceCgroup(allow: false, type: "c", access: "rwm"), false),
      (LinuxDeviceCgroup(allow: false, type: "a", major: 1, access: "rwm"), false),
      (LinuxDeviceCgroup(allow: false, type: "a", minor: 0, access: "rwm"), false),
    ])
  func isDenyAll(_ rule: LinuxDeviceCgroup, _ expected: Bool) {
    #expect(DefaultDeviceRules.isDenyAll(rule) == expected)
  }
}
