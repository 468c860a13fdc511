import Foundation

/// SVG pictures of a training run, drawn here (no plotting library): the loss and accuracy curves
/// and the confusion matrix.
public enum Charts {
  /// Two panels — loss, accuracy — each with the training and validation curves of a run's epochs.
  /// Accuracy is in percent; the loss is on a log scale when it spans more than a decade.
  public static func curves(_ records: [EpochRecord]) -> String {
    let epochs = records.map { Double($0.epoch) }
    let panelWidth = 420.0
    let panelHeight = 280.0
    var svg = SVG(width: 2 * panelWidth + 60, height: panelHeight + 100)
    svg.text(x: 20, y: 24, "Training curves", size: 16, weight: "bold")
    let train = records.map(\.trainLoss)
    let validation = records.map(\.validationLoss)
    // An early validation-loss spike (BatchNorm statistics still settling) would flatten the rest of the
    // loss curve: the loss axis stops at 3× the largest training loss, and what lies above is marked.
    let cap = 3 * (train.filter(\.isFinite).max() ?? 1)
    let losses = (train + validation).filter { $0.isFinite && $0 > 0 && $0 <= cap }
    let logScale = (losses.max() ?? 1) > 10 * (losses.min() ?? 1)
    svg.lineChart(
      x: 60, y: 64, width: panelWidth - 60, height: panelHeight - 20, title: logScale ? "loss (log scale)" : "loss",
      xs: epochs, series: [("train", "#1f77b4", train), ("validation", "#d62728", validation)],
      scale: logScale ? .log : .linear, cap: cap)
    svg.lineChart(
      x: 70 + panelWidth, y: 64, width: panelWidth - 60, height: panelHeight - 20, title: "accuracy", xs: epochs,
      series: [
        ("train", "#1f77b4", records.map(\.trainAccuracy)),
        ("validation", "#d62728", records.map(\.validationAccuracy)),
      ], scale: .percent)
    return svg.finished
  }

  /// He et al. 2015's Fig. 6 for `runs`: training error (left) and test error (right) per epoch, in
  /// percent, plain networks dashed, residual ones solid, one colour per depth.
  public static func degradation(_ runs: [DegradationRun]) -> String {
    let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    let depths = Array(Set(runs.map(\.depth))).sorted()
    let panelWidth = 420.0
    let panelHeight = 300.0
    var svg = SVG(width: 2 * panelWidth + 60, height: panelHeight + 100)
    svg.text(x: 20, y: 24, "Plain (dashed) and residual (solid) networks", size: 16, weight: "bold")
    let longest = runs.max { $0.records.count < $1.records.count }?.records ?? []
    let epochs = longest.indices.map { Double($0 + 1) }
    let accuracies: [(String, KeyPath<EpochRecord, Double>)] = [
      ("training error", \.trainAccuracy), ("test error", \.validationAccuracy),
    ]
    for (p, (title, accuracy)) in accuracies.enumerated() {
      let series = runs.map { run in
        let errors = run.records.map { 1 - $0[keyPath: accuracy] }
        return (
          name: run.name, color: colors[depths.firstIndex(of: run.depth)! % colors.count],
          values: errors + Array(repeating: .nan, count: max(0, epochs.count - errors.count))
        )
      }
      svg.lineChart(
        x: 60 + Double(p) * (panelWidth + 10), y: 64, width: panelWidth - 60, height: panelHeight - 20, title: title,
        xs: epochs, series: series, scale: .percent, dashed: Set(runs.filter(\.plain).map(\.name)))
    }
    return svg.finished
  }

  /// The gradient norm at each block's input against the block's position, one line per network, on
  /// a log scale (He et al.'s "gradient highway" at initialization).
  public static func gradientNorms(
    _ series: [(name: String, norms: [Double])], title: String, legendColumns: Int? = nil
  ) -> String {
    onePanel(
      title: title, panelTitle: "‖∂L/∂x‖ at each block's input (log scale)", series: series.map { ($0.name, $0.norms) },
      scale: .log, xLabel: "block", legendColumns: legendColumns)
  }

  /// Test accuracy per epoch, in percent, one line per series (a run, or a mean over runs).
  public static func testAccuracy(_ series: [(name: String, accuracies: [Double])], title: String) -> String {
    onePanel(
      title: title, panelTitle: "test accuracy", series: series.map { ($0.name, $0.accuracies) }, scale: .percent,
      xLabel: "epoch", legendColumns: nil)
  }

  /// A titled picture of one line chart, the series' points at 1, 2, 3, … on the x axis.
  private static func onePanel(
    title: String, panelTitle: String, series: [(name: String, values: [Double])], scale: ChartAxis.Scale,
    xLabel: String, legendColumns: Int?
  ) -> String {
    let colors = ["#7f7f7f", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
    let (width, height) = (560.0, 320.0)
    var svg = SVG(width: width + 80, height: height + 100)
    svg.text(x: 20, y: 24, title, size: 15, weight: "bold")
    let points = series.map(\.values.count).max() ?? 1
    svg.lineChart(
      x: 70, y: 70, width: width - 40, height: height - 20, title: panelTitle,
      xs: (1...max(1, points)).map(Double.init),
      series: series.enumerated().map { i, s in (name: s.name, color: colors[i % colors.count], values: s.values) },
      scale: scale, xLabel: xLabel, legendColumns: legendColumns)
    return svg.finished
  }

  /// The confusion matrix, rows the true class, columns the prediction, shaded by the share of the
  /// row, with counts.
  public static func confusion(_ counts: [[Int]], classes: [String]) -> String {
    let n = counts.count
    let cell = n <= 20 ? 36.0 : max(6, 720.0 / Double(n))
    let labelWidth = 8.0 * Double(classes.map(\.count).max() ?? 1) + 16
    let size = Double(n) * cell
    var svg = SVG(width: labelWidth + size + 20, height: labelWidth + size + 60)
    svg.text(x: 10, y: 20, "Confusion matrix (rows: true class, columns: prediction)", size: 14, weight: "bold")
    let top = 40 + labelWidth
    for (i, row) in counts.enumerated() {
      let total = max(row.reduce(0, +), 1)
      for (j, count) in row.enumerated() {
        let share = Double(count) / Double(total)
        let shade = Int(255 - share * 200)
        let color = i == j ? "rgb(\(shade),\(shade),255)" : "rgb(255,\(shade),\(shade))"
        svg.rect(x: labelWidth + Double(j) * cell, y: top + Double(i) * cell, width: cell, height: cell, fill: color)
        if cell >= 24 && count > 0 {
          svg.text(
            x: labelWidth + (Double(j) + 0.5) * cell, y: top + (Double(i) + 0.62) * cell, String(count),
            size: 10, anchor: "middle")
        }
      }
      if cell >= 10 {
        svg.text(x: labelWidth - 6, y: top + (Double(i) + 0.62) * cell, classes[i], size: 11, anchor: "end")
        let x = labelWidth + (Double(i) + 0.6) * cell
        svg.text(x: x, y: top - 6, classes[i], size: 11, rotate: (-60, x, top - 6))
      }
    }
    return svg.finished
  }
}

/// One training run of the degradation experiment: its epochs' records.
public struct DegradationRun: Sendable {
  /// The run's name (`"plain-20"`).
  public let name: String
  /// The network's depth (6n + 2).
  public let depth: Int
  /// Whether it is the plain network.
  public let plain: Bool
  /// One record per epoch.
  public let records: [EpochRecord]

  /// A run's chart data.
  public init(name: String, depth: Int, plain: Bool, records: [EpochRecord]) {
    (self.name, self.depth, self.plain, self.records) = (name, depth, plain, records)
  }
}
