/// A closed set of string values in the spec: decoding an unknown one fails with an error that
/// lists the values that would have worked.
public protocol SpecEnum: RawRepresentable, CaseIterable, Codable where RawValue == String {}

extension SpecEnum {
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let raw = try container.decode(String.self)
    guard let value = Self(rawValue: raw) else {
      let known = Self.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
      throw DecodingError.dataCorruptedError(
        in: container, debugDescription: "unknown value \"\(raw)\" (use one of \(known))")
    }
    self = value
  }
}
