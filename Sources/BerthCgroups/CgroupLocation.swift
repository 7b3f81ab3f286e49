#if canImport(Glibc)
import Glibc
#endif
import BerthOS

/// A container's place in the cgroup tree, resolved from `linux.cgroupsPath`.
struct CgroupLocation: Equatable {
  /// Cleaned, without a leading "/" when relative, never empty.
  var path: String
  var isAbsolute: Bool

  static func resolve(cgroupsPath: String?, containerID: String, defaultParent: String) throws -> CgroupLocation {
    let raw: String
    let field: String
    if let cgroupsPath, !cgroupsPath.isEmpty {
      raw = cgroupsPath
      field = "linux.cgroupsPath"
    } else {
      guard !containerID.isEmpty, !containerID.contains("/"), containerID != ".", containerID != ".." else {
        throw BerthError(.invalidArgument, "container ID \(quoted(containerID)) cannot name a cgroup")
      }
      raw = defaultParent.isEmpty ? containerID : defaultParent + "/" + containerID
      field = "default cgroup path"
    }
    if !raw.hasPrefix("/") && raw.split(separator: ":", omittingEmptySubsequences: false).count == 3 {
      throw BerthError(.invalidArgument, "\(field) \(quoted(raw)) is in systemd form; berth-runtime supports only the cgroupfs driver (pass a path such as /docker/abc)")
    }
    var parts: [Substring] = []
    for part in raw.split(separator: "/") {
      if part == "." { continue }
      if part == ".." {
        if parts.isEmpty {
          let base = raw.hasPrefix("/") ? "the cgroup root" : "the cgroup of the calling process"
          throw BerthError(.invalidArgument, "\(field) \(quoted(raw)) climbs above \(base) with \"..\"")
        }
        parts.removeLast()
        continue
      }
      parts.append(part)
    }
    if parts.isEmpty {
      let base = raw.hasPrefix("/") ? "the root cgroup" : "the cgroup of the calling process"
      throw BerthError(.invalidArgument, "\(field) \(quoted(raw)) names \(base), not a cgroup of its own")
    }
    let joined = parts.joined(separator: "/")
    return CgroupLocation(path: raw.hasPrefix("/") ? "/" + joined : joined, isAbsolute: raw.hasPrefix("/"))
  }

  /// The directory in `hierarchy`. `key` is the controller whose line in /proc/self/cgroup
  /// gives the caller's cgroup ("" for cgroup2); `own` holds those lines (relative paths only).
  func directory(in hierarchy: CgroupHost.Hierarchy, key: String, own: [String: String]?) throws -> String {
    if isAbsolute { return Path.join(hierarchy.mountPoint, path) }
    guard let own, let mine = own[key] else {
      throw BerthError(.notFound, "linux.cgroupsPath \(quoted(path)) is relative, but /proc/self/cgroup names no cgroup of this process for \(key.isEmpty ? "the cgroup2 hierarchy" : key)")
    }
    var inside = mine
    if hierarchy.root != "/" {
      guard mine == hierarchy.root || mine.hasPrefix(hierarchy.root + "/") else {
        throw BerthError(.notFound, "this process's \(key.isEmpty ? "cgroup2" : key) cgroup \(mine) is outside the part of the hierarchy mounted at \(hierarchy.mountPoint) (\(hierarchy.root))")
      }
      inside = String(mine.dropFirst(hierarchy.root.count))
    }
    return Path.join(hierarchy.mountPoint, inside, path)
  }

  /// This process's cgroups from /proc/self/cgroup: by v1 controller name (each name of a
  /// co-mounted group, "name=systemd" for named hierarchies) and "" for cgroup2.
  static func ownCgroups(text: String? = nil) throws -> [String: String] {
    let content = try text ?? FS.readText("/proc/self/cgroup")
    var result: [String: String] = [:]
    for line in content.split(separator: "\n") {
      let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
      guard fields.count == 3 else { continue }
      let path = String(fields[2])
      if fields[1].isEmpty {
        if fields[0] == "0" { result[""] = path }
        continue
      }
      for controller in fields[1].split(separator: ",") { result[String(controller)] = path }
    }
    return result
  }
}
