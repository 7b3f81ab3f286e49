/// `JSONValue` passes through BerthJSON's own coders untouched; with other coders (Foundation,
/// property lists) it maps to the nearest native values.
extension JSONValue: Codable {
  public init(from decoder: any Decoder) throws {
    if let ours = decoder as? JSONValueDecoder {
      self = ours.value
      return
    }
    if let container = try? decoder.container(keyedBy: StringKey.self) {
      var object = JSONObject()
      for key in container.allKeys {
        object[key.stringValue] = try container.decode(JSONValue.self, forKey: key)
      }
      self = .object(object)
    } else if var container = try? decoder.unkeyedContainer() {
      var elements: [JSONValue] = []
      while !container.isAtEnd { elements.append(try container.decode(JSONValue.self)) }
      self = .array(elements)
    } else {
      let container = try decoder.singleValueContainer()
      if container.decodeNil() {
        self = .null
      } else if let flag = try? container.decode(Bool.self) {
        self = .bool(flag)
      } else if let integer = try? container.decode(Int64.self) {
        self = .number(JSONNumber(integer))
      } else if let integer = try? container.decode(UInt64.self) {
        self = .number(JSONNumber(integer))
      } else if let double = try? container.decode(Double.self), let number = JSONNumber(double) {
        self = .number(number)
      } else {
        self = .string(try container.decode(String.self))
      }
    }
  }

  public func encode(to encoder: any Encoder) throws {
    if let ours = encoder as? JSONValueEncoder {
      ours.store(self)
      return
    }
    switch self {
    case .null:
      var container = encoder.singleValueContainer()
      try container.encodeNil()
    case .bool(let flag):
      var container = encoder.singleValueContainer()
      try container.encode(flag)
    case .number(let number):
      var container = encoder.singleValueContainer()
      if let integer = number.int64 {
        try container.encode(integer)
      } else if let integer = number.uint64 {
        try container.encode(integer)
      } else if let double = number.double {
        try container.encode(double)
      } else {
        throw EncodingError.invalidValue(
          self, .init(codingPath: encoder.codingPath, debugDescription: "\(number) is out of range for Double"))
      }
    case .string(let string):
      var container = encoder.singleValueContainer()
      try container.encode(string)
    case .array(let elements):
      var container = encoder.unkeyedContainer()
      for element in elements { try container.encode(element) }
    case .object(let object):
      var container = encoder.container(keyedBy: StringKey.self)
      for (key, value) in object { try container.encode(value, forKey: StringKey(key)) }
    }
  }
}
