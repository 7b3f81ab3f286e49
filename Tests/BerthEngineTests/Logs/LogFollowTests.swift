import BerthOS
import Testing

@testable import BerthEngine

/// `-f`: the reader runs on its own thread (the async API) while the test appends from the
/// test's task, as the monitor would.
@Suite("LogReader: following")
struct LogFollowTests {
  private func follow(
    _ fixture: LogFixture, _ options: LogReader.Options = .init(follow: true), active: ActiveFlag, into logs: SharedLogs
  ) -> Task<Void, any Error> {
    let reader = LogReader(path: fixture.log, options: options)
    return Task { try await reader.read(into: logs) { active.isActive } }
  }

  @Test("appended lines arrive; after the container stops, what is left is delivered and reading ends")
  func appends() async throws {
    let fixture = try LogFixture()
    try fixture.append(lines: 1...3)
    let logs = SharedLogs()
    let active = ActiveFlag()
    let reading = follow(fixture, active: active, into: logs)
    #expect(await logs.waitFor(count: 3))
    try fixture.append(lines: 4...4)
    #expect(await logs.waitFor(count: 4))
    try fixture.append(lines: 5...6)
    #expect(await logs.waitFor(count: 6))
    // Output written just before the exit is recorded is not lost.
    try fixture.append(lines: 7...7)
    active.stop()
    try await reading.value
    #expect(logs.texts == lineTexts(1...7))
  }

  @Test("a rotation while following: the old file is finished, then the new one read")
  func rotation() async throws {
    let fixture = try LogFixture()
    try fixture.append(lines: 1...2)
    let logs = SharedLogs()
    let active = ActiveFlag()
    let reading = follow(fixture, active: active, into: logs)
    #expect(await logs.waitFor(count: 2))
    try fixture.append(lines: 3...3)
    try fixture.rotate()
    try fixture.append(lines: 4...5)
    #expect(await logs.waitFor(count: 5))
    try fixture.append(lines: 6...6)
    #expect(await logs.waitFor(count: 6))
    active.stop()
    try await reading.value
    #expect(logs.texts == lineTexts(1...6))
  }

  @Test("several rotations between two looks: no file is skipped")
  func fastRotations() async throws {
    let fixture = try LogFixture()
    try fixture.append(lines: 1...1)
    let logs = SharedLogs()
    let active = ActiveFlag()
    let reading = follow(fixture, active: active, into: logs)
    #expect(await logs.waitFor(count: 1))
    for round in 0..<4 {
      try fixture.append(lines: (2 + 2 * round)...(3 + 2 * round))
      try fixture.rotate()
    }
    try fixture.append(lines: 10...10)
    #expect(await logs.waitFor(count: 10))
    active.stop()
    try await reading.value
    #expect(logs.texts == lineTexts(1...10))
  }

  @Test("rotations while the next file does not exist yet: none is skipped")
  func rotationsBeforeTheNextFile() async throws {
    let fixture = try LogFixture()
    try fixture.append(lines: 1...1)
    let logs = SharedLogs()
    let active = ActiveFlag()
    let reading = follow(fixture, active: active, into: logs)
    #expect(await logs.waitFor(count: 1))
    // Rotated with no new file after it: the reader finishes it and waits for the next.
    try fixture.append(lines: 2...2)
    try fixture.rotate()
    #expect(await logs.waitFor(count: 2))
    // Two files come and are rotated away before the reader looks again.
    try fixture.append(lines: 3...3)
    try fixture.rotate()
    try fixture.append(lines: 4...4)
    try fixture.rotate()
    try fixture.append(lines: 5...5)
    #expect(await logs.waitFor(count: 5))
    active.stop()
    try await reading.value
    #expect(logs.texts == lineTexts(1...5))
  }

  @Test("following stops once isActive says so, without output")
  func stops() async throws {
    let fixture = try LogFixture()
    try fixture.append(lines: 1...1)
    let logs = SharedLogs()
    let active = ActiveFlag()
    let reading = follow(fixture, active: active, into: logs)
    #expect(await logs.waitFor(count: 1))
    active.stop()
    let stopped = await ends(reading)
    #expect(stopped, "following went on after the container stopped")
    if !stopped { reading.cancel() }
    try await reading.value
    #expect(logs.texts == lineTexts(1...1))
  }

  @Test("--tail 0 with -f prints only what comes next")
  func tailZero() async throws {
    let fixture = try LogFixture()
    try fixture.append(lines: 1...3)
    // A line being written when reading starts belongs to what comes next.
    let next = logEntry("line 4\n", at: 1004).jsonLine()
    try fixture.appendRaw(Array(next.prefix(10)))
    let logs = SharedLogs()
    let active = ActiveFlag()
    let reading = follow(fixture, .init(tail: 0, follow: true), active: active, into: logs)
    #expect(await logs.waitForFlush())
    try fixture.appendRaw(Array(next.dropFirst(10)))
    try fixture.append(lines: 5...5)
    #expect(await logs.waitFor(count: 2))
    active.stop()
    try await reading.value
    #expect(logs.texts == lineTexts(4...5))
  }

  @Test("a line written in two pieces is delivered once, whole")
  func partialWrite() async throws {
    let fixture = try LogFixture()
    let logs = SharedLogs()
    let active = ActiveFlag()
    try fixture.append(lines: 1...1)
    let reading = follow(fixture, active: active, into: logs)
    #expect(await logs.waitFor(count: 1))
    let line = logEntry("line 2\n", at: 1002).jsonLine()
    try fixture.appendRaw(Array(line.prefix(25)))
    try await Task.sleep(for: .milliseconds(30))
    #expect(logs.count == 1)
    try fixture.appendRaw(Array(line.dropFirst(25)))
    #expect(await logs.waitFor(count: 2))
    active.stop()
    try await reading.value
    #expect(logs.texts == lineTexts(1...2))
  }

  @Test("a log that appears later (a container started after `logs -f`) is read from its start")
  func appearsLater() async throws {
    let fixture = try LogFixture()
    let logs = SharedLogs()
    let active = ActiveFlag()
    let reading = follow(fixture, active: active, into: logs)
    #expect(await logs.waitForFlush())
    try fixture.append(lines: 1...2)
    #expect(await logs.waitFor(count: 2))
    active.stop()
    try await reading.value
    #expect(logs.texts == lineTexts(1...2))
  }

  @Test("following ends when the clock passes --until, though the container runs on")
  func untilEnds() async throws {
    let fixture = try LogFixture()
    try fixture.append(lines: 1...1)
    let logs = SharedLogs()
    let active = ActiveFlag()
    let until = DockerTime.now().adding(nanoseconds: 200_000_000)
    let reading = follow(fixture, .init(until: until, follow: true), active: active, into: logs)
    let ended = await ends(reading)
    #expect(ended, "following went on past --until")
    if !ended { active.stop() }
    try await reading.value
    #expect(DockerTime.now() > until, "following ended before --until")
    #expect(logs.texts == lineTexts(1...1))
  }

  @Test("cancelling the task ends following")
  func cancel() async throws {
    let fixture = try LogFixture()
    try fixture.append(lines: 1...1)
    let logs = SharedLogs()
    let active = ActiveFlag()
    let reading = follow(fixture, active: active, into: logs)
    #expect(await logs.waitFor(count: 1))
    reading.cancel()
    let ended = await ends(reading)
    #expect(ended, "following went on after the task was cancelled")
    if !ended { active.stop() }
    try await reading.value
  }
}
