import BerthOS
import Testing

@testable import BerthBuild

@Suite("Dockerfile parser: errors name the line")
struct DockerfileErrorTests {
  static let cases: [(String, String)] = [
    ("FROM a\nRUN true\n\n\nRUNN x\n", "Dockerfile:5: unknown instruction: RUNN (did you mean RUN?)"),
    ("FORM a\n", "Dockerfile:1: unknown instruction: FORM (did you mean FROM?)"),
    ("FROM a\nentrypiont x\n", "Dockerfile:2: unknown instruction: entrypiont (did you mean ENTRYPOINT?)"),
    ("FROM a\nCOPYY a b\n", "Dockerfile:2: unknown instruction: COPYY (did you mean COPY?)"),
    ("FROM a\nfoo bar\n", "Dockerfile:2: unknown instruction: foo"),
    ("FROM a\n\nFROM a b\n", "Dockerfile:3: FROM requires either one or three arguments"),
    ("FROM\n", "Dockerfile:1: FROM requires either one or three arguments"),
    ("FROM a AS b c\n", "Dockerfile:1: FROM requires either one or three arguments"),
    ("FROM a IS b\n", "Dockerfile:1: FROM requires either one or three arguments"),
    ("FROM a AS 1st\n", "Dockerfile:1: invalid name for build stage: \"1st\", name can't start with a number or contain symbols"),
    ("FROM a AS x\nFROM b AS X\n", "Dockerfile:2: duplicate stage name \"x\": each AS name must be unique"),
    ("", "Dockerfile: the file has no instructions: a Dockerfile starts with FROM"),
    ("# just a comment\n\n", "Dockerfile: the file has no instructions: a Dockerfile starts with FROM"),
    ("ARG A=1\n", "Dockerfile: no FROM instruction: a Dockerfile needs at least one build stage"),
    ("ARG A\nRUN true\nFROM a\n", "Dockerfile:2: RUN before the first FROM: only ARG may come before FROM"),
    ("FROM a\nENV\n", "Dockerfile:2: ENV requires at least one argument"),
    ("FROM a\nENV K\n", "Dockerfile:2: ENV must have two arguments: ENV K=VALUE or ENV K VALUE"),
    ("FROM a\nENV a=1 b\n", "Dockerfile:2: syntax error - can't find = in \"b\". Must be of the form: name=value"),
    ("FROM a\nENV =1\n", "Dockerfile:2: ENV names can not be blank"),
    ("FROM a\nLABEL\n", "Dockerfile:2: LABEL requires at least one argument"),
    ("FROM a\nARG\n", "Dockerfile:2: ARG requires at least one argument"),
    ("FROM a\nRUN\n", "Dockerfile:2: RUN requires at least one argument"),
    ("FROM a\nCMD\n", "Dockerfile:2: CMD requires at least one argument"),
    ("FROM a\nEXPOSE\n", "Dockerfile:2: EXPOSE requires at least one argument"),
    ("FROM a\nVOLUME\n", "Dockerfile:2: VOLUME requires at least one argument"),
    ("FROM a\nVOLUME [\"/a\", \"\"]\n", "Dockerfile:2: VOLUME specified can not be an empty string"),
    ("FROM a\nWORKDIR\n", "Dockerfile:2: WORKDIR requires exactly one argument"),
    ("FROM a\nUSER\n", "Dockerfile:2: USER requires exactly one argument"),
    ("FROM a\nCOPY onlyone\n", "Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined."),
    ("FROM a\nADD\n", "Dockerfile:2: ADD requires at least two arguments, but none was provided. Destination could not be determined."),
    ("FROM a\nCOPY a <<EOF\nx\nEOF\n", "Dockerfile:2: COPY cannot accept a heredoc as a destination"),
    ("FROM a\nSHELL /bin/sh -c\n", "Dockerfile:2: SHELL requires the arguments to be in JSON form, e.g. SHELL [\"/bin/sh\", \"-c\"]"),
    ("FROM a\nSHELL []\n", "Dockerfile:2: SHELL requires at least one argument"),
    ("FROM a\nRUN <<EOF\necho\n", "Dockerfile:2: unterminated heredoc EOF: add a line with only EOF after its content"),
    ("FROM a\nCOPY <<A <<B /x\na\nA\nb\n", "Dockerfile:2: unterminated heredoc B: add a line with only B after its content"),
    ("FROM a\nRUN --from=b true\n", "Dockerfile:2: unknown flag: --from (RUN accepts --mount, --network, --security)"),
    ("FROM a\nCOPY --foo=1 a b\n", "Dockerfile:2: unknown flag: --foo (COPY accepts --chmod, --chown, --exclude, --from, --link, --parents)"),
    ("FROM a\nADD --from=x a b\n", "Dockerfile:2: unknown flag: --from (ADD accepts --checksum, --chmod, --chown, --exclude, --keep-git-dir, --link)"),
    ("FROM a\nENV --x=1 A=b\n", "Dockerfile:2: unknown flag: --x (ENV takes no flags)"),
    ("FROM --plat=x a\n", "Dockerfile:1: unknown flag: --plat (FROM accepts --platform)"),
    ("FROM a\nCOPY --from a b\n", "Dockerfile:2: missing a value on flag: --from (write --from=VALUE)"),
    ("FROM a\nCOPY --from=x --from=y a b\n", "Dockerfile:2: duplicate flag specified: --from"),
    ("FROM a\nCOPY --link=maybe a b\n", "Dockerfile:2: expecting boolean value for flag --link, not: maybe"),
    ("FROM a\nHEALTHCHECK\n", "Dockerfile:2: HEALTHCHECK requires an argument: CMD command or NONE"),
    ("FROM a\nHEALTHCHECK NONE x\n", "Dockerfile:2: HEALTHCHECK NONE takes no arguments"),
    ("FROM a\nHEALTHCHECK --retries=2 NONE\n", "Dockerfile:2: HEALTHCHECK NONE takes no arguments"),
    ("FROM a\nHEALTHCHECK RUN x\n", "Dockerfile:2: unknown type \"RUN\" in HEALTHCHECK (try CMD)"),
    ("FROM a\nHEALTHCHECK CMD\n", "Dockerfile:2: HEALTHCHECK CMD requires a command"),
    ("FROM a\nHEALTHCHECK --interval=5 CMD x\n", "Dockerfile:2: --interval: invalid duration \"5\" (write e.g. 30s, 1m30s, 500ms)"),
    ("FROM a\nHEALTHCHECK --timeout=10us CMD x\n", "Dockerfile:2: --timeout cannot be less than 1ms: 10us"),
    ("FROM a\nHEALTHCHECK --interval=-1s CMD x\n", "Dockerfile:2: --interval cannot be negative: -1s"),
    ("FROM a\nHEALTHCHECK --retries=-1 CMD x\n", "Dockerfile:2: --retries must be a whole number, 0 or more: -1"),
    ("FROM a\nONBUILD ONBUILD RUN x\n", "Dockerfile:2: chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("FROM a\nONBUILD FROM b\n", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"),
    ("FROM a\nONBUILD MAINTAINER me\n", "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger"),
    ("FROM a\nONBUILD\n", "Dockerfile:2: ONBUILD requires at least one argument"),
    ("FROM a\nONBUILD FOO x\n", "Dockerfile:2: unknown instruction: FOO"),
    ("FROM a\nRUN [\"echo\", 1]\n", "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only"),
    ("FROM a\nCOPY [\"a\", null, \"b\"]\n", "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only"),
    ("FROM a\nVOLUME [[\"a\"]]\n", "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only"),
    ("FROM a\nCOPY --chown=\"x a b\n", "Dockerfile:2: unterminated quote in flag --chown=x a b"),
  ]

  @Test("syntax errors", arguments: cases)
  func syntaxError(_ text: String, _ message: String) {
    #expect(parseError(text) == message)
  }

  @Test("the file name given appears in messages")
  func fileName() {
    do {
      _ = try Dockerfile.parse("FROM a\nBAD x\n", fileName: "build/Containerfile")
      Issue.record("no error")
    } catch {
      #expect("\(error)" == "build/Containerfile:2: unknown instruction: BAD")
    }
  }

  @Test("a line after a heredoc keeps its real line number in errors")
  func lineAfterHeredoc() {
    #expect(parseError("FROM a\nRUN <<EOF\n1\n2\nEOF\nNOPE\n") == "Dockerfile:6: unknown instruction: NOPE")
  }
}
