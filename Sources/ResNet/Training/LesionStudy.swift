import Foundation

/// Veit et al. 2016's lesion study: test accuracy with each residual block's branch deleted in turn,
/// so that only its shortcut remains. Blocks whose shortcut is a projection are reported, not deleted
/// (without the branch they would still change the signal); blocks without a shortcut (a plain
/// network) cannot be deleted at all.
public struct LesionStudy: Sendable {
  /// What happened to one block.
  public enum Outcome: Sendable {
    /// Deleted; the network's evaluation without it.
    case deleted(Evaluation)
    /// Not deleted: its shortcut is a 1×1 projection.
    case projection
    /// Not deleted: it has no shortcut (a plain network).
    case noShortcut
  }

  /// One block's row.
  public struct Row: Sendable {
    /// torchvision's name of the block (`"layer1.0"`).
    public let block: String
    /// The outcome.
    public let outcome: Outcome
  }

  /// The intact network's evaluation.
  public let intact: Evaluation
  /// Every block in order.
  public let rows: [Row]

  /// Evaluates `network` intact, then with each block deleted in turn, on `loader`'s images.
  public static func run(_ network: Network, loader: DataLoader) throws -> LesionStudy {
    let intact = try Evaluation.run(network, loader: loader)
    var rows: [Row] = []
    for (index, (name, block)) in network.namedBlocks.enumerated() {
      let blockName = String(name.dropLast())  // "layer1.0." → "layer1.0"
      if !block.hasShortcut {
        rows.append(Row(block: blockName, outcome: .noShortcut))
      } else if block.downsample != nil {
        rows.append(Row(block: blockName, outcome: .projection))
      } else {
        let lesioned = try Evaluation.run(network, loader: loader, deletingBlocks: [index])
        rows.append(Row(block: blockName, outcome: .deleted(lesioned)))
      }
    }
    return LesionStudy(intact: intact, rows: rows)
  }

  /// `block,outcome,accuracy,change`: one row per block, the accuracy change against the intact
  /// network in percentage points; empty accuracy for blocks not deleted.
  public var csv: String {
    var lines = ["block,outcome,accuracy,change", "none,intact,\(intact.accuracy),0"]
    for row in rows {
      switch row.outcome {
      case .deleted(let e): lines.append("\(row.block),deleted,\(e.accuracy),\(100 * (e.accuracy - intact.accuracy))")
      case .projection: lines.append("\(row.block),projection shortcut: not deleted,,")
      case .noShortcut: lines.append("\(row.block),no shortcut: cannot be deleted,,")
      }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// A bar per block: the test accuracy with that block deleted, the intact accuracy as a line;
  /// blocks not deleted are marked and left without a bar.
  public func chart(title: String) -> String {
    let barWidth = 34.0
    let (left, top, height) = (60.0, 50.0, 260.0)
    var svg = SVG(width: left + Double(rows.count) * barWidth + 40, height: top + height + 90)
    svg.text(x: 20, y: 24, title, size: 15, weight: "bold")
    func py(_ accuracy: Double) -> Double { top + height * (1 - accuracy) }
    svg.line(left, top, left, top + height)
    svg.line(left, top + height, left + Double(rows.count) * barWidth, top + height)
    for k in 0...5 {
      let v = Double(k) / 5
      svg.line(left - 4, py(v), left, py(v))
      svg.text(x: left - 6, y: py(v) + 4, "\(Int(100 * v))%", size: 10, anchor: "end")
    }
    for (i, row) in rows.enumerated() {
      let x = left + Double(i) * barWidth
      switch row.outcome {
      case .deleted(let e):
        svg.rect(x: x + 4, y: py(e.accuracy), width: barWidth - 8, height: height * e.accuracy, fill: "#1f77b4")
      case .projection: svg.text(x: x + barWidth / 2, y: top + height - 6, "proj", size: 9, anchor: "middle")
      case .noShortcut: svg.text(x: x + barWidth / 2, y: top + height - 6, "plain", size: 9, anchor: "middle")
      }
      svg.text(
        x: x + barWidth / 2, y: top + height + 12, row.block, size: 9, anchor: "end",
        rotate: (-60, x + barWidth / 2, top + height + 12))
    }
    svg.line(left, py(intact.accuracy), left + Double(rows.count) * barWidth, py(intact.accuracy), color: "#d62728")
    svg.text(
      x: left + 4, y: py(intact.accuracy) - 4, "intact \(format3(100 * intact.accuracy))%", size: 10)
    return svg.finished
  }

  /// Writes `lesion.csv` and `lesion.svg` into `folder` (created if needed), each atomically.
  public func write(to folder: String, title: String) throws {
    try makeFolder(folder)
    try writeFileAtomically(folder + "/lesion.csv", Array(csv.utf8))
    try writeFileAtomically(folder + "/lesion.svg", Array(chart(title: title).utf8))
  }
}
