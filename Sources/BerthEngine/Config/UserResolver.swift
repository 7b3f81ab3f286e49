#if canImport(Glibc)
import Glibc
#endif
import BerthOCI
import BerthOS
import CLinux

/// Turns `--user` ("name", "uid", "name:group", "uid:gid") into IDs with the container's own
/// /etc/passwd and /etc/group, as Docker does (through runc's user package):
///
/// - a name must be in passwd ("unable to find user X: no matching entries in passwd file");
///   a number need not be, and then the group is 0;
/// - the primary group is the passwd entry's, unless a group is given (a name must be in
///   /etc/group, a number need not be);
/// - supplementary groups are those of /etc/group that list the user, only when no group was
///   given; `--group-add` adds names (looked up) and numbers;
/// - the primary group comes first among the additional GIDs (Docker ≥ 20.10).
public enum UserResolver {
  public struct PasswdEntry: Sendable, Equatable {
    public var name: String
    public var uid: Int
    public var gid: Int
    public var home: String
  }

  public struct GroupEntry: Sendable, Equatable {
    public var name: String
    public var gid: Int
    public var members: [String]
  }

  /// The IDs for the process, and the user's home (for HOME when the image sets none).
  public struct Resolved: Sendable, Equatable {
    public var user: User
    public var home: String
  }

  static let maxID = 2_147_483_647

  /// Resolves `spec` against the files of the root filesystem at `rootfs` (read with symlinks
  /// kept inside it). Missing files count as empty.
  public static func resolve(_ spec: String, groupAdd: [String] = [], rootfs: String) throws -> Resolved {
    let passwd = try readInRoot(rootfs, "etc/passwd")
    let group = try readInRoot(rootfs, "etc/group")
    return try resolve(spec, groupAdd: groupAdd, passwd: passwd, group: group)
  }

  /// As ``resolve(_:groupAdd:rootfs:)``, with the files' text given (nil: no such file).
  public static func resolve(_ spec: String, groupAdd: [String] = [], passwd: String?, group: String?) throws -> Resolved {
    let users = parsePasswd(passwd ?? "")
    let groups = parseGroup(group ?? "")
    let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    let userArg = parts[0]
    let groupArg = parts.count > 1 ? parts[1] : ""
    let uidArg = Int(userArg), gidArg = Int(groupArg)

    var uid = 0, gid = 0, home = "/"
    var supplementary: [Int] = []
    let matched: PasswdEntry? = users.first { entry in
      if userArg.isEmpty { return entry.uid == 0 }
      if let uidArg { return entry.uid == uidArg }
      return entry.name == userArg
    }
    if let matched {
      uid = matched.uid
      gid = matched.gid
      home = matched.home
    } else if !userArg.isEmpty {
      guard let uidArg else {
        throw BerthError(.invalidArgument, "unable to find user \(userArg): no matching entries in passwd file")
      }
      guard (0...maxID).contains(uidArg) else {
        throw BerthError(.invalidArgument, "uids and gids must be in range 0-\(maxID)")
      }
      uid = uidArg
    }

    if !groupArg.isEmpty {
      if let found = groups.first(where: { gidArg != nil ? $0.gid == gidArg : $0.name == groupArg }) {
        gid = found.gid
      } else {
        guard let gidArg else {
          throw BerthError(.invalidArgument, "unable to find group \(groupArg): no matching entries in group file")
        }
        guard (0...maxID).contains(gidArg) else {
          throw BerthError(.invalidArgument, "uids and gids must be in range 0-\(maxID)")
        }
        gid = gidArg
      }
    } else if let matched {
      supplementary = groups.filter { $0.members.contains(matched.name) }.map(\.gid)
    }

    var added: [Int] = []
    for name in groupAdd {
      if let found = groups.first(where: { $0.name == name || String($0.gid) == name }) {
        added.append(found.gid)
      } else if let number = Int(name) {
        guard (0...maxID).contains(number) else {
          throw BerthError(.invalidArgument, "Unable to find group \(name): uids and gids must be in range 0-\(maxID)")
        }
        added.append(number)
      } else {
        throw BerthError(.invalidArgument, "Unable to find group \(name): no matching entries in group file")
      }
    }
    let additional = [gid] + supplementary + added
    return Resolved(
      user: User(uid: UInt32(uid), gid: UInt32(gid), additionalGids: additional.map { UInt32($0) }), home: home)
  }

  /// name:password:uid:gid:gecos:home:shell, one a line.
  public static func parsePasswd(_ text: String) -> [PasswdEntry] {
    text.split(separator: "\n").compactMap { line in
      let trimmed = String(line).trimmingWhitespace()
      if trimmed.isEmpty || trimmed.hasPrefix("#") { return nil }
      let fields = trimmed.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
      guard fields.count >= 4, let uid = Int(fields[2]), let gid = Int(fields[3]) else { return nil }
      return PasswdEntry(name: fields[0], uid: uid, gid: gid, home: fields.count > 5 ? fields[5] : "")
    }
  }

  /// name:password:gid:member,member, one a line.
  public static func parseGroup(_ text: String) -> [GroupEntry] {
    text.split(separator: "\n").compactMap { line in
      let trimmed = String(line).trimmingWhitespace()
      if trimmed.isEmpty || trimmed.hasPrefix("#") { return nil }
      let fields = trimmed.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
      guard fields.count >= 3, let gid = Int(fields[2]) else { return nil }
      let members = fields.count > 3 ? fields[3].split(separator: ",").map(String.init) : []
      return GroupEntry(name: fields[0], gid: gid, members: members)
    }
  }

  /// A file of the container's root filesystem, its symlinks resolved inside that root; nil
  /// when it does not exist.
  static func readInRoot(_ rootfs: String, _ path: String) throws -> String? {
    let root = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if root < 0 { throw BerthError.system("open root filesystem \(rootfs)") }
    defer { close(root) }
    let fd = berth_openat2(
      root, path, UInt64(O_RDONLY | O_CLOEXEC), 0, UInt64(BERTH_RESOLVE_IN_ROOT | BERTH_RESOLVE_NO_MAGICLINKS))
    if fd < 0 {
      if errno == ENOENT || errno == ENOTDIR { return nil }
      throw BerthError.system("open \(Path.join(rootfs, path))")
    }
    let owned = OwnedFD(fd)
    return String(decoding: try owned.readAll(), as: UTF8.self)
  }
}
