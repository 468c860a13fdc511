import Foundation

/// SVG pictures of a training run, drawn here (no plotting library): the loss and accuracy curves
/// and the confusion matrix.
public enum Charts {
  /// Two panels — loss, accuracy — each with the training and validation curves of a run's epochs.
  public static func curves(_ records: [EpochRecord]) -> String {
    let epochs = records.map { Double($0.epoch) }
    let panelWidth = 420.0
    let panelHeight = 280.0
    var svg = SVG(width: 2 * panelWidth + 60, height: panelHeight + 70)
    svg.text(x: 20, y: 24, "Training curves", size: 16, weight: "bold")
    for (p, (title, train, validation)) in [
      ("loss", records.map(\.trainLoss), records.map(\.validationLoss)),
      ("accuracy", records.map(\.trainAccuracy), records.map(\.validationAccuracy)),
    ].enumerated() {
      let left = 60 + Double(p) * (panelWidth + 10)
      // An early validation-loss spike (BatchNorm statistics still settling) would flatten the rest
      // of the loss curve: the loss axis stops at 3× the largest training loss.
      let cap = p == 0 ? 3 * (train.filter(\.isFinite).max() ?? 1) : nil
      svg.lineChart(
        x: left, y: 40, width: panelWidth - 60, height: panelHeight - 20, title: title, xs: epochs,
        series: [("train", "#1f77b4", train), ("validation", "#d62728", validation)], cap: cap)
    }
    return svg.finished
  }

  /// He et al. 2015's Fig. 6 for `runs`: training error (left) and test error (right) per epoch,
  /// plain networks dashed, residual ones solid, one colour per depth.
  public static func degradation(_ runs: [DegradationRun]) -> String {
    let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    let depths = Array(Set(runs.map(\.depth))).sorted()
    let panelWidth = 420.0
    let panelHeight = 300.0
    let legendRows = Double((runs.count + 3) / 4)
    var svg = SVG(width: 2 * panelWidth + 60, height: panelHeight + 70 + 16 * legendRows)
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
        x: 60 + Double(p) * (panelWidth + 10), y: 40, width: panelWidth - 60, height: panelHeight - 20, title: title,
        xs: epochs, series: series, dashed: Set(runs.filter(\.plain).map(\.name)))
    }
    return svg.finished
  }

  /// The gradient norm at each block's input against the block's position, one line per network, on
  /// a log scale (He et al.'s "gradient highway" at initialization).
  public static func gradientNorms(
    _ series: [(name: String, norms: [Double])], title: String, legendColumns: Int = 4
  ) -> String {
    let colors = ["#7f7f7f", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
    let width = 560.0
    let height = 320.0
    var svg = SVG(
      width: width + 80, height: height + 80 + 16 * Double((series.count + legendColumns - 1) / legendColumns))
    svg.text(x: 20, y: 24, title, size: 15, weight: "bold")
    let blocks = series.map(\.norms.count).max() ?? 1
    svg.lineChart(
      x: 70, y: 50, width: width - 40, height: height - 20, title: "‖∂L/∂x‖ at each block's input (log scale)",
      xs: (1...max(1, blocks)).map(Double.init),
      series: series.enumerated().map { i, s in
        (name: s.name, color: colors[i % colors.count], values: s.norms.map { $0 > 0 ? log10($0) : .nan })
      }, xLabel: "block", tickLabel: { "1e" + String(format: "%.1f", $0) }, legendColumns: legendColumns)
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

/// A minimal SVG builder.
struct SVG {
  private var body = ""
  let width: Double
  let height: Double

  init(width: Double, height: Double) {
    self.width = width
    self.height = height
    body += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
  }

  var finished: String {
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
      + "font-family=\"Helvetica, Arial, sans-serif\">\n" + body + "</svg>\n"
  }

  mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String) {
    body +=
      "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"\(fill)\" stroke=\"#ccc\" stroke-width=\"0.5\"/>\n"
  }

  mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, color: String = "#333") {
    body +=
      "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(color)\" stroke-width=\"1\"/>\n"
  }

  mutating func text(
    x: Double, y: Double, _ content: String, size: Double = 11, weight: String = "normal",
    anchor: String = "start", rotate: (Double, Double, Double)? = nil
  ) {
    let transform = rotate.map { " transform=\"rotate(\(f($0.0)) \(f($0.1)) \(f($0.2)))\"" } ?? ""
    body +=
      "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(f(size))\" font-weight=\"\(weight)\" text-anchor=\"\(anchor)\"\(transform)>\(escape(content))</text>\n"
  }

  /// Axes, ticks, a title, a legend and one polyline per series (NaN points skipped); series named in
  /// `dashed` are drawn dashed, and `tickLabel` writes the value axis's labels.
  mutating func lineChart(
    x: Double, y: Double, width: Double, height: Double, title: String, xs: [Double],
    series: [(name: String, color: String, values: [Double])], cap: Double? = nil, dashed: Set<String> = [],
    xLabel: String = "epoch", tickLabel: (Double) -> String = format3, legendColumns: Int = 4
  ) {
    let values = series.flatMap(\.values).filter(\.isFinite)
    var low = values.min() ?? 0
    var high = min(values.max() ?? 1, cap ?? .infinity)
    if high - low < 1e-9 {
      low -= 0.5
      high += 0.5
    }
    let pad = (high - low) * 0.05
    (low, high) = (low - pad, high + pad)
    let firstX = xs.first ?? 0
    let lastX = max(xs.last ?? 1, firstX + 1)
    func px(_ v: Double) -> Double { x + (v - firstX) / (lastX - firstX) * width }
    func py(_ v: Double) -> Double { y + height - (min(v, high) - low) / (high - low) * height }
    text(x: x + width / 2, y: y - 4, title, size: 13, weight: "bold", anchor: "middle")
    line(x, y + height, x + width, y + height)
    line(x, y, x, y + height)
    for k in 0...4 {
      let v = low + (high - low) * Double(k) / 4
      line(x - 4, py(v), x, py(v))
      text(x: x - 6, y: py(v) + 4, tickLabel(v), size: 10, anchor: "end")
    }
    let step = max(1, Int((lastX - firstX) / 8))
    var e = Int(firstX)
    while Double(e) <= lastX {
      line(px(Double(e)), y + height, px(Double(e)), y + height + 4)
      text(x: px(Double(e)), y: y + height + 16, String(e), size: 10, anchor: "middle")
      e += step
    }
    text(x: x + width, y: y + height + 32, xLabel, size: 11, anchor: "end")
    for (k, s) in series.enumerated() {
      let points = zip(xs, s.values).filter { $0.1.isFinite }.map { "\(f(px($0.0))),\(f(py($0.1)))" }
      let dash = dashed.contains(s.name) ? " stroke-dasharray=\"6 4\"" : ""
      body +=
        "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"\(dash) points=\"\(points.joined(separator: " "))\"/>\n"
      for point in points.count == 1 ? points : [] {
        let xy = point.split(separator: ",")
        body += "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"3\" fill=\"\(s.color)\"/>\n"
      }
      let lx = x + Double(k % legendColumns) * 100
      let ly = y + height + 28 + Double(k / legendColumns) * 16
      body +=
        "<line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 20))\" y2=\"\(f(ly))\" stroke=\"\(s.color)\" stroke-width=\"2\"\(dash)/>\n"
      text(x: lx + 24, y: ly + 4, s.name, size: 11)
    }
  }

  private func f(_ v: Double) -> String { String((v * 10).rounded() / 10) }

  private func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;")
  }
}

/// `v` with 3 significant decimals.
func format3(_ v: Double) -> String { String((v * 1000).rounded() / 1000) }
