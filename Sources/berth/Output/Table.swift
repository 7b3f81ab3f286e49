/// Columns aligned like Go's tabwriter as Docker's CLI sets it up (padding 3).
struct TextTable {
  var rows: [[String]] = []

  init(header: [String]) { rows.append(header) }
  init(rows: [[String]]) { self.rows = rows }

  mutating func add(_ row: [String]) { rows.append(row) }

  func render() -> String {
    guard let columns = rows.map(\.count).max(), columns > 0 else { return "" }
    var widths = [Int](repeating: 0, count: columns)
    for row in rows {
      for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
    }
    var output = ""
    for row in rows {
      var line = ""
      for (index, cell) in row.enumerated() {
        line += cell
        if index < row.count - 1 { line += String(repeating: " ", count: widths[index] - cell.count + 3) }
      }
      while line.hasSuffix(" ") { line.removeLast() }
      output += line + "\n"
    }
    return output
  }
}
