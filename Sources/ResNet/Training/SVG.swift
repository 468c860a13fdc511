import Foundation

/// A minimal SVG builder, with the line chart that the training and experiment charts share.
struct SVG {
  private var body = ""
  let width: Double
  /// The picture's height; a chart that needs more room below grows it.
  private(set) var height: Double

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

  /// A small triangle pointing up at (`x`, `y`): a value above the axis, drawn at its top.
  mutating func clippedMarker(x: Double, y: Double, color: String) {
    body +=
      "<polygon points=\"\(f(x - 4)),\(f(y + 3)) \(f(x + 4)),\(f(y + 3)) \(f(x)),\(f(y - 4))\" fill=\"\(color)\"/>\n"
  }

  /// A line chart in the box at (`x`, `y`) of `width` × `height`: its title above it, a value axis of
  /// `scale` with round ticks and light grid lines, the whole-number axis `xs` (epochs, blocks) below
  /// it with `xLabel` centred under its ticks, one polyline per series (NaN points, and zero or
  /// negative ones on a log axis, skipped), series named in `dashed` dashed, and a legend below in as
  /// many columns as fit (or `legendColumns`). Values above `cap` are drawn at the axis's top as ▲,
  /// and the legend says so. Grows the picture to fit the legend.
  mutating func lineChart(
    x: Double, y: Double, width: Double, height: Double, title: String, xs: [Double],
    series: [(name: String, color: String, values: [Double])], scale: ChartAxis.Scale = .linear,
    cap: Double? = nil, dashed: Set<String> = [], xLabel: String = "epoch", legendColumns: Int? = nil
  ) {
    func drawable(_ v: Double) -> Bool { v.isFinite && (scale != .log || v > 0) }
    let values = series.flatMap(\.values).filter(drawable)
    let shown = values.filter { $0 <= cap ?? .infinity }
    let fallback = scale == .log ? 1.0 : 0
    let axis = ChartAxis(
      scale: scale, low: shown.min() ?? values.min() ?? fallback, high: shown.max() ?? values.max() ?? fallback)
    let clipped = values.contains { $0 > axis.high }
    func py(_ v: Double) -> Double { y + height - min(max(axis.fraction(v), 0), 1) * height }
    let firstX = xs.first ?? 0
    let lastX = max(xs.last ?? 1, firstX + 1)
    func px(_ v: Double) -> Double { x + (v - firstX) / (lastX - firstX) * width }

    text(x: x + width / 2, y: y - 10, title, size: 13, weight: "bold", anchor: "middle")
    for tick in axis.ticks {
      if tick != axis.low { line(x, py(tick), x + width, py(tick), color: "#e4e4e4") }
      line(x - 4, py(tick), x, py(tick))
      text(x: x - 6, y: py(tick) + 4, axis.label(tick), size: 10, anchor: "end")
    }
    line(x, y + height, x + width, y + height)
    line(x, y, x, y + height)
    for e in ChartAxis.integerTicks(from: Int(firstX), to: Int(lastX)) {
      line(px(Double(e)), y + height, px(Double(e)), y + height + 4)
      text(x: px(Double(e)), y: y + height + 16, String(e), size: 10, anchor: "middle")
    }
    text(x: x + width / 2, y: y + height + 32, xLabel, size: 11, anchor: "middle")

    var legend = series.map { (name: $0.name, color: $0.color, dashed: dashed.contains($0.name), marker: false) }
    if clipped { legend.append((name: "above the axis", color: "#555", dashed: false, marker: true)) }
    let columnWidth = 36 + 6.6 * Double(legend.map(\.name.count).max() ?? 1)
    let columns = max(1, min(legendColumns ?? Int(width / columnWidth), legend.count))
    for s in series {
      let points = zip(xs, s.values).filter { drawable($0.1) }
      let coordinates = points.map { "\(f(px($0.0))),\(f(py($0.1)))" }
      let dash = dashed.contains(s.name) ? " stroke-dasharray=\"6 4\"" : ""
      body +=
        "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"\(dash) points=\"\(coordinates.joined(separator: " "))\"/>\n"
      if points.count == 1 {
        body += "<circle cx=\"\(f(px(points[0].0)))\" cy=\"\(f(py(points[0].1)))\" r=\"3\" fill=\"\(s.color)\"/>\n"
      }
      for (px0, v) in points where v > axis.high { clippedMarker(x: px(px0), y: y, color: s.color) }
    }
    var bottom = y + height + 36
    for (k, entry) in legend.enumerated() {
      let lx = x + Double(k % columns) * (width / Double(columns))
      let ly = y + height + 52 + Double(k / columns) * 16
      if entry.marker {
        clippedMarker(x: lx + 10, y: ly, color: entry.color)
      } else {
        let dash = entry.dashed ? " stroke-dasharray=\"6 4\"" : ""
        body +=
          "<line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 20))\" y2=\"\(f(ly))\" stroke=\"\(entry.color)\" stroke-width=\"2\"\(dash)/>\n"
      }
      text(x: lx + 26, y: ly + 4, entry.name, size: 11)
      bottom = ly + 8
    }
    self.height = max(self.height, bottom + 12)
  }

  private func f(_ v: Double) -> String { String((v * 10).rounded() / 10) }

  private func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;")
  }
}

/// `v` with 3 significant decimals.
func format3(_ v: Double) -> String { String((v * 1000).rounded() / 1000) }
