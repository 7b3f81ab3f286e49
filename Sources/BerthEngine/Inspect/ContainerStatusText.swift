extension ContainerState {
  /// The health status Docker's filters and `ps` use: "starting", "healthy", "unhealthy", or
  /// "none" when the container has no healthcheck. A running container whose monitor has not
  /// written a first result yet is "starting", as in Docker.
  public func healthStatus(hasHealthcheck: Bool) -> String {
    if let healthStatus { return healthStatus }
    return hasHealthcheck && isRunning ? "starting" : "none"
  }

  /// `ps`'s STATUS column, worded as Docker's daemon words it: "Up 5 seconds",
  /// "Up 2 minutes (healthy)", "Up 3 seconds (Paused)", "Exited (0) 3 seconds ago",
  /// "Restarting (1) 2 seconds ago", "Created", "Dead".
  public func statusText(hasHealthcheck: Bool, now: DockerTime = .now()) -> String {
    func since(_ text: String?) -> String {
      guard let time = DockerTime.recorded(text) else { return HumanDuration.describe(seconds: 0) }
      return HumanDuration.describe(seconds: HumanDuration.seconds(from: time, to: now))
    }
    switch status {
    case .paused:
      return "Up \(since(startedAt)) (Paused)"
    case .restarting:
      return "Restarting (\(exitCode)) \(since(finishedAt)) ago"
    case .running:
      guard hasHealthcheck else { return "Up \(since(startedAt))" }
      // Docker words the first phase "health: starting", the others by their name alone.
      let health = healthStatus(hasHealthcheck: true)
      let shown = health == "starting" ? "health: starting" : health
      return "Up \(since(startedAt)) (\(shown))"
    case .dead:
      return "Dead"
    case .created:
      return "Created"
    case .exited:
      // Never started (a start that failed before the process ran) reads "Created".
      if DockerTime.recorded(startedAt) == nil { return "Created" }
      return "Exited (\(exitCode)) \(since(finishedAt ?? startedAt)) ago"
    }
  }
}
