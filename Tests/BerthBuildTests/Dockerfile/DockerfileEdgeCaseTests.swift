import BerthOS
import Testing

@testable import BerthBuild

@Suite("Dockerfile parser: edge cases")
struct DockerfileEdgeCaseTests {
  @Test("backtick escape: ENV words, continuations, and Windows paths stay literal")
  func backtickEscape() throws {
    let file = try Dockerfile.parse("# escape=`\nFROM a\nENV a=b` c d=\"x`\"y\"\nRUN dir C:\\ `\n  && echo\n")
    let steps = try #require(file.stages.first).instructions
    #expect(steps[0].kind == .env([KeyValuePair("a", "b` c"), KeyValuePair("d", "\"x`\"y\"")]))
    let env = try steps[0].expanded(environment: [:], escape: file.escape)
    #expect(env.kind == .env([KeyValuePair("a", "b c"), KeyValuePair("d", "x\"y")]))
    #expect(steps[1].kind == .run(RunInstruction(command: .shell("dir C:\\   && echo"))))
  }

  @Test("the keyword ends at whitespace: tabs work, JSON glued to it does not")
  func keywordBoundaries() throws {
    #expect(try parseStep("RUN\techo hi").kind == .run(RunInstruction(command: .shell("echo hi"))))
    #expect(try parseStep("CMD   [\"a\"]   ").kind == .cmd(.exec(["a"])))
    #expect(parseError("FROM a\nCMD[\"a\"]\n") == "Dockerfile:2: unknown instruction: CMD[\"a\"]")
  }

  @Test("heredocs: CRLF bodies, ADD, unterminated at the end of the file")
  func heredocEdges() throws {
    let crlf = try Dockerfile.parse("FROM a\r\nRUN <<EOF\r\necho one\r\nEOF\r\nUSER x\r\n")
    let steps = try #require(crlf.stages.first).instructions
    #expect(steps[0].heredocs == [Heredoc(name: "EOF", content: "echo one\n")])
    #expect(steps[1].line == 5)
    let add = try parseStep("ADD <<EOF /etc/motd\nhello\nEOF")
    #expect(add.kind == .add(CopyInstruction(sources: [], heredocs: [Heredoc(name: "EOF", content: "hello\n")], destination: "/etc/motd")))
    #expect(parseError("FROM a\nRUN cat <<EOF\n") == "Dockerfile:2: unterminated heredoc EOF: add a line with only EOF after its content")
    // A terminator with trailing blanks is not the terminator (Docker compares the whole line).
    #expect(parseError("FROM a\nRUN <<EOF\nx\nEOF \n") == "Dockerfile:2: unterminated heredoc EOF: add a line with only EOF after its content")
    // Continuation characters inside a body are text.
    let body = try parseStep("RUN <<EOF\nline \\\nnext\nEOF")
    #expect(body.heredocs.first?.content == "line \\\nnext\n")
  }

  @Test("files without instructions", arguments: ["# syntax=docker/dockerfile:1\n", "   \n\t\n", "\u{FEFF}", "\\\n"])
  func noInstructions(_ text: String) {
    #expect(parseError(text) == "Dockerfile: the file has no instructions: a Dockerfile starts with FROM")
  }

  @Test("ENV and ARG values with = and quotes; unterminated quotes fail at expansion")
  func values() throws {
    #expect(try parseStep(#"ARG A="x=y" B='1 2'"#).expanded(environment: [:]).kind == .arg([ArgDeclaration(name: "A", defaultValue: "x=y"), ArgDeclaration(name: "B", defaultValue: "1 2")]))
    #expect(try parseStep("LABEL a= b=\"\"").expanded(environment: [:]).kind == .label([KeyValuePair("a", ""), KeyValuePair("b", "")]))
    let open = try parseStep(#"ENV A="x"#)
    #expect(open.kind == .env([KeyValuePair("A", #""x"#)]))
    #expect(throws: BerthError(.invalidArgument, #"Dockerfile:2: ENV: failed to process ""x": unexpected end of statement while looking for matching double-quote"#)) {
      try open.expanded(environment: [:])
    }
  }

  @Test("variable names: letters of any script, digits and _")
  func unicodeNames() throws {
    let expander = WordExpander()
    #expect(try expander.expand("$ÉTÉ-$日本_1.", environment: ["ÉTÉ": "summer", "日本_1": "jp"]) == "summer-jp.")
  }

  @Test("COPY --from by index and FROM an earlier stage by name")
  func stageReferences() throws {
    let file = try Dockerfile.parse("FROM a AS one\nFROM one\nCOPY --from=0 /x /y\n")
    #expect(file.stageIndex(forReference: file.stages[1].from.image, before: 1) == 0)
    guard case .copy(let copy) = file.stages[1].instructions[0].kind else {
      Issue.record("not COPY")
      return
    }
    #expect(file.stageIndex(forReference: try #require(copy.from), before: 1) == 0)
  }

  @Test("a long file parses quickly")
  func largeFile() throws {
    var text = "FROM busybox\n"
    for index in 0..<5000 {
      text += "RUN echo \(index) \\\n  && echo more\nENV K\(index)=\"v \(index)\"\n"
    }
    let clock = ContinuousClock()
    let start = clock.now
    let file = try Dockerfile.parse(text)
    let elapsed = clock.now - start
    #expect(file.stages[0].instructions.count == 10_000)
    #expect(file.stages[0].instructions.last?.line == 15_001)
    #expect(elapsed < .seconds(5), "parsing 10,000 instructions took \(elapsed)")
  }
}
