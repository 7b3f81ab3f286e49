import BerthImages
import BerthOCI
import Foundation

/// Per-layer progress of a pull or push, as Docker shows it: on a terminal, one line per layer
/// redrawn in place (bytes, bar, rate); otherwise one plain line per change of state.
final class ProgressBoard: @unchecked Sendable {
  private let lock = NSLock()
  private let live: Bool
  private var order: [String] = []
  private var lines: [String: String] = [:]
  private var started: [String: Date] = [:]
  private var drawn = 0
  private var lastDraw = Date.distantPast

  init(live: Bool = isatty(1) != 0) { self.live = live }

  /// Sets a layer's line; in plain mode prints it when its text (state) changes.
  func update(_ id: String, _ text: String, force: Bool = false) {
    lock.lock()
    defer { lock.unlock() }
    if lines[id] == nil { order.append(id) }
    let previous = lines[id]
    lines[id] = text
    if live {
      if force || Date().timeIntervalSince(lastDraw) > 0.1 { redraw() }
    } else if previous != text {
      print("\(id): \(text)")
    }
  }

  /// A progress line: "Downloading [=====>      ]  1.2MB/3.4MB  12.3MB/s".
  func transfer(_ id: String, verb: String, done: Int64, total: Int64) {
    lock.lock()
    let start = started[id] ?? Date()
    started[id] = start
    lock.unlock()
    guard live else {
      update(id, verb)
      return
    }
    let width = 40
    let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
    let filled = Int(fraction * Double(width))
    let bar = String(repeating: "=", count: max(0, filled - 1)) + (filled > 0 ? ">" : "")
      + String(repeating: " ", count: width - filled)
    let elapsed = max(Date().timeIntervalSince(start), 0.001)
    let rate = Humanize.size(Int64(Double(done) / elapsed)) + "/s"
    update(id, "\(verb) [\(bar)]  \(Humanize.size(done))/\(Humanize.size(total))  \(rate)")
  }

  func finish() {
    lock.lock()
    defer { lock.unlock() }
    if live { redraw() }
  }

  /// Prints a line above the board (not redrawn).
  func message(_ text: String) {
    lock.lock()
    defer { lock.unlock() }
    print(text)
    if live { drawn = 0; redraw() }
  }

  private func redraw() {
    var output = drawn > 0 ? "\u{1B}[\(drawn)A" : ""
    for id in order { output += "\u{1B}[2K\(id): \(lines[id] ?? "")\n" }
    print(output, terminator: "")
    fflush(nil)
    drawn = order.count
    lastDraw = Date()
  }
}
