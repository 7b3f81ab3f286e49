import CLinux
import CMonitor

func monitorMain() {
  let message: StaticString = "berth-monitor: not yet\n"
  _ = message.withUTF8Buffer { buffer in write(2, buffer.baseAddress, buffer.count) }
  var polls = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0)]
  _ = poll(&polls, 1, 0)
  var out = [UInt8]()
  out.append(contentsOf: "errno \(cmonitor_errno())\n".utf8)
  _ = out.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}
monitorMain()
