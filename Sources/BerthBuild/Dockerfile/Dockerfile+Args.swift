import BerthOS

extension Dockerfile {
  /// What an ARG instruction inside a stage sets, in declaration order, the way BuildKit does
  /// it: a build arg given for the name wins, as given (not expanded); else the default,
  /// expanded with `environment` plus the names set before it in the same instruction; else
  /// the global ARG's value (`ARG NAME` re-declares a global in a stage); else nil (declared but
  /// unset: it expands to ""). `line` is for messages.
  public func argValues(
    _ declarations: [ArgDeclaration], environment: [String: String], buildArgs: [String: String],
    globalValues: [String: String], line: Int
  ) throws -> [(name: String, value: String?)] {
    let expander = WordExpander(escape: escape)
    var scope = environment
    var values: [(name: String, value: String?)] = []
    for declaration in declarations {
      var value: String?
      if let given = buildArgs[declaration.name] {
        value = given
      } else if let raw = declaration.defaultValue {
        do {
          value = try expander.expand(raw, environment: scope)
        } catch let error as BerthError {
          throw BerthError(.invalidArgument, "\(fileName):\(line): ARG: \(error.message)")
        }
      } else {
        value = globalValues[declaration.name]
      }
      if let value { scope[declaration.name] = value }
      values.append((declaration.name, value))
    }
    return values
  }
}
