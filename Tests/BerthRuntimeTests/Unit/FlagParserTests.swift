@testable import BerthRuntime
import Testing

/// Go's flag rules, as runc's callers rely on them.
@Suite("FlagParser")
struct FlagParserTests {
  static let specs: [FlagSpec] = [
    .bool("detach", "d"), .value("bundle", "b"), .multi("env", "e"), .value("pid-file"), .bool("tty", "t"),
  ]

  func parse(_ arguments: [String], interspersed: Bool = false) throws -> ParsedFlags {
    try FlagParser.parse(arguments, specs: Self.specs, interspersed: interspersed)
  }

  @Test("one and two dashes are the same", arguments: [["-d"], ["--detach"], ["-detach"], ["--d"]])
  func dashes(_ arguments: [String]) throws {
    let flags = try parse(arguments + ["id"])
    #expect(try flags.bool("detach"))
    #expect(flags.positional == ["id"])
  }

  @Test(
    "values come as --flag value or --flag=value, under the canonical name",
    arguments: [["--bundle", "/b"], ["--bundle=/b"], ["-b", "/b"], ["-b=/b"], ["-bundle", "/b"], ["--b=/b"]])
  func values(_ arguments: [String]) throws {
    let flags = try parse(arguments + ["id", "arg"])
    #expect(flags.value("bundle") == "/b")
    #expect(flags.has("bundle"))
    #expect(flags.value("b") == nil)
    #expect(flags.positional == ["id", "arg"])
  }

  @Test("a value may start with a dash, contain = or be empty")
  func oddValues() throws {
    #expect(try parse(["--bundle", "-weird", "id"]).value("bundle") == "-weird")
    #expect(try parse(["--env=A=1=2"]).value("env") == "A=1=2")
    #expect(try parse(["--bundle=", "id"]).value("bundle") == "")
    #expect(try parse(["--pid-file", "/run/p.pid"]).value("pid-file") == "/run/p.pid")
  }

  @Test(
    "booleans take --flag or --flag=value",
    arguments: [
      ("--detach", true), ("--detach=true", true), ("--detach=1", true), ("--detach=t", true), ("--detach=TRUE", true),
      ("--detach=false", false), ("--detach=0", false), ("--detach=f", false), ("--detach=False", false),
    ])
  func booleans(_ argument: String, _ expected: Bool) throws {
    let flags = try parse([argument])
    #expect(try flags.bool("detach") == expected)
    #expect(flags.has("detach"))
  }

  @Test("an absent boolean is false")
  func absentBoolean() throws {
    let flags = try parse(["id"])
    #expect(try !flags.bool("detach"))
    #expect(!flags.has("detach"))
    #expect(flags.value("bundle") == nil)
    #expect(flags.values("env").isEmpty)
  }

  /// Go: a boolean never takes the next argument as its value.
  @Test("a boolean does not consume the next argument")
  func booleanSeparateValue() throws {
    let flags = try parse(["--detach", "false"])
    #expect(try flags.bool("detach"))
    #expect(flags.positional == ["false"])
  }

  @Test("an invalid boolean value is a usage error naming the flag")
  func invalidBoolean() throws {
    let flags = try parse(["--detach=maybe"])
    let error = #expect(throws: UsageError.self) { try flags.bool("detach") }
    #expect(error?.description == "invalid boolean value \"maybe\" for flag --detach")
  }

  @Test("multi-value flags keep every value in order; the last one wins for value()")
  func multi() throws {
    let flags = try parse(["-e", "A=1", "--env", "B=2", "--env=C=3", "id"])
    #expect(flags.values("env") == ["A=1", "B=2", "C=3"])
    #expect(flags.value("env") == "C=3")
    let repeated = try parse(["--bundle", "/one", "--bundle", "/two"])
    #expect(repeated.value("bundle") == "/two")
  }

  @Test("parsing stops at the first positional argument")
  func stopsAtPositional() throws {
    let flags = try parse(["-d", "id", "--tty", "-x", "--bundle", "/b"])
    #expect(try flags.bool("detach"))
    #expect(try !flags.bool("tty"))
    #expect(!flags.has("bundle"))
    #expect(flags.positional == ["id", "--tty", "-x", "--bundle", "/b"])
  }

  @Test("interspersed: flags after positional arguments are still flags")
  func interspersed() throws {
    let flags = try parse(["id", "--tty", "sh", "-b", "/b"], interspersed: true)
    #expect(try flags.bool("tty"))
    #expect(flags.value("bundle") == "/b")
    #expect(flags.positional == ["id", "sh"])
  }

  @Test("-- ends the flags, even when interspersed", arguments: [false, true])
  func doubleDash(_ interspersed: Bool) throws {
    let flags = try parse(["-d", "--", "--bundle", "-t", "x"], interspersed: interspersed)
    #expect(try flags.bool("detach"))
    #expect(!flags.has("bundle"))
    #expect(try !flags.bool("tty"))
    #expect(flags.positional == ["--bundle", "-t", "x"])
  }

  @Test("a lone dash is positional")
  func loneDash() throws {
    let flags = try parse(["-", "-d"])
    #expect(flags.positional == ["-", "-d"])
  }

  @Test("no arguments")
  func empty() throws {
    let flags = try parse([])
    #expect(flags.positional.isEmpty)
    #expect(!flags.has("detach"))
  }

  @Test(
    "an unknown flag is a usage error in Go's words",
    arguments: [
      (["-x"], "flag provided but not defined: -x"),
      (["--x"], "flag provided but not defined: -x"),
      (["--nope=1", "id"], "flag provided but not defined: -nope"),
      (["-d", "--verbose", "id"], "flag provided but not defined: -verbose"),
    ])
  func unknownFlag(_ arguments: [String], _ message: String) {
    let error = #expect(throws: UsageError.self) { try parse(arguments) }
    #expect(error?.description == message)
  }

  @Test("a value flag at the end is missing its value", arguments: [["--bundle"], ["-d", "-b"], ["--env"]])
  func missingValue(_ arguments: [String]) {
    let error = #expect(throws: UsageError.self) { try parse(arguments) }
    let name = arguments.last.map { String($0.drop { $0 == "-" }) } ?? ""
    #expect(error?.description == "flag needs an argument: -\(name)")
  }
}
