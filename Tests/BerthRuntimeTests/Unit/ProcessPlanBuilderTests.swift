@testable import BerthRuntime
import BerthOCI
import BerthOS
import Testing

@Suite("ProcessPlanBuilder")
struct ProcessPlanBuilderTests {
  func build(_ process: BerthOCI.Process, field: String = "process") throws -> ProcessPlan {
    try ProcessPlanBuilder(field: field, process: process).build(personality: nil, preserveFDs: 0)
  }

  @Test("umask defaults to 0o022; a given umask is kept", arguments: [(UInt32?.none, UInt32(0o022)), (0o077, 0o077), (0, 0), (0o777, 0o777)])
  func umask(_ given: UInt32?, _ expected: UInt32) throws {
    let plan = try build(BerthOCI.Process(user: User(umask: given), args: ["true"]))
    #expect(plan.umask == expected)
  }

  @Test("env entries without = are refused, naming the entry and its index")
  func envWithoutEquals() {
    let error = #expect(throws: BerthError.self) {
      try build(BerthOCI.Process(args: ["true"], env: ["A=1", "B=", "NOVALUE"]))
    }
    #expect(error?.code == .invalidArgument)
    #expect(error?.message.hasPrefix("process.env[2]: ") == true, "\(error?.message ?? "-")")
    #expect(error?.message.contains("\"NOVALUE\"") == true)
  }

  @Test("the field prefix is the one given (exec's process.json)")
  func fieldPrefix() {
    let error = #expect(throws: BerthError.self) {
      try build(BerthOCI.Process(args: ["true"], cwd: "relative"), field: "--process")
    }
    #expect(error?.message.hasPrefix("--process.cwd: ") == true, "\(error?.message ?? "-")")
  }

  @Test("a valid process: env kept (empty values too), cwd cleaned, credentials and sets")
  func valid() throws {
    let plan = try build(
      BerthOCI.Process(
        terminal: true, consoleSize: ConsoleSize(height: 24, width: 80),
        user: User(uid: 1000, gid: 100, additionalGids: [5, 6]), args: ["sh", "-c", "x"], env: ["A=1", "B=", "C=x=y"],
        cwd: "/home//user/", capabilities: LinuxCapabilities(bounding: ["CAP_CHOWN", "CAP_KILL"], ambient: nil),
        rlimits: [POSIXRlimit(type: "RLIMIT_CORE", hard: 0, soft: 0), POSIXRlimit(type: "RLIMIT_NOFILE", hard: 100, soft: 50)],
        noNewPrivileges: true, oomScoreAdj: -1000))
    #expect(plan.env == ["A=1", "B=", "C=x=y"])
    #expect(plan.cwd == "/home/user")
    #expect((plan.uid, plan.gid) == (1000, 100))
    #expect(plan.additionalGids == [5, 6])
    #expect(plan.capabilities?.bounding == 0b10_0001)
    #expect(plan.capabilities?.ambient == 0)
    #expect(plan.rlimits.map(\.resource) == [4, 7])
    #expect(plan.rlimits.map(\.soft) == [0, 50])
    #expect(plan.noNewPrivileges)
    #expect(plan.terminal)
    #expect(plan.consoleSize == ConsoleSize(height: 24, width: 80))
    #expect(plan.oomScoreAdj == -1000)
  }

  @Test("no capabilities object means no change to the sets")
  func noCapabilities() throws {
    #expect(try build(BerthOCI.Process(args: ["true"])).capabilities == nil)
  }

  @Test("missing env means an empty environment")
  func noEnv() throws {
    #expect(try build(BerthOCI.Process(args: ["true"])).env == [])
  }
}
