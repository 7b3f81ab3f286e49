import BerthOS

extension Dockerfile {
  /// The stage a `COPY --from=`/`FROM` reference names: an `AS` name (case-insensitive) or an
  /// index ("0"). `before` limits the search to stages before that index (a stage can only use
  /// earlier ones). Nil when it names no stage (then it is an image reference).
  public func stageIndex(forReference reference: String, before limit: Int? = nil) -> Int? {
    let end = min(limit ?? stages.count, stages.count)
    let lowered = reference.lowercased()
    if let byName = stages[..<end].firstIndex(where: { $0.name == lowered }) { return byName }
    if let number = Int(reference), number >= 0, number < end, String(number) == reference { return number }
    return nil
  }

  /// The stage `--target` selects (the last stage without one). Throws when no stage has that name.
  public func targetStageIndex(_ target: String?) throws -> Int {
    guard let target, !target.isEmpty else {
      guard !stages.isEmpty else { throw BerthError(.invalidArgument, "\(fileName): no build stage: add a FROM instruction") }
      return stages.count - 1
    }
    guard let index = stages.firstIndex(where: { $0.name == target.lowercased() }) else {
      let names = stages.compactMap(\.name)
      let known = names.isEmpty ? "the Dockerfile names no stage (FROM image AS name)" : "stages: " + names.joined(separator: ", ")
      throw BerthError(.invalidArgument, "target stage \"\(target)\" could not be found in \(fileName) (\(known))")
    }
    return index
  }

  /// The values of the global ARGs (before the first FROM), for expanding FROM lines: a build
  /// arg given for a declared name wins over its default; defaults are expanded in order.
  /// Build args for undeclared names are not included (Docker's rule).
  public func globalArgValues(buildArgs: [String: String]) throws -> [String: String] {
    var values: [String: String] = [:]
    let expander = WordExpander(escape: escape)
    for instruction in globalArgs {
      guard case .arg(let declarations) = instruction.kind else { continue }
      for declaration in declarations {
        if let given = buildArgs[declaration.name] {
          values[declaration.name] = given
        } else if let raw = declaration.defaultValue {
          do {
            values[declaration.name] = try expander.expand(raw, environment: values)
          } catch let error as BerthError {
            throw BerthError(.invalidArgument, "\(fileName):\(instruction.line): \(error.message)")
          }
        }
      }
    }
    return values
  }
}
