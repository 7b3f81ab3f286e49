import BerthOS
import Testing

@testable import BerthBuild

/// The Dockerfiles of the engine's build tests (Tests/BerthEngineTests/Build) and a few
/// written the way Docker's documentation writes them, parsed to the AST the builder expects.
@Suite("Dockerfile parser: whole files")
struct DockerfileExamplesTests {
  @Test("the engine tests' multi-stage file")
  func multiStage() throws {
    let file = try Dockerfile.parse("""
      # A builder stage whose output the final stage copies.
      FROM busybox AS b
      ARG GREETING=hi
      RUN echo "$GREETING from b" > /greet && echo built-in-b
      FROM busybox
      COPY --from=b /greet /app/greet
      COPY src/ /app/src/
      ENV NAME=world
      WORKDIR /app/work
      USER alice
      CMD ["sh", "-c", "cat /app/greet /app/src/*; echo $NAME; id -un; pwd"]
      """)
    #expect(file.stages.count == 2)
    #expect(file.stages[0].name == "b")
    #expect(file.stages[0].fromInstruction.line == 2)
    #expect(file.stages[0].instructions.map(\.kind) == [
      .arg([ArgDeclaration(name: "GREETING", defaultValue: "hi")]),
      .run(RunInstruction(command: .shell("echo \"$GREETING from b\" > /greet && echo built-in-b"))),
    ])
    #expect(file.stages[1].from == FromInstruction(image: "busybox"))
    #expect(file.stages[1].instructions.map(\.kind) == [
      .copy(CopyInstruction(sources: ["/greet"], destination: "/app/greet", from: "b")),
      .copy(CopyInstruction(sources: ["src/"], destination: "/app/src/")),
      .env([KeyValuePair("NAME", "world")]),
      .workdir("/app/work"),
      .user("alice"),
      .cmd(.exec(["sh", "-c", "cat /app/greet /app/src/*; echo $NAME; id -un; pwd"])),
    ])
    #expect(file.stages[1].instructions.map(\.line) == [6, 7, 8, 9, 10, 11])
    #expect(file.stages[1].instructions[0].original == "COPY --from=b /greet /app/greet")
    #expect(file.stageIndex(forReference: "b", before: 1) == 0)
  }

  @Test("the engine tests' failing, ADD/heredoc and interop files")
  func engineFiles() throws {
    let failing = try Dockerfile.parse("FROM busybox\nRUN echo first > /first\n# a comment line\n\nRUN echo about to fail && exit 3\nCMD [\"true\"]\n")
    #expect(failing.stages[0].instructions.map(\.line) == [2, 5, 6])
    #expect(failing.stages[0].instructions[1].original == "RUN echo about to fail && exit 3")

    let added = try Dockerfile.parse("""
      FROM busybox
      ADD files.tar.gz /opt/
      COPY --chown=alice --chmod=700 src/a.txt /home/alice/a
      RUN <<EOF
      echo heredoc-ran > /h
      EOF
      """)
    let steps = added.stages[0].instructions
    #expect(steps[0].kind == .add(CopyInstruction(sources: ["files.tar.gz"], destination: "/opt/")))
    #expect(steps[1].kind == .copy(CopyInstruction(sources: ["src/a.txt"], destination: "/home/alice/a", chown: "alice", chmod: "700")))
    guard case .run(let run) = steps[2].kind else {
      Issue.record("not RUN")
      return
    }
    #expect(run.script() == .arguments(["/bin/sh", "-c", "echo heredoc-ran > /h\n"]))

    let interop = try Dockerfile.parse("""
      FROM localhost:5000/debian:minbase AS b
      RUN mkdir -p /out/sub && echo made > /out/sub/f && chmod 700 /out/sub && ln -s sub/f /out/link
      FROM localhost:5000/debian:minbase
      COPY --from=b /out /app/out
      COPY src/ /app/src/
      RUN rm /bin/vi && mkdir -p /var/empty && echo touched > /etc/touched
      WORKDIR /app/w
      ENV X=1
      CMD ["cat", "/app/out/sub/f"]
      """)
    #expect(interop.stages.map(\.from.image) == ["localhost:5000/debian:minbase", "localhost:5000/debian:minbase"])
    #expect(interop.stages[1].instructions.count == 6)

    #expect(parseError("FROM busybox\nRUNN true\n") == "Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)")
    let later = try Dockerfile.parse("FROM busybox AS a\nCOPY --from=later /x /x\nFROM busybox AS later\n")
    #expect(later.stageIndex(forReference: "later", before: 0) == nil)
    #expect(later.stageIndex(forReference: "later") == 1)
  }

  @Test("a documentation-style file: escape directive, continuations, every instruction")
  func everything() throws {
    let file = try Dockerfile.parse("""
      # syntax=docker/dockerfile:1
      ARG BASE_IMAGE=busybox
      ARG VERSION=1.36

      FROM ${BASE_IMAGE}:${VERSION} AS base
      LABEL org.opencontainers.image.title="Berth test" \\
            org.opencontainers.image.version=$VERSION
      MAINTAINER someone@example.com
      ENV PATH=/opt/bin:$PATH \\
          HOME=/root
      SHELL ["/bin/sh", "-eu", "-c"]
      RUN set -x; \\
          mkdir -p /opt/bin; \\
          # comments inside a continuation are dropped
          echo ok > /opt/ok
      EXPOSE 8080/tcp 53/udp
      VOLUME ["/data"]
      STOPSIGNAL SIGINT
      HEALTHCHECK --interval=30s --timeout=5s --retries=3 \\
        CMD ["wget", "-q", "-O-", "http://localhost:8080/"]
      ONBUILD COPY . /src
      ENTRYPOINT ["/bin/sh", "-c"]
      CMD ["echo hello"]

      FROM base AS final
      ARG VERSION
      COPY --from=base --chmod=755 /opt/ok /usr/local/bin/ok
      ADD --chown=1:1 [ "a file.txt", "b.txt", "/dest/" ]
      USER 1000:1000
      WORKDIR /work
      """)
    #expect(file.directives.syntax == "docker/dockerfile:1")
    #expect(file.globalArgs.count == 2)
    #expect(file.stages.map(\.name) == ["base", "final"])
    let base = file.stages[0].instructions
    #expect(base.map(\.keyword) == [
      "LABEL", "MAINTAINER", "ENV", "SHELL", "RUN", "EXPOSE", "VOLUME", "STOPSIGNAL", "HEALTHCHECK", "ONBUILD", "ENTRYPOINT", "CMD",
    ])
    #expect(base[0].kind == .label([KeyValuePair("org.opencontainers.image.title", "\"Berth test\""), KeyValuePair("org.opencontainers.image.version", "$VERSION")]))
    #expect(base[2].kind == .env([KeyValuePair("PATH", "/opt/bin:$PATH"), KeyValuePair("HOME", "/root")]))
    #expect(base[4].kind == .run(RunInstruction(command: .shell("set -x;     mkdir -p /opt/bin;     echo ok > /opt/ok"))))
    #expect(base[4].line == 12)
    #expect(base[4].endLine == 15)
    #expect(base[8].kind == .healthcheck(.command(.exec(["wget", "-q", "-O-", "http://localhost:8080/"]), HealthcheckOptions(interval: 30_000_000_000, timeout: 5_000_000_000, retries: 3))))
    let final = file.stages[1].instructions
    #expect(final[0].kind == .arg([ArgDeclaration(name: "VERSION")]))
    #expect(final[2].kind == .add(CopyInstruction(sources: ["a file.txt", "b.txt"], destination: "/dest/", chown: "1:1", isJSONForm: true)))
    let globals = try file.globalArgValues(buildArgs: ["VERSION": "1.37"])
    let from = try file.stages[0].fromInstruction.expanded(environment: globals)
    #expect(from.kind == .from(FromInstruction(image: "busybox:1.37", stageName: "base")))
    let label = try base[0].expanded(environment: ["VERSION": "1.37"])
    #expect(label.kind == .label([KeyValuePair("org.opencontainers.image.title", "Berth test"), KeyValuePair("org.opencontainers.image.version", "1.37")]))
  }
}
