import BerthOS
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// berth-init (the `--init` process) run for real: its exit status, signal forwarding, zombie
/// reaping, exec failures, the terminal's foreground group, and the binary being static. Most
/// tests run it outside a PID namespace with `-s` (child subreaper); the last one runs it as
/// PID 1 of a container started by berth-runtime.
@Suite("berth-init", .initBuilt)
struct InitTests {
  let initPath = InitBinary.path

  // MARK: Exit status

  @Test(
    "exits with the child's exit code, or 128+N when signal N killed it",
    arguments: [
      ("exit 0", Int32(0)),
      ("exit 3", 3),
      ("exit 255", 255),
      ("kill -KILL $$", 128 + SIGKILL),
      ("kill -TERM $$", 128 + SIGTERM),
    ])
  func exitStatus(script: String, expected: Int32) async throws {
    let r = try await InitRun.finished([initPath, "-s", "--", "/bin/sh", "-c", script])
    #expect(r.status == .exited(expected), "stderr: \(r.stderr)")
  }

  @Test("passes arguments through unchanged and finds the program in PATH")
  func arguments() async throws {
    let r = try await InitRun.finished([initPath, "-s", "printf", "[%s]", "a b", "", "-s", "--"])
    #expect(r.status == .exited(0), "stderr: \(r.stderr)")
    #expect(r.stdout == "[a b][][-s][--]")
  }

  @Test("without a program: a usage message and exit 2", arguments: [[String](), ["--"], ["-s"], ["-x", "true"]])
  func usage(arguments: [String]) async throws {
    let r = try await InitRun.finished([initPath] + arguments)
    #expect(r.status == .exited(2))
    #expect(r.stderr.contains("usage: berth-init"), "stderr: \(r.stderr)")
  }

  // MARK: Exec failures

  @Test("a program that does not exist: the message and exit 127")
  func notFound() async throws {
    let r = try await InitRun.finished([initPath, "-s", "--", "berth-no-such-program"])
    #expect(r.status == .exited(127))
    #expect(r.stderr.contains("berth-init: exec berth-no-such-program: No such file or directory"), "\(r.stderr)")

    let absolute = try await InitRun.finished([initPath, "-s", "--", "/nonexistent/prog"])
    #expect(absolute.status == .exited(127))
    #expect(absolute.stderr.contains("berth-init: exec /nonexistent/prog: No such file or directory"))
  }

  @Test("a file that is not executable, or a directory: the message and exit 126")
  func notExecutable() async throws {
    let directory = try InitRun.makeDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let file = directory + "/not-executable"
    try "echo hi\n".write(toFile: file, atomically: false, encoding: .utf8)
    chmod(file, 0o644)

    let r = try await InitRun.finished([initPath, "-s", "--", file])
    #expect(r.status == .exited(126))
    #expect(r.stderr.contains("berth-init: exec \(file): Permission denied"), "\(r.stderr)")

    let dir = try await InitRun.finished([initPath, "-s", "--", directory])
    #expect(dir.status == .exited(126))
    #expect(dir.stderr.contains("berth-init: exec \(directory): Permission denied"), "\(dir.stderr)")
  }

  @Test("an executable script without #! runs through /bin/sh, as with execvp")
  func scriptWithoutInterpreterLine() async throws {
    let directory = try InitRun.makeDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let script = directory + "/script"
    try "echo from-script \"$1\"\nexit 4\n".write(toFile: script, atomically: false, encoding: .utf8)
    chmod(script, 0o755)
    let r = try await InitRun.finished([initPath, "-s", script, "arg1"])
    #expect(r.status == .exited(4), "stderr: \(r.stderr)")
    #expect(r.stdout == "from-script arg1\n")
  }

  // MARK: Signals

  @Test(
    "forwards the signals it receives to the child",
    arguments: ["TERM", "INT", "HUP", "QUIT", "USR1", "USR2", "WINCH", "ALRM"])
  func forwardsSignal(name: String) async throws {
    let script = "trap 'echo got-\(name); exit 7' \(name); echo ready; while :; do sleep 0.05; done"
    let run = try InitRun([initPath, "-s", "--", "/bin/sh", "-c", script])
    defer { run.cleanUp() }
    try #require(await run.waitForOutput("ready"), "the child never got ready: \(run.stderr)")
    let number = try Signals.parse(name)
    #expect(kill(run.pid, number) == 0)
    #expect(await run.finish() == .exited(7), "stderr: \(run.stderr)")
    #expect(run.stdout.contains("got-\(name)"))
  }

  @Test("-g forwards to the child's whole process group")
  func forwardsToGroup() async throws {
    // The child's own child traps TERM too: only a group signal reaches it.
    let script = """
      trap 'wait; echo child-term; exit 9' TERM
      sh -c 'trap "echo grandchild-term; exit 0" TERM; echo ready; while :; do sleep 0.05; done' &
      while :; do sleep 0.05; done
      """
    let run = try InitRun([initPath, "-s", "-g", "--", "/bin/sh", "-c", script])
    defer { run.cleanUp() }
    try #require(await run.waitForOutput("ready"), "the child never got ready: \(run.stderr)")
    #expect(kill(run.pid, SIGTERM) == 0)
    #expect(await run.finish() == .exited(9), "stderr: \(run.stderr)")
    #expect(run.stdout.contains("grandchild-term"))
    #expect(run.stdout.contains("child-term"))
  }

  @Test("the child starts with no blocked and no ignored signals, even when berth-init inherited some")
  func childSignalState() async throws {
    // `trap ''` makes the shell ignore INT and TERM; the exec of berth-init keeps that.
    let r = try await InitRun.finished([
      "/bin/sh", "-c", "trap '' INT TERM HUP; exec \"$0\" -s grep -E '^Sig(Blk|Ign):' /proc/self/status", initPath,
    ])
    #expect(r.status == .exited(0), "stderr: \(r.stderr)")
    #expect(r.stdout == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n")
  }

  @Test("the child runs in its own process group")
  func ownProcessGroup() async throws {
    let r = try await InitRun.finished([initPath, "-s", "/bin/sh", "-c", "read -r pid c s ppid pgrp rest < /proc/$$/stat; echo $pid $ppid $pgrp"])
    #expect(r.status == .exited(0), "stderr: \(r.stderr)")
    let fields = r.stdout.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    try #require(fields.count == 3, "\(r.stdout)")
    #expect(fields[2] == fields[0], "pgrp should be the child's pid: \(r.stdout)")
    #expect(fields[2] != getpgrp())
  }

  // MARK: Terminal

  @Test(
    "with a controlling terminal the child is the foreground group: ^C reaches it",
    .enabled(if: access("/usr/bin/script", X_OK) == 0, "needs script(1) from bsdutils for a pseudo-terminal"))
  func terminalForeground() async throws {
    // script(1) runs the command as a session leader on a new pty; its stdin feeds the pty.
    var pipeEnds: [Int32] = [0, 0]
    try #require(pipe(&pipeEnds) == 0)
    defer { close(pipeEnds[1]) }
    let command = """
      \(initPath) -s -- /bin/sh -c 'read -r pid c s ppid pgrp sid tty tpgid rest < /proc/$$/stat; \
      echo "stat $pid $pgrp $tpgid"; trap "echo got-int; exit 5" INT; echo ready; while :; do sleep 0.05; done'
      """
    let run = try InitRun(["/usr/bin/script", "-qec", command, "/dev/null"], stdin: pipeEnds[0])
    close(pipeEnds[0])
    defer { run.cleanUp() }
    try #require(await run.waitForOutput("ready"), "never ready: \(run.stdout) \(run.stderr)")

    let line = run.stdout.split(whereSeparator: \.isNewline).first { $0.hasPrefix("stat ") }
    let fields = (line ?? "").split(separator: " ").dropFirst().compactMap { Int32($0) }
    try #require(fields.count == 3, "\(run.stdout)")
    #expect(fields[1] == fields[0], "the child leads its own group: \(run.stdout)")
    #expect(fields[2] == fields[0], "the child's group is the terminal's foreground group: \(run.stdout)")

    var interrupt: UInt8 = 3  // ^C, turned into SIGINT for the foreground group by the line discipline
    #expect(write(pipeEnds[1], &interrupt, 1) == 1)
    #expect(await run.finish() == .exited(5), "\(run.stdout) \(run.stderr)")
    #expect(run.stdout.contains("got-int"))
  }

  // MARK: Zombies

  @Test("reaps orphans reparented to it while the child still runs")
  func reapsOrphans() async throws {
    // The middle shell starts a background loop and exits: the loop is reparented to
    // berth-init (the subreaper), and becomes a zombie when it exits, which it does when the
    // test says so (no timing to race on a busy machine).
    let directory = try InitRun.makeDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let script = "sh -c '\(Self.waitFor(directory + "/go")) & echo orphan $!'; echo ready; while :; do sleep 0.05; done"
    let run = try InitRun([initPath, "-s", "--", "/bin/sh", "-c", script])
    defer { run.cleanUp() }
    try #require(await run.waitForOutput("ready"), "never ready: \(run.stderr)")
    let orphans = Self.orphans(in: run.stdout)
    try #require(orphans.count == 1, "\(run.stdout)")
    #expect(ProcStatus.read(orphans[0])?.ppid == run.pid, "the orphan should be reparented to berth-init")

    try FS.write(directory + "/go", "")
    #expect(await Self.gone(orphans), "the orphan is still there: \(String(describing: ProcStatus.read(orphans[0])))")
    let zombies = ProcStatus.children(of: run.pid).filter { $0.state == "Z" }
    #expect(zombies.isEmpty, "zombies under berth-init: \(zombies.map(\.pid))")
    #expect(ProcStatus.children(of: run.pid).count == 1, "only the main child remains")
    #expect(run.isRunning, "berth-init still runs with its child")

    #expect(kill(run.pid, SIGKILL) == 0)
  }

  @Test("many orphans exiting together are all reaped (SIGCHLD does not queue)")
  func reapsManyOrphans() async throws {
    // Ten orphans that exit together when the test says so, while the main child sleeps on.
    let directory = try InitRun.makeDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let orphan = "sh -c '\(Self.waitFor(directory + "/go")) & echo orphan $!'"
    let script = "for i in 1 2 3 4 5 6 7 8 9 10; do \(orphan); done; echo ready; exec sleep 30"
    let run = try InitRun([initPath, "-s", "--", "/bin/sh", "-c", script])
    defer { run.cleanUp() }
    try #require(await run.waitForOutput("ready"), "\(run.stderr)")
    let orphans = Self.orphans(in: run.stdout)
    try #require(orphans.count == 10, "\(run.stdout)")
    let strays = orphans.filter { ProcStatus.read($0)?.ppid != run.pid }
    #expect(strays.isEmpty, "not reparented to berth-init: \(strays)")

    try FS.write(directory + "/go", "")
    #expect(await Self.gone(orphans), "left: \(orphans.filter { ProcStatus.read($0) != nil })")
    #expect(ProcStatus.children(of: run.pid).count == 1, "only the main child remains")
    // TERM to berth-init reaches the main child (sleep, which has no handler): 128+15.
    #expect(kill(run.pid, SIGTERM) == 0)
    #expect(await run.finish() == .exited(128 + SIGTERM))
  }

  /// A shell loop that ends once `file` exists, or its directory is gone (a failed test
  /// removes it without writing the file: no loop may outlive its test).
  static func waitFor(_ file: String) -> String {
    let directory = (file as NSString).deletingLastPathComponent
    return "while [ ! -e \(file) ] && [ -d \(directory) ]; do sleep 0.02; done"
  }

  /// The PIDs of "orphan PID" lines.
  static func orphans(in output: String) -> [pid_t] {
    output.split(separator: "\n").filter { $0.hasPrefix("orphan ") }.compactMap { pid_t($0.dropFirst("orphan ".count)) }
  }

  /// Waits until none of `pids` exists any more, not even as a zombie (which stays until its
  /// parent reaps it); false after `seconds`.
  static func gone(_ pids: [pid_t], seconds: Int = 10) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while pids.contains(where: { ProcStatus.read($0) != nil }) {
      if ContinuousClock.now > deadline { return false }
      try? await Task.sleep(for: .milliseconds(20))
    }
    return true
  }

  // MARK: The binary

  @Test("is a static ELF: no PT_INTERP, no PT_DYNAMIC, and small")
  func staticBinary() throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: initPath))
    let bytes = [UInt8](data)
    try #require(bytes.count > 64 && bytes[0..<4] == [0x7f, 0x45, 0x4c, 0x46], "not an ELF file")
    #expect(bytes[4] == 2, "ELFCLASS64")
    func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
    func u64(_ at: Int) -> Int { (0..<8).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
    #expect(u16(16) == 2, "ET_EXEC (not a PIE that needs a loader)")
    let phoff = u64(32), phentsize = u16(54), phnum = u16(56)
    try #require(phnum > 0 && phoff + phnum * phentsize <= bytes.count)
    let types = (0..<phnum).map { u16(phoff + $0 * phentsize) }  // p_type's low half; all real types fit
    #expect(!types.contains(3), "PT_INTERP present: \(types)")
    #expect(!types.contains(2), "PT_DYNAMIC present: \(types)")
    #expect(types.contains(1), "no PT_LOAD: \(types)")
    #expect(bytes.count < 64 * 1024, "berth-init is \(bytes.count) bytes")
  }

  // MARK: As PID 1 in a container

  @Test(
    "as PID 1 of a container: the child's parent, reaps orphans, forwards `kill 1`",
    .enabled(if: geteuid() == 0, "needs root to run a container"),
    .enabled(if: access("/bin/busybox", X_OK) == 0, "needs busybox-static at /bin/busybox"),
    .enabled(
      if: access(InitBinary.productsDirectory + "/berth-runtime", X_OK) == 0, "needs berth-runtime built next to the tests"))
  func asContainerInit() async throws {
    let runtime = InitBinary.productsDirectory + "/berth-runtime"
    let directory = try InitRun.makeDirectory()
    let id = "berth-init-test-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    let state = directory + "/state"
    defer {
      _ = try? InitRun.complete([runtime, "--root", state, "delete", "--force", id])
      try? FileManager.default.removeItem(atPath: directory)
    }
    let rootfs = directory + "/bundle/rootfs"
    let fm = FileManager.default
    for sub in ["/bin", "/proc", "/dev", "/sbin", "/tmp"] {
      try fm.createDirectory(atPath: rootfs + sub, withIntermediateDirectories: true)
    }
    chmod(directory, 0o755)
    if link("/bin/busybox", rootfs + "/bin/busybox") != 0 {
      try fm.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
    }
    for applet in ["sh", "sleep", "grep", "cat"] { symlink("busybox", rootfs + "/bin/" + applet) }

    // In the container: check the parent is PID 1, leave an orphan that exits, look for
    // zombies, then `kill -TERM 1`: the signal reaches PID 1 only because berth-init blocks it
    // (an init's default dispositions drop signals from its own namespace) and comes back to
    // the shell through berth-init.
    let script = """
      trap 'echo got-term; exit 7' TERM
      echo ppid=$PPID
      sh -c 'sleep 0.05 &'
      sleep 0.3
      for f in /proc/[0-9]*/status; do grep -q '^State:.*Z' $f && echo zombie $f; done
      kill -TERM 1
      while :; do sleep 0.05; done
      """
    let args = ["/sbin/docker-init", "--", "/bin/sh", "-c", script]
    let config: [String: Any] = [
      "ociVersion": "1.0.2",
      "process": [
        "terminal": false, "user": ["uid": 0, "gid": 0], "args": args, "env": ["PATH=/bin"], "cwd": "/",
      ],
      "root": ["path": "rootfs"],
      "hostname": "init-test",
      "mounts": [
        ["destination": "/proc", "type": "proc", "source": "proc"],
        ["destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]],
        ["destination": "/sbin/docker-init", "type": "bind", "source": initPath, "options": ["bind", "ro"]],
      ],
      "linux": [
        "namespaces": [["type": "pid"], ["type": "mount"], ["type": "ipc"], ["type": "uts"], ["type": "network"]],
        "cgroupsPath": "/berth-test/\(id)",
      ],
    ]
    let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted])
    try json.write(to: URL(fileURLWithPath: directory + "/bundle/config.json"))

    let r = try await InitRun.finished([runtime, "--root", state, "run", "--bundle", directory + "/bundle", id], seconds: 10)
    #expect(r.status == .exited(7), "stdout: \(r.stdout)\nstderr: \(r.stderr)")
    #expect(r.stdout.contains("ppid=1"), "\(r.stdout)")
    #expect(!r.stdout.contains("zombie"), "\(r.stdout)")
    #expect(r.stdout.contains("got-term"), "\(r.stdout)")
  }
}
