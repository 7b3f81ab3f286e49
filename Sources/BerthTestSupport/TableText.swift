import Foundation

/// A table as berth prints it (columns aligned, at least three spaces apart): one dictionary
/// per row, by header. Cells are cut at the header's column starts.
public func tableRows(_ text: String) -> [[String: String]] {
  let lines = text.split(separator: "\n").map { Array($0) }
  guard let header = lines.first else { return [] }
  var starts: [Int] = []
  for index in header.indices where header[index] != " " && (index == 0 || (index >= 2 && header[index - 1] == " " && header[index - 2] == " ")) {
    starts.append(index)
  }
  func cell(_ line: [Character], _ column: Int) -> String {
    let start = min(starts[column], line.count)
    let end = column + 1 < starts.count ? min(starts[column + 1], line.count) : line.count
    return String(line[start..<end]).trimmingCharacters(in: .whitespaces)
  }
  let names = starts.indices.map { cell(header, $0) }
  return lines.dropFirst().map { line in
    Dictionary(names.indices.map { (names[$0], cell(line, $0)) }, uniquingKeysWith: { first, _ in first })
  }
}

/// Splits a table line (columns padded with at least two spaces) into its cells; empty cells
/// are dropped.
public func tableCells(_ line: String) -> [String] {
  line.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}
