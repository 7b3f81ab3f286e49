#if canImport(Glibc)
import Glibc
#endif
import BerthOS
import CLinux

/// Persistent network namespaces without `ip netns` (one process less on the start path): a
/// short-lived thread unshares its network namespace, brings loopback up, and bind-mounts
/// /proc/thread-self/ns/net on the file. The other threads of the process never change
/// namespace; the namespace lives on as long as the bind mount.
enum NetworkNamespace {
  static func create(at path: String) throws {
    try FS.makeDirectories(Path.dirname(path), mode: 0o755)
    let fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444)
    if fd < 0 {
      if errno == EEXIST { throw BerthError(.alreadyExists, "network namespace \(path) exists already") }
      throw BerthError.system("create \(path)")
    }
    close(fd)
    let box = ThreadResult(path: path)
    var thread = pthread_t()
    let context = Unmanaged.passRetained(box).toOpaque()
    let rc = pthread_create(&thread, nil, { raw in
      guard let raw else { return nil }
      let box = Unmanaged<ThreadResult>.fromOpaque(raw).takeRetainedValue()
      box.error = NetworkNamespace.enterAndBind(box.path)
      return nil
    }, context)
    if rc != 0 {
      Unmanaged<ThreadResult>.fromOpaque(context).release()
      unlink(path)
      throw BerthError.system("start a thread to create \(path)", errno: rc)
    }
    pthread_join(thread, nil)
    if let error = box.error {
      _ = berth_umount2(path, Int32(BERTH_MNT_DETACH))
      unlink(path)
      throw error
    }
  }

  /// Runs on the short-lived thread: after unshare this thread alone is in the new namespace.
  private static func enterAndBind(_ path: String) -> BerthError? {
    if berth_unshare(Int32(truncatingIfNeeded: BERTH_CLONE_NEWNET)) != 0 {
      return BerthError.system("unshare the network namespace for \(path)")
    }
    if berth_mount("/proc/thread-self/ns/net", path, nil, BERTH_MS_BIND, nil) != 0 {
      return BerthError.system("bind the new network namespace on \(path)")
    }
    do { try Netlink.setLoopbackUp() } catch let error as BerthError { return error } catch {
      return BerthError(.internalError, "\(error)")
    }
    return nil
  }

  /// Unmounts and unlinks; never throws, idempotent.
  static func remove(at path: String) {
    while berth_umount2(path, Int32(BERTH_MNT_DETACH)) == 0 {}
    unlink(path)
  }

  private final class ThreadResult: @unchecked Sendable {
    let path: String
    var error: BerthError?
    init(path: String) { self.path = path }
  }
}

/// The one netlink request Berth makes itself: RTM_NEWLINK setting IFF_UP on "lo" (index 1
/// in every new network namespace).
enum Netlink {
  static func setLoopbackUp() throws {
    let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0 /* NETLINK_ROUTE */)
    if fd < 0 { throw BerthError.system("open a netlink socket") }
    defer { close(fd) }
    // nlmsghdr (16 bytes) + ifinfomsg (16 bytes), host byte order.
    var message = [UInt8](repeating: 0, count: 32)
    func put32(_ value: UInt32, at offset: Int) {
      withUnsafeBytes(of: value) { for (index, byte) in $0.enumerated() { message[offset + index] = byte } }
    }
    func put16(_ value: UInt16, at offset: Int) {
      withUnsafeBytes(of: value) { for (index, byte) in $0.enumerated() { message[offset + index] = byte } }
    }
    put32(32, at: 0)  // nlmsg_len
    put16(16, at: 4)  // RTM_NEWLINK
    put16(0x1 | 0x4, at: 6)  // NLM_F_REQUEST | NLM_F_ACK
    put32(1, at: 8)  // sequence
    message[16] = UInt8(AF_UNSPEC)  // ifi_family
    put32(1, at: 20)  // ifi_index: lo
    put32(UInt32(IFF_UP), at: 24)  // ifi_flags
    put32(UInt32(IFF_UP), at: 28)  // ifi_change
    let sent = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    if sent != message.count { throw BerthError.system("send the netlink request to bring loopback up") }
    var reply = [UInt8](repeating: 0, count: 1024)
    let count = reply.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    if count < 0 { throw BerthError.system("read the netlink answer to bring loopback up") }
    // NLMSG_ERROR (2) carries an int32 error: 0 = acknowledged.
    guard count >= 20 else { throw BerthError(.internalError, "short netlink answer (\(count) bytes)") }
    let type = reply.withUnsafeBytes { $0.load(fromByteOffset: 4, as: UInt16.self) }
    let code = reply.withUnsafeBytes { $0.load(fromByteOffset: 16, as: Int32.self) }
    if type == 2 && code != 0 { throw BerthError.system("bring loopback up", errno: -code) }
  }
}
