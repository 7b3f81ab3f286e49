import BerthOS
import Testing

@testable import BerthBuild

@Suite("Dockerfile parser: lines, directives, heredocs, stages")
struct DockerfileStructureTests {
  @Test("directives at the top; escape=` changes continuations")
  func directives() throws {
    let file = try Dockerfile.parse("""
      # syntax=docker/dockerfile:1
      #  ESCAPE = `
      # check=skip=all
      FROM busybox
      RUN echo a `
          b \\ c
      COPY C:\\dir\\ /x/
      """)
    #expect(file.directives == ParserDirectives(syntax: "docker/dockerfile:1", escape: "`", check: "skip=all"))
    let steps = try #require(file.stages.first).instructions
    #expect(steps.count == 2)
    #expect(steps[0].kind == .run(RunInstruction(command: .shell("echo a     b \\ c"))))
    #expect(steps[0].line == 5)
    #expect(steps[0].endLine == 6)
    #expect(steps[1].kind == .copy(CopyInstruction(sources: ["C:\\dir\\"], destination: "/x/")))
    #expect(steps[1].line == 7)
  }

  @Test("directives end at the first other line", arguments: [
    "# comment\n# escape=`\nFROM a\n",
    "\n# escape=`\nFROM a\n",
    "FROM a\n# escape=`\n",
    "# unknown=x\n# escape=`\nFROM a\n",
  ])
  func directivesStop(_ text: String) throws {
    let file = try Dockerfile.parse(text)
    #expect(file.escape == "\\")
  }

  @Test("escape is \\ or `; a directive may appear once")
  func directiveErrors() {
    #expect(parseError("# escape=x\nFROM a\n") == "Dockerfile:1: invalid escape token 'x': use ` or \\")
    #expect(parseError("# escape=`\n# escape=\\\nFROM a\n") == "Dockerfile:2: only one escape parser directive can be used")
  }

  @Test("continuations join lines; comments and empty lines inside them are dropped")
  func continuations() throws {
    let file = try Dockerfile.parse("""
      FROM busybox
      # a comment
        # an indented comment
      RUN apk add \\
      # comment inside
          curl \\

          git \\\t
        && echo done
      RUN echo "#not a comment"
      RUN echo last \\
      """)
    let steps = try #require(file.stages.first).instructions
    #expect(steps.count == 3)
    #expect(steps[0].kind == .run(RunInstruction(command: .shell("apk add     curl     git   && echo done"))))
    #expect(steps[0].line == 4)
    #expect(steps[0].endLine == 9)
    #expect(steps[1].kind == .run(RunInstruction(command: .shell("echo \"#not a comment\""))))
    #expect(steps[1].line == 10)
    #expect(steps[2].kind == .run(RunInstruction(command: .shell("echo last"))))
  }

  @Test("CRLF line endings and a byte order mark")
  func crlf() throws {
    let file = try Dockerfile.parse("\u{FEFF}# escape=`\r\nFROM busybox\r\nRUN a `\r\n  b\r\nENV K=V\r\n")
    #expect(file.escape == "`")
    let steps = try #require(file.stages.first).instructions
    #expect(steps.map(\.kind) == [.run(RunInstruction(command: .shell("a   b"))), .env([KeyValuePair("K", "V")])])
    #expect(steps.map(\.line) == [3, 5])
  }

  @Test("RUN heredocs: body, <<- strips tabs, quoted delimiter, several in one line")
  func runHeredocs() throws {
    let file = try Dockerfile.parse("""
      FROM busybox
      RUN <<EOF
      echo "$HOME"
        indented
      EOF
      RUN <<-"END" cat > /x && 3<<'B' cat
      \t\tline one
      \tEND-not
      \tEND
      b $x
      B
      RUN echo after
      """)
    let steps = try #require(file.stages.first).instructions
    #expect(steps.count == 3)
    #expect(steps[0].kind == .run(RunInstruction(command: .shell("<<EOF"), heredocs: [Heredoc(name: "EOF", content: "echo \"$HOME\"\n  indented\n")])))
    #expect(steps[0].line == 2)
    #expect(steps[0].endLine == 5)
    #expect(steps[1].kind == .run(RunInstruction(
      command: .shell("<<-\"END\" cat > /x && 3<<'B' cat"),
      heredocs: [
        Heredoc(name: "END", content: "line one\nEND-not\n", expand: false, stripTabs: true),
        Heredoc(name: "B", content: "b $x\n", expand: false, fileDescriptor: 3),
      ])))
    #expect(steps[1].line == 6)
    #expect(steps[2].line == 12)
    #expect(steps[2].original == "RUN echo after")
  }

  @Test("what RUN executes with heredocs")
  func runScripts() throws {
    let plain = RunInstruction(command: .shell("<<EOF"), heredocs: [Heredoc(name: "EOF", content: "echo a\necho b\n")])
    #expect(plain.script() == .arguments(["/bin/sh", "-c", "echo a\necho b\n"]))
    let shebang = RunInstruction(command: .shell("<<EOF"), heredocs: [Heredoc(name: "EOF", content: "#!/usr/bin/env python3\nprint(1)\n")])
    #expect(shebang.script() == .scriptFile(path: "/dev/pipes/EOF", content: "#!/usr/bin/env python3\nprint(1)\n"))
    let mixed = RunInstruction(command: .shell("cat <<A > /a"), heredocs: [Heredoc(name: "A", content: "x\n")])
    #expect(mixed.script(shell: ["/bin/bash", "-c"]) == .arguments(["/bin/bash", "-c", "cat <<A > /a\nx\nA"]))
    #expect(RunInstruction(command: .exec(["true"])).script() == .arguments(["true"]))
    #expect(RunInstruction(command: .shell("true")).script() == .arguments(["/bin/sh", "-c", "true"]))
  }

  @Test("COPY heredocs become inline files; JSON form has none")
  func copyHeredocs() throws {
    let file = try Dockerfile.parse("""
      FROM busybox
      COPY <<EOF <<"RAW" a.txt /dest/
      hello $NAME
      EOF
      $KEEP
      RAW
      COPY ["<<EOF", "/x"]
      """)
    let steps = try #require(file.stages.first).instructions
    #expect(steps[0].kind == .copy(CopyInstruction(
      sources: ["a.txt"],
      heredocs: [Heredoc(name: "EOF", content: "hello $NAME\n"), Heredoc(name: "RAW", content: "$KEEP\n", expand: false)],
      destination: "/dest/")))
    #expect(steps[1].kind == .copy(CopyInstruction(sources: ["<<EOF"], destination: "/x", isJSONForm: true)))
    #expect(steps[1].line == 7)
  }

  @Test("JSON RUN does not read heredocs; << inside quotes is not a heredoc")
  func notHeredocs() throws {
    let file = try Dockerfile.parse("""
      FROM busybox
      RUN ["sh", "-c", "cat <<EOF"]
      RUN echo "<<EOF" '<<X'
      RUN echo a<<b
      """)
    let steps = try #require(file.stages.first).instructions
    #expect(steps.count == 3)
    #expect(steps.allSatisfy {
      if case .run(let run) = $0.kind { return run.heredocs.isEmpty }
      return false
    })
  }

  @Test("stages: AS names (case-insensitive), global ARGs, references")
  func stages() throws {
    let file = try Dockerfile.parse("""
      ARG BASE=busybox
      ARG TAG
      FROM --platform=$BUILDPLATFORM ${BASE}:${TAG:-latest} AS Build
      RUN make
      from build as test
      RUN make test
      FROM scratch
      COPY --from=build /out /
      """)
    #expect(file.globalArgs.map(\.kind) == [.arg([ArgDeclaration(name: "BASE", defaultValue: "busybox")]), .arg([ArgDeclaration(name: "TAG")])])
    #expect(file.stages.count == 3)
    #expect(file.stages[0].from == FromInstruction(image: "${BASE}:${TAG:-latest}", stageName: "build", platform: "$BUILDPLATFORM"))
    #expect(file.stages[0].fromInstruction.line == 3)
    #expect(file.stages[1].name == "test")
    #expect(file.stages[1].from.image == "build")
    #expect(file.stages[2].name == nil)
    #expect(file.stages[2].from.image == "scratch")
    #expect(file.stages.map(\.index) == [0, 1, 2])
    #expect(file.stages.map(\.instructions.count) == [1, 1, 1])
    #expect(file.stageIndex(forReference: "BUILD") == 0)
    #expect(file.stageIndex(forReference: "test", before: 1) == nil)
    #expect(file.stageIndex(forReference: "1") == 1)
    #expect(file.stageIndex(forReference: "3") == nil)
    #expect(file.stageIndex(forReference: "01") == nil)
    #expect(file.stageIndex(forReference: "busybox") == nil)
    #expect(try file.targetStageIndex(nil) == 2)
    #expect(try file.targetStageIndex("Test") == 1)
    #expect(throws: BerthError.self) { try file.targetStageIndex("nope") }
    #expect(try file.globalArgValues(buildArgs: [:]) == ["BASE": "busybox"])
    #expect(try file.globalArgValues(buildArgs: ["TAG": "1.36", "OTHER": "x"]) == ["BASE": "busybox", "TAG": "1.36"])
    let from = try file.stages[0].fromInstruction.expanded(environment: try file.globalArgValues(buildArgs: ["BUILDPLATFORM": "linux/amd64"]).merging(["BUILDPLATFORM": "linux/amd64"]) { a, _ in a })
    #expect(from.kind == .from(FromInstruction(image: "busybox:latest", stageName: "build", platform: "linux/amd64")))
  }

  @Test("global ARG defaults may use earlier global ARGs")
  func globalArgChain() throws {
    let file = try Dockerfile.parse("ARG A=one\nARG B=${A}-two C=\"$A three\"\nFROM x\n")
    #expect(try file.globalArgValues(buildArgs: [:]) == ["A": "one", "B": "one-two", "C": "one three"])
    #expect(try file.globalArgValues(buildArgs: ["A": "uno"]) == ["A": "uno", "B": "uno-two", "C": "uno three"])
  }

  @Test("an escaped escape character at the end is no continuation; a lone one is")
  func escapedContinuation() throws {
    let file = try Dockerfile.parse("FROM a\nRUN echo a\\\\\nRUN echo b\n\\\nRUN echo c \\ \t\n  d\n")
    let steps = try #require(file.stages.first).instructions
    #expect(steps.map(\.kind) == [
      .run(RunInstruction(command: .shell("echo a\\\\"))),
      .run(RunInstruction(command: .shell("echo b"))),
      .run(RunInstruction(command: .shell("echo c   d"))),
    ])
    // A lone escape line starts the instruction it continues into (as in Docker).
    #expect(steps.map(\.line) == [2, 3, 4])
  }

  @Test("ONBUILD keeps its trigger with heredocs as written")
  func onbuildHeredoc() throws {
    let file = try Dockerfile.parse("FROM a\nONBUILD RUN <<-EOF sh\n\techo $X\n\tEOF\nUSER me\n")
    let steps = try #require(file.stages.first).instructions
    guard case .onbuild(let trigger) = steps[0].kind else {
      Issue.record("not ONBUILD")
      return
    }
    #expect(trigger.heredocs == [Heredoc(name: "EOF", content: "echo $X\n", stripTabs: true)])
    #expect(steps[0].heredocs == trigger.heredocs)
    #expect(trigger.sourceText == "RUN <<-EOF sh\necho $X\nEOF")
    #expect(steps[1].line == 5)
    // What a child build parses back gives the same trigger.
    let again = try Dockerfile.parse("FROM a\n" + trigger.sourceText + "\n")
    #expect(again.stages.first?.instructions.first?.kind == trigger.kind)
  }
}
