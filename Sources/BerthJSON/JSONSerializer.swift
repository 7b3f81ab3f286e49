/// How ``JSON`` writes JSON text.
public struct JSONEncodingOptions: OptionSet, Sendable {
  public let rawValue: Int
  public init(rawValue: Int) { self.rawValue = rawValue }

  /// Indent with two spaces and write `"key": value`, the layout of Go's
  /// `json.MarshalIndent(v, "", "  ")` (what runc prints for `state` and `spec`).
  /// Empty objects and arrays stay on one line as `{}` and `[]`. No trailing newline.
  public static let prettyPrinted = JSONEncodingOptions(rawValue: 1 << 0)
  /// Write object members sorted by key (by UTF-8 bytes, as Go sorts).
  public static let sortedKeys = JSONEncodingOptions(rawValue: 1 << 1)
  /// Accepted for source compatibility with Foundation; slashes are never escaped unless
  /// ``escapingSlashes`` is given, matching Go.
  public static let withoutEscapingSlashes = JSONEncodingOptions(rawValue: 1 << 2)
  /// Write `/` as `\/` (Foundation's default; neither Go nor runc does this).
  public static let escapingSlashes = JSONEncodingOptions(rawValue: 1 << 3)
}

/// Writes a ``JSONValue`` as UTF-8 JSON text.
///
/// Strings escape only what JSON requires: `"`, `\` and control characters (with the short
/// forms `\b \f \n \r \t`, otherwise `\u00XX`). Unlike Go, `<`, `>` and `&` are written as is.
struct JSONSerializer {
  private(set) var output: [UInt8] = []
  private let pretty: Bool
  private let sorted: Bool
  private let escapeSlashes: Bool

  init(options: JSONEncodingOptions) {
    pretty = options.contains(.prettyPrinted)
    sorted = options.contains(.sortedKeys)
    escapeSlashes = options.contains(.escapingSlashes)
  }

  mutating func write(_ value: JSONValue, level: Int = 0) {
    switch value {
    case .null:
      append("null")
    case .bool(let flag):
      append(flag ? "true" : "false")
    case .number(let number):
      output.append(contentsOf: number.text.utf8)
    case .string(let string):
      writeString(string)
    case .array(let elements):
      guard !elements.isEmpty else { return append("[]") }
      output.append(Byte.openBracket)
      for (position, element) in elements.enumerated() {
        if position > 0 { output.append(Byte.comma) }
        newline(level + 1)
        write(element, level: level + 1)
      }
      newline(level)
      output.append(Byte.closeBracket)
    case .object(let object):
      guard !object.isEmpty else { return append("{}") }
      var members = object.members
      if sorted { members.sortByKey() }
      output.append(Byte.openBrace)
      for (position, member) in members.elements.enumerated() {
        if position > 0 { output.append(Byte.comma) }
        newline(level + 1)
        writeString(member.key)
        output.append(Byte.colon)
        if pretty { output.append(UInt8(ascii: " ")) }
        write(member.value, level: level + 1)
      }
      newline(level)
      output.append(Byte.closeBrace)
    }
  }

  private mutating func newline(_ level: Int) {
    guard pretty else { return }
    output.append(Byte.newline)
    output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * level))
  }

  private mutating func append(_ literal: StaticString) {
    output.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
  }

  private mutating func writeString(_ string: String) {
    output.append(Byte.quote)
    // Copy runs of bytes that need no escaping in one go.
    var string = string
    string.withUTF8 { bytes in
      var runStart = 0
      for (position, byte) in bytes.enumerated() {
        let escape: StaticString?
        switch byte {
        case Byte.quote: escape = "\\\""
        case Byte.backslash: escape = "\\\\"
        case UInt8(ascii: "/") where escapeSlashes: escape = "\\/"
        case 0x08: escape = "\\b"
        case 0x0C: escape = "\\f"
        case 0x0A: escape = "\\n"
        case 0x0D: escape = "\\r"
        case 0x09: escape = "\\t"
        case 0..<0x20: escape = ""  // \u00XX, below
        default: escape = nil
        }
        guard let escape else { continue }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<position]))
        runStart = position + 1
        if escape.utf8CodeUnitCount > 0 {
          append(escape)
        } else {
          let hexDigits: StaticString = "0123456789abcdef"
          append("\\u00")
          output.append(hexDigits.utf8Start[Int(byte >> 4)])
          output.append(hexDigits.utf8Start[Int(byte & 0xF)])
        }
      }
      output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
    }
    output.append(Byte.quote)
  }
}
