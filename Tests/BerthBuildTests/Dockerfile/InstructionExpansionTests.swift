import BerthOS
import Testing

@testable import BerthBuild

@Suite("Instruction expansion: where Docker substitutes variables")
struct InstructionExpansionTests {
  static let environment = ["FOO": "/bar", "USER": "app", "PORT": "8080", "PORTS": "80 443/udp", "abc": "hello", "SIG": "SIGQUIT", "N": "x"]

  static let cases: [(String, InstructionKind)] = [
    // Docker's documented example.
    ("WORKDIR ${FOO}", .workdir("/bar")),
    ("ADD . $FOO", .add(CopyInstruction(sources: ["."], destination: "/bar"))),
    (#"COPY \$FOO /quux"#, .copy(CopyInstruction(sources: ["$FOO"], destination: "/quux"))),
    // ENV sees the environment from before the instruction: def gets the old abc.
    ("ENV abc=bye def=$abc", .env([KeyValuePair("abc", "bye"), KeyValuePair("def", "hello")])),
    (#"ENV ${N}y="a $USER" z=\"q\""#, .env([KeyValuePair("xy", "a app"), KeyValuePair("z", "\"q\"")])),
    ("ENV OLD $FOO and 'single $FOO'", .env([KeyValuePair("OLD", "/bar and single $FOO")])),
    (#"LABEL "app.$N"="v $PORT""#, .label([KeyValuePair("app.x", "v 8080")])),
    ("ARG A=$FOO/a B", .arg([ArgDeclaration(name: "A", defaultValue: "/bar/a"), ArgDeclaration(name: "B")])),
    ("ARG X=1 Y=${X}2 N=$N$N", .arg([ArgDeclaration(name: "X", defaultValue: "1"), ArgDeclaration(name: "Y", defaultValue: "12"), ArgDeclaration(name: "N", defaultValue: "xx")])),
    ("EXPOSE $PORT $PORTS", .expose(["8080", "80", "443/udp"])),
    (#"VOLUME ["$FOO/data"]"#, .volume(["/bar/data"])),
    ("USER $USER:${GROUP:-staff}", .user("app:staff")),
    ("STOPSIGNAL $SIG", .stopSignal("SIGQUIT")),
    (
      "COPY --chown=$USER --from=${N}stage --chmod=7${N:+55} a$N ${FOO}/",
      .copy(CopyInstruction(sources: ["ax"], destination: "/bar/", from: "xstage", chown: "app", chmod: "755"))
    ),
    (#"COPY ["$FOO a", "/d"]"#, .copy(CopyInstruction(sources: ["/bar a"], destination: "/d", isJSONForm: true))),
    // Not expanded: the shell does it, or Docker keeps the text.
    ("RUN echo $FOO", .run(RunInstruction(command: .shell("echo $FOO")))),
    (#"RUN ["echo", "$FOO"]"#, .run(RunInstruction(command: .exec(["echo", "$FOO"])))),
    ("CMD echo $FOO", .cmd(.shell("echo $FOO"))),
    ("ENTRYPOINT $FOO", .entrypoint(.shell("$FOO"))),
    ("HEALTHCHECK CMD test -d $FOO", .healthcheck(.command(.shell("test -d $FOO"), HealthcheckOptions()))),
    (#"SHELL ["$FOO", "-c"]"#, .shell(["$FOO", "-c"])),
    ("MAINTAINER $USER", .maintainer("$USER")),
    (
      "RUN --mount=type=cache,target=$FOO/cache echo $FOO",
      .run(RunInstruction(command: .shell("echo $FOO"), mounts: [RunMount(type: "cache", options: [KeyValuePair("target", "/bar/cache")])]))
    ),
  ]

  @Test("expanded(environment:)", arguments: cases)
  func expanded(_ text: String, _ expected: InstructionKind) throws {
    let step = try parseStep(text).expanded(environment: Self.environment)
    #expect(step.kind == expected)
    #expect(step.original == text)
  }

  @Test("ONBUILD triggers wait for the build that runs them")
  func onbuild() throws {
    let step = try parseStep("ONBUILD WORKDIR $FOO")
    #expect(try step.expanded(environment: Self.environment) == step)
  }

  @Test("COPY heredoc bodies expand unless the delimiter is quoted")
  func copyHeredoc() throws {
    let file = try Dockerfile.parse("FROM a\nCOPY <<EOF <<'RAW' /d/\nhi \"$USER\"\nEOF\nhi $USER\nRAW\n")
    let step = try #require(file.stages.first?.instructions.first).expanded(environment: Self.environment)
    guard case .copy(let copy) = step.kind else {
      Issue.record("not COPY")
      return
    }
    #expect(copy.heredocs.map(\.content) == ["hi \"app\"\n", "hi $USER\n"])
  }

  @Test("expansion errors name the file, line and instruction")
  func errors() throws {
    let file = try Dockerfile.parse("FROM a\n\nWORKDIR ${FOO\nVOLUME $EMPTY\n", fileName: "Containerfile")
    let steps = try #require(file.stages.first).instructions
    #expect(throws: BerthError(.invalidArgument, "Containerfile:3: WORKDIR: failed to process \"${FOO\": syntax error: missing '}'")) {
      try steps[0].expanded(environment: [:], fileName: "Containerfile")
    }
    #expect(throws: BerthError(.invalidArgument, "Dockerfile:4: VOLUME: VOLUME specified can not be an empty string")) {
      try steps[1].expanded(environment: [:])
    }
  }

  @Test("the escape directive applies to expansion")
  func escapeDirective() throws {
    let step = try parseStep("WORKDIR C:\\app\\`$FOO", escape: "`")
    #expect(try step.expanded(environment: Self.environment, escape: "`").kind == .workdir("C:\\app\\$FOO"))
  }

  @Test("ARG values: build arg as given, else default in turn, else the global")
  func argValues() throws {
    let file = try Dockerfile.parse("ARG G=global V=gv\nFROM a\nARG G V A=$G-a B=${A}b C\n")
    let globals = try file.globalArgValues(buildArgs: ["V": "$given"])
    #expect(globals == ["G": "global", "V": "$given"])
    let step = try #require(file.stages.first?.instructions.first)
    guard case .arg(let declarations) = step.kind else {
      Issue.record("not ARG")
      return
    }
    let values = try file.argValues(declarations, environment: ["PATH": "/bin"], buildArgs: ["V": "$given", "B": "cli"], globalValues: globals, line: step.line)
    #expect(values.map(\.name) == ["G", "V", "A", "B", "C"])
    #expect(values.map(\.value) == ["global", "$given", "global-a", "cli", nil])
    #expect(throws: BerthError(.invalidArgument, "Dockerfile:3: ARG: failed to process \"${X\": syntax error: missing '}'")) {
      try file.argValues([ArgDeclaration(name: "X", defaultValue: "${X")], environment: [:], buildArgs: [:], globalValues: [:], line: 3)
    }
  }
}
