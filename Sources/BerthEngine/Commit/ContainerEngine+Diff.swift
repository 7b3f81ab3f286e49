import BerthImages
import BerthOS
import Foundation

extension ContainerEngine {
  /// `berth diff`: the changes in the container's writable layer against its image, in
  /// Docker's order and words. Read from the overlay upper directory, so it works whether the
  /// container runs or not.
  public func diff(_ record: ContainerRecord) throws -> [FileChange] {
    let upper = layout.upper(record.id)
    guard FS.isDirectory(upper) else {
      throw BerthError(.notFound, "container \(record.shortID) has no writable layer at \(upper) (was it removed while this ran?)")
    }
    return try ChangeWalker(upper: upper, lowers: inspection(record).lowerDirectories).changes()
  }

  /// The mountpoints a runtime made in `upper` for /proc, /sys, /dev and the engine's /etc
  /// files where the image (`lowers`, top first) lacks them, and the directories made only to
  /// hold them: what `commit` leaves out of a layer (pass them as `excluding` to
  /// `ImageCommitter.commitLayer`).
  public static func mountpointStubs(upper: String, lowers: [String]) -> Set<String> {
    ChangeWalker(upper: upper, lowers: lowers).mountStubs()
  }
}
