import BerthOS
import Testing

@testable import BerthBuild

@Suite("Dockerfile parser: instructions")
struct DockerfileInstructionTests {
  static let cases: [(String, InstructionKind)] = [
    // RUN, CMD, ENTRYPOINT: JSON form, shell form, invalid JSON falls back to the shell form.
    ("RUN echo hi", .run(RunInstruction(command: .shell("echo hi")))),
    ("run  echo   hi  ", .run(RunInstruction(command: .shell("echo   hi")))),
    (#"RUN ["echo", "a b"]"#, .run(RunInstruction(command: .exec(["echo", "a b"])))),
    (#"RUN [ "echo","x" ]"#, .run(RunInstruction(command: .exec(["echo", "x"])))),
    ("RUN ['echo', 'x']", .run(RunInstruction(command: .shell("['echo', 'x']")))),
    (#"CMD ["a", "b"] trailing text"#, .cmd(.exec(["a", "b"]))),
    (#"RUN [ "a\"]", "[x]" ]"#, .run(RunInstruction(command: .exec(["a\"]", "[x]"])))),
    ("RUN [not json", .run(RunInstruction(command: .shell("[not json")))),
    (#"RUN ["unterminated"#, .run(RunInstruction(command: .shell(#"["unterminated"#)))),
    (#"CMD ["sh", "-c", "echo \"q\" \u00e9"]"#, .cmd(.exec(["sh", "-c", "echo \"q\" é"]))),
    ("CMD []", .cmd(.exec([]))),
    ("CMD echo $HOME", .cmd(.shell("echo $HOME"))),
    (#"ENTRYPOINT ["/bin/app", "--flag"]"#, .entrypoint(.exec(["/bin/app", "--flag"]))),
    ("ENTRYPOINT exec top -b", .entrypoint(.shell("exec top -b"))),
    // RUN flags.
    (
      "RUN --mount=type=cache,target=/root/.cache,sharing=locked --network=none make",
      .run(RunInstruction(
        command: .shell("make"),
        mounts: [RunMount(type: "cache", options: [KeyValuePair("target", "/root/.cache"), KeyValuePair("sharing", "locked")])],
        network: "none"))
    ),
    (
      "RUN --mount=target=/src,readonly --mount=type=tmpfs,target=/tmp --security=sandbox ls",
      .run(RunInstruction(
        command: .shell("ls"),
        mounts: [
          RunMount(type: "bind", options: [KeyValuePair("target", "/src"), KeyValuePair("readonly", "")]),
          RunMount(type: "tmpfs", options: [KeyValuePair("target", "/tmp")]),
        ],
        security: "sandbox"))
    ),
    ("RUN -- --not-a-flag", .run(RunInstruction(command: .shell("--not-a-flag")))),
    // ENV and LABEL: both syntaxes; words keep their quotes until expansion.
    ("ENV A B", .env([KeyValuePair("A", "B")])),
    ("ENV myName John Doe", .env([KeyValuePair("myName", "John Doe")])),
    (#"ENV a=b c="d e" f=g\ h"#, .env([KeyValuePair("a", "b"), KeyValuePair("c", #""d e""#), KeyValuePair("f", #"g\ h"#)])),
    ("ENV EMPTY=", .env([KeyValuePair("EMPTY", "")])),
    ("ENV x=a=b", .env([KeyValuePair("x", "a=b")])),
    ("ENV s='single $q'", .env([KeyValuePair("s", "'single $q'")])),
    (#"LABEL "com.example.vendor"="ACME Inc" version=1.0"#, .label([KeyValuePair(#""com.example.vendor""#, #""ACME Inc""#), KeyValuePair("version", "1.0")])),
    ("LABEL description This text illustrates", .label([KeyValuePair("description", "This text illustrates")])),
    // ARG.
    ("ARG VERSION", .arg([ArgDeclaration(name: "VERSION")])),
    ("ARG VERSION=1.2 USER=root EMPTY=", .arg([ArgDeclaration(name: "VERSION", defaultValue: "1.2"), ArgDeclaration(name: "USER", defaultValue: "root"), ArgDeclaration(name: "EMPTY", defaultValue: "")])),
    (#"ARG MSG="hello world""#, .arg([ArgDeclaration(name: "MSG", defaultValue: #""hello world""#)])),
    // EXPOSE, VOLUME.
    ("EXPOSE 80 443/tcp 53/udp", .expose(["80", "443/tcp", "53/udp"])),
    ("EXPOSE $PORT", .expose(["$PORT"])),
    (#"VOLUME ["/data", "/var/log"]"#, .volume(["/data", "/var/log"])),
    ("VOLUME /data /var/log", .volume(["/data", "/var/log"])),
    // Single-value instructions take the rest of the line.
    ("WORKDIR /my dir", .workdir("/my dir")),
    ("WORKDIR $HOME/app", .workdir("$HOME/app")),
    ("USER app:staff", .user("app:staff")),
    ("STOPSIGNAL SIGTERM", .stopSignal("SIGTERM")),
    ("MAINTAINER Jane <jane@example.com>", .maintainer("Jane <jane@example.com>")),
    // SHELL.
    (#"SHELL ["/bin/bash", "-o", "pipefail", "-c"]"#, .shell(["/bin/bash", "-o", "pipefail", "-c"])),
    // COPY and ADD.
    ("COPY a b /dst/", .copy(CopyInstruction(sources: ["a", "b"], destination: "/dst/"))),
    (#"COPY ["a b", "/dst/"]"#, .copy(CopyInstruction(sources: ["a b"], destination: "/dst/", isJSONForm: true))),
    (
      "COPY --from=build --chown=1000:1000 --chmod=0755 --link /out/app /usr/bin/",
      .copy(CopyInstruction(sources: ["/out/app"], destination: "/usr/bin/", from: "build", chown: "1000:1000", chmod: "0755", link: true))
    ),
    ("COPY --link=false --parents --exclude=*.tmp --exclude=x ./src /app", .copy(CopyInstruction(sources: ["./src"], destination: "/app", parents: true, excludes: ["*.tmp", "x"]))),
    (#"COPY --chown="app user" f /f"#, .copy(CopyInstruction(sources: ["f"], destination: "/f", chown: "app user"))),
    ("ADD site.tar.gz /srv/", .add(CopyInstruction(sources: ["site.tar.gz"], destination: "/srv/"))),
    ("ADD --keep-git-dir --checksum=sha256:abc https://example.com/x /x", .add(CopyInstruction(sources: ["https://example.com/x"], destination: "/x", keepGitDir: true, checksum: "sha256:abc"))),
    // HEALTHCHECK.
    ("HEALTHCHECK NONE", .healthcheck(.none)),
    ("healthcheck none", .healthcheck(.none)),
    (
      "HEALTHCHECK --interval=5m --timeout=3s --start-period=1m30s --start-interval=500ms --retries=3 CMD curl -f http://localhost/ || exit 1",
      .healthcheck(.command(
        .shell("curl -f http://localhost/ || exit 1"),
        HealthcheckOptions(interval: 300_000_000_000, timeout: 3_000_000_000, startPeriod: 90_000_000_000, startInterval: 500_000_000, retries: 3)))
    ),
    (#"HEALTHCHECK CMD ["/bin/check", "-q"]"#, .healthcheck(.command(.exec(["/bin/check", "-q"]), HealthcheckOptions()))),
    ("HEALTHCHECK --interval=0 --retries=0 cmd true", .healthcheck(.command(.shell("true"), HealthcheckOptions(interval: 0, retries: 0)))),
  ]

  @Test("one instruction parses to its AST", arguments: cases)
  func instruction(_ text: String, _ expected: InstructionKind) throws {
    let step = try parseStep(text)
    #expect(step.kind == expected)
    #expect(step.line == 2)
    #expect(step.original == text.trimmingWhitespace())
  }

  @Test("keywords are case-insensitive and kept uppercased", arguments: ["run", "Run", "rUN", "RUN"])
  func keywordCase(_ keyword: String) throws {
    let step = try parseStep("\(keyword) true")
    #expect(step.keyword == "RUN")
    #expect(step.kind == .run(RunInstruction(command: .shell("true"))))
  }

  @Test("ONBUILD holds a nested instruction")
  func onbuild() throws {
    let step = try parseStep("ONBUILD COPY --chown=app . /app/src")
    guard case .onbuild(let trigger) = step.kind else {
      Issue.record("not ONBUILD: \(step.kind)")
      return
    }
    #expect(trigger.keyword == "COPY")
    #expect(trigger.original == "COPY --chown=app . /app/src")
    #expect(trigger.kind == .copy(CopyInstruction(sources: ["."], destination: "/app/src", chown: "app")))
    let run = try parseStep("onbuild run echo $X")
    #expect(run.kind == .onbuild(Instruction(line: 2, endLine: 2, original: "run echo $X", keyword: "RUN", kind: .run(RunInstruction(command: .shell("echo $X"))))))
  }

  @Test("healthcheck test array")
  func healthcheckTest() {
    #expect(HealthcheckInstruction.none.test == ["NONE"])
    #expect(HealthcheckInstruction.command(.shell("true"), HealthcheckOptions()).test == ["CMD-SHELL", "true"])
    #expect(HealthcheckInstruction.command(.exec(["a", "b"]), HealthcheckOptions()).test == ["CMD", "a", "b"])
  }

  @Test("shell form runs through SHELL, exec form as is")
  func commandArguments() {
    #expect(CommandForm.shell("echo hi").arguments() == ["/bin/sh", "-c", "echo hi"])
    #expect(CommandForm.shell("echo hi").arguments(shell: ["/bin/bash", "-xc"]) == ["/bin/bash", "-xc", "echo hi"])
    #expect(CommandForm.exec(["ls", "-l"]).arguments(shell: ["/bin/bash", "-c"]) == ["ls", "-l"])
  }

  @Test("Go durations", arguments: [
    ("0", Int64(0)), ("1s", 1_000_000_000), ("1.5s", 1_500_000_000), ("1h2m3s", 3_723_000_000_000), ("250ms", 250_000_000),
    ("10us", 10_000), ("7ns", 7), ("2m", 120_000_000_000),
  ])
  func durations(_ text: String, _ nanoseconds: Int64) {
    #expect(GoDuration.parse(text) == nanoseconds)
  }

  @Test("bad Go durations", arguments: ["", "s", "5", "1x", "1.s2", "--1s", "1 s"])
  func badDurations(_ text: String) {
    #expect(GoDuration.parse(text) == nil)
  }
}
