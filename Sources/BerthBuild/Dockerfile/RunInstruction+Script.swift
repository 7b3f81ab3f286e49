/// What RUN executes once its heredocs are taken into account (Docker's rules).
public enum RunScript: Sendable, Equatable {
  /// Run this argv.
  case arguments([String])
  /// The command is a single heredoc starting with `#!`: write `content` to an executable file
  /// (mode 0755) at `path` (Docker mounts it read-only under /dev/pipes/) and run `[path]`.
  case scriptFile(path: String, content: String)
}

extension RunInstruction {
  /// The argv to run with the stage's SHELL (`/bin/sh -c` by default):
  /// - exec form: as written;
  /// - shell form without heredocs: `shell + [command]`;
  /// - `RUN <<EOF` alone: the body is the script (a `#!` body becomes an executable file);
  /// - heredocs inside a longer command: the command and bodies are given to the shell as
  ///   written, which reads the here-documents itself.
  public func script(shell: [String] = ["/bin/sh", "-c"]) -> RunScript {
    guard case .shell(let command) = command, !heredocs.isEmpty else {
      return .arguments(self.command.arguments(shell: shell))
    }
    if heredocs.count == 1, let marker = HeredocMarker(command.trimmingWhitespace()), marker.name == heredocs[0].name {
      let body = heredocs[0]
      if body.content.hasPrefix("#!") {
        return .scriptFile(path: "/dev/pipes/" + body.name, content: body.content)
      }
      return .arguments(shell + [body.content])
    }
    var full = command
    for heredoc in heredocs {
      full += "\n" + heredoc.content + heredoc.name
    }
    return .arguments(shell + [full])
  }
}
