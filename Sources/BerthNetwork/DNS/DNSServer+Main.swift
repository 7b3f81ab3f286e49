#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import Dispatch

extension DNSServer {
  /// The body of `berth dns-server`: starts the server, says "ready" (or "error <why>") on
  /// `readyFD` for `DNSServerControl.ensureRunning`, and serves until SIGTERM or SIGINT, or until
  /// the network has had no containers for the idle time.
  public static func serve(_ configuration: DNSServerConfiguration, readyFD: Int32?) async throws {
    // Signals become events (not the default death) before anything can deliver them.
    signal(SIGTERM, SIG_IGN)
    signal(SIGINT, SIG_IGN)
    signal(SIGPIPE, SIG_IGN)
    let server: DNSServer
    do {
      server = try await start(configuration)
    } catch {
      if let readyFD {
        try? writeAllBytes(readyFD, Array("error \(String(describing: error).replacingNewlines)\n".utf8))
        close(readyFD)
      }
      throw error
    }
    let sources = [SIGTERM, SIGINT].map { number in
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler { server.shutdown() }
      source.resume()
      return source
    }
    if let readyFD {
      try? writeAllBytes(readyFD, Array("ready\n".utf8))
      close(readyFD)
    }
    await server.waitUntilStopped()
    for source in sources { source.cancel() }
  }
}

extension String {
  fileprivate var replacingNewlines: String {
    String(map { $0 == "\n" ? " " : $0 })
  }
}
