import BerthOS
import CArchive

#if canImport(Glibc)
  import Glibc
#endif

extension BerthError.Code {
  /// A tar stream or its compression is malformed, truncated or not what it claims to be.
  public static let invalidArchive = BerthError.Code("invalidArchive")
  /// An archive entry would reach outside the destination directory (`..`, a symlink or a
  /// hardlink out of the tree).
  public static let unsafeArchiveEntry = BerthError.Code("unsafeArchiveEntry")
  /// The work was stopped before it finished (`LayerUnpacker.cancel()`, task cancellation).
  public static let cancelled = BerthError.Code("cancelled")
}

extension BerthError {
  /// The error libarchive recorded on `archive`, as a `BerthError`: `.system` with the errno
  /// when libarchive reports one that is a real I/O error, `.invalidArchive` otherwise.
  static func libarchive(_ archive: OpaquePointer?, _ what: String) -> BerthError {
    let text = archive.flatMap { archive_error_string($0) }.map { String(cString: $0) } ?? "unknown libarchive error"
    let number = archive.map { archive_errno($0) } ?? 0
    if number == ENOSPC || number == EIO || number == EDQUOT || number == ENOMEM {
      return BerthError(.system, "\(what): \(text)", errno: number)
    }
    return BerthError(.invalidArchive, "\(what): \(text)")
  }
}

/// The error to report for `error`: a `BerthError` stays as it is, anything else is wrapped.
func berthError(_ error: any Error) -> BerthError {
  if let error = error as? BerthError { return error }
  return BerthError(.internalError, "\(error)")
}

/// A libarchive status that lets the work go on: OK, or WARN (a detail it could not keep, such
/// as a name it could not convert). RETRY ("Damaged tar archive") and worse are failures.
@inline(__always)
func succeeded(_ status: Int32) -> Bool {
  status == ARCHIVE_OK || status == ARCHIVE_WARN
}
