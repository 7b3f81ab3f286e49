import BerthOS

#if canImport(Glibc)
  import Glibc
#endif

/// A tar member name, cleaned the way tar does before extracting it: leading "/" and "./"
/// removed, "." components and repeated or trailing slashes dropped. A name with a ".."
/// component is refused: no legitimate layer needs one, and it is the classic way out of the
/// destination. Names are bytes, not Strings: a file name need not be valid UTF-8, and it
/// must reach the disk unchanged.
struct EntryPath: Hashable {
  /// "a/b/c"; empty for the root of the archive ("./", "/").
  let bytes: [UInt8]
  /// Where the last component starts in `bytes`.
  let nameStart: Int

  init(cleaning raw: UnsafeBufferPointer<UInt8>, entry: @autoclosure () -> String) throws {
    let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
    var result: [UInt8] = []
    result.reserveCapacity(raw.count)
    var lastStart = 0
    var index = 0
    let count = raw.count
    while index < count {
      var end = index
      while end < count && raw[end] != slash { end += 1 }
      let length = end - index
      if length == 0 || (length == 1 && raw[index] == dot) {
        // Empty (repeated slash) or ".": nothing.
      } else if length == 2 && raw[index] == dot && raw[index + 1] == dot {
        throw BerthError(.unsafeArchiveEntry, "entry \(quoted(entry())): a path with \"..\" could leave the destination")
      } else {
        if !result.isEmpty { result.append(slash) }
        lastStart = result.count
        result.append(contentsOf: UnsafeBufferPointer(rebasing: raw[index..<end]))
      }
      index = end + 1
    }
    bytes = result
    nameStart = lastStart
  }

  init(cleaning text: String) throws {
    var copy = text
    self = try copy.withUTF8 { try EntryPath(cleaning: $0, entry: text) }
  }

  /// The path of the archive's root itself.
  var isRoot: Bool { bytes.isEmpty }
  /// The last component.
  var name: ArraySlice<UInt8> { bytes[nameStart...] }
  /// Everything before the last component ("" for a top-level name).
  var parent: ArraySlice<UInt8> { nameStart == 0 ? bytes[0..<0] : bytes[0..<(nameStart - 1)] }
  /// The path for messages (invalid UTF-8 shown as U+FFFD).
  var display: String { String(decoding: bytes, as: UTF8.self) }
}

/// Calls `body` with `bytes` as a NUL-terminated C string, on the stack when short.
@inline(__always)
func withCPath<R>(_ bytes: some Collection<UInt8>, _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
  try withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { buffer in
    var index = 0
    for byte in bytes {
      buffer[index] = CChar(bitPattern: byte)
      index += 1
    }
    buffer[index] = 0
    return try body(UnsafePointer(buffer.baseAddress.unsafelyUnwrapped))
  }
}

/// The bytes of a C string.
@inline(__always)
func cStringBytes(_ pointer: UnsafePointer<CChar>) -> UnsafeBufferPointer<UInt8> {
  UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: strlen(pointer))
}
