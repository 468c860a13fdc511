import Foundation
import ResNet
import Testing

/// The charts read well: value axes tick at round values (1-2-5 steps, percent for accuracy and
/// error, a log scale for a loss spanning more than a decade), values cut off by the axis are marked,
/// and no text is drawn over other text.
@Suite struct ChartTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

  /// The shipped model's 30 epochs (Models/fashion-mnist/metrics.csv).
  static func records() throws -> [EpochRecord] { try RunFolder(root + "/Models/fashion-mnist").metrics() }

  /// A `<text>` element: its content and an estimate of its box (glyphs 0.6 × the font size wide on
  /// average, which Helvetica and DejaVu Sans stay under; from 0.8 × size above the baseline to 0.25 × below).
  struct TextBox {
    let content: String
    let x: Double, y: Double, size: Double
    let left: Double, right: Double, top: Double, bottom: Double
    let rotated: Bool
    let anchor: String

    func overlaps(_ other: TextBox) -> Bool {
      left < other.right && other.left < right && top < other.bottom && other.top < bottom
    }
  }

  static func texts(_ svg: String) -> [TextBox] {
    let pattern =
      #/<text x="([-0-9.]+)" y="([-0-9.]+)" font-size="([0-9.]+)" font-weight="\w+" text-anchor="(\w+)"( transform="[^"]*")?>([^<]*)</text>/#
    return svg.matches(of: pattern).map { m in
      let (x, y, size) = (Double(m.1)!, Double(m.2)!, Double(m.3)!)
      let content = String(m.6).replacingOccurrences(of: "&amp;", with: "&").replacingOccurrences(of: "&lt;", with: "<")
        .replacingOccurrences(of: "&gt;", with: ">")
      let width = 0.6 * size * Double(content.count)
      let left = m.4 == "end" ? x - width : m.4 == "middle" ? x - width / 2 : x
      return TextBox(
        content: content, x: x, y: y, size: size, left: left, right: left + width, top: y - 0.8 * size,
        bottom: y + 0.25 * size, rotated: m.5 != nil, anchor: String(m.4))
    }
  }

  /// The value-axis tick labels of each panel (right-aligned 10-point text), left panel first.
  static func valueLabels(_ svg: String) -> [[String]] {
    let ticks = texts(svg).filter { $0.anchor == "end" && $0.size == 10 && !$0.rotated }
    let columns = Set(ticks.map(\.x)).sorted()
    // Bottom to top: the lowest value first.
    return columns.map { x in ticks.filter { $0.x == x }.sorted { $0.y > $1.y }.map(\.content) }
  }

  /// Expects the labels to be evenly spaced by 1, 2 or 5 × 10ᵏ (after dropping a trailing "%").
  static func expectRoundSteps(_ labels: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    let values = labels.map { Double($0.replacingOccurrences(of: "%", with: ""))! }
    #expect(values.count >= 3 && values.count <= 11, "\(labels)", sourceLocation: sourceLocation)
    let step = values[1] - values[0]
    let mantissa = step / pow(10, floor(log10(step)))
    #expect(
      [1.0, 2, 5].contains { abs(mantissa - $0) < 1e-6 }, "\(labels): step \(step)", sourceLocation: sourceLocation)
    for (a, b) in zip(values, values.dropFirst()) {
      #expect(abs(b - a - step) < 1e-6 * step, "\(labels)", sourceLocation: sourceLocation)
    }
    for v in values {
      #expect(
        abs(v / step - (v / step).rounded()) < 1e-6, "\(v) is not a multiple of \(step)", sourceLocation: sourceLocation
      )
    }
  }

  static func expectNoOverlaps(_ svg: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let boxes = texts(svg).filter { !$0.rotated }
    #expect(boxes.count > 10, sourceLocation: sourceLocation)
    for (i, a) in boxes.enumerated() {
      for b in boxes[(i + 1)...] where a.overlaps(b) {
        Issue.record("\(what): \"\(a.content)\" overlaps \"\(b.content)\"", sourceLocation: sourceLocation)
      }
    }
    // And nothing leaves the picture.
    let size = svg.firstMatch(of: #/width="(\d+)" height="(\d+)"/#)!
    let (width, height) = (Double(size.1)!, Double(size.2)!)
    for box in boxes where box.left < 0 || box.right > width || box.top < 0 || box.bottom > height {
      Issue.record(
        "\(what): \"\(box.content)\" leaves the \(width) × \(height) picture", sourceLocation: sourceLocation)
    }
  }

  @Test func trainingCurvesTickAtRoundValuesAndAccuracyInPercent() throws {
    let svg = Charts.curves(try Self.records())
    let labels = Self.valueLabels(svg)
    #expect(labels == [["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"], ["60%", "70%", "80%", "90%", "100%"]])
    #expect(svg.contains(">loss</text>") && !svg.contains("above the axis"))
    Self.expectNoOverlaps(svg, "curves.svg")
  }

  @Test func aLossSpanningDecadesIsDrawnOnALogScale() throws {
    var records = try Self.records()
    for i in records.indices {
      records[i].trainLoss = 2.3 * pow(0.8, Double(i))  // 2.3 down to 0.003
      records[i].validationLoss = 2.0 * pow(0.82, Double(i))
    }
    let svg = Charts.curves(records)
    #expect(svg.contains(">loss (log scale)</text>"))
    #expect(Self.valueLabels(svg)[0] == ["0.001", "0.01", "0.1", "1", "10"])
    // Within two decades, the log axis ticks at 1, 2 and 5.
    for i in records.indices {
      records[i].trainLoss = 2.3 * pow(0.9, Double(i))  // 2.3 down to 0.11
      records[i].validationLoss = records[i].trainLoss
    }
    #expect(Self.valueLabels(Charts.curves(records))[0] == ["0.1", "0.2", "0.5", "1", "2", "5"])
  }

  @Test func aValueAboveTheAxisIsMarked() throws {
    var records = try Self.records()
    records[7].validationLoss = 40
    let svg = Charts.curves(records)
    let top = try #require(Self.valueLabels(svg)[0].last.flatMap(Double.init))
    #expect(top < 40 && top <= 3 * 0.9 + 0.5)
    #expect(svg.contains(">above the axis</text>"))
    // The marker at the clipped point and the legend's.
    #expect(svg.matches(of: #/<polygon /#).count == 2)
    Self.expectNoOverlaps(svg, "curves.svg with a clipped point")
  }

  @Test func roundTicksForAnyRange() throws {
    var generator = SeededGenerator(seed: 11)
    var records = try Self.records()
    for _ in 0..<40 {
      let low = Double(generator.nextUniform())
      let high = low + (1 - low) * Double(generator.nextUniform())
      for i in records.indices {
        let t = Double(i) / Double(records.count - 1)
        records[i].trainAccuracy = low + (high - low) * t
        records[i].validationAccuracy = records[i].trainAccuracy
        records[i].trainLoss = 0.5 + Double(generator.nextUniform())
        records[i].validationLoss = records[i].trainLoss
      }
      let labels = Self.valueLabels(Charts.curves(records))
      Self.expectRoundSteps(labels[0])
      Self.expectRoundSteps(labels[1])
      #expect(labels[1].allSatisfy { $0.hasSuffix("%") })
    }
  }

  @Test func experimentChartsPutNoTextOverOtherText() throws {
    let docs = Self.root + "/docs/degradation-15-epochs/"
    let records = try Self.records()
    let runs = [("plain-20", 20, true), ("resnet-20", 20, false), ("plain-56", 56, true), ("resnet-56", 56, false)]
      .map { DegradationRun(name: $0.0, depth: $0.1, plain: $0.2, records: records) }
    let degradation = Charts.degradation(runs)
    Self.expectNoOverlaps(degradation, "degradation.svg")
    #expect(Self.valueLabels(degradation).allSatisfy { $0.allSatisfy { $0.hasSuffix("%") } })
    // The gradient study's nine series, names as long as the experiment's.
    let lines = try String(contentsOfFile: docs + "gradients.csv", encoding: .utf8).split(separator: "\n")
    let names = lines[0].split(separator: ",").dropFirst().map(String.init)
    let rows = lines.dropFirst().map { $0.split(separator: ",").dropFirst().map { Double($0)! } }
    let series = names.enumerated().map { i, name in (name: name, norms: rows.map { $0[i] }) }
    let gradients = Charts.gradientNorms(series, title: "Gradients at initialization, depth 56")
    Self.expectNoOverlaps(gradients, "gradients.svg")
    // Twenty-six decades: ticks at powers of ten evenly spaced in exponent, a handful of them, the
    // smallest and largest norms inside.
    let exponents = Self.valueLabels(gradients)[0].map { log10(Double($0)!) }
    #expect(exponents.count >= 4 && exponents.count <= 9, "\(exponents)")
    #expect(exponents.allSatisfy { abs($0 - $0.rounded()) < 1e-9 })
    #expect(Set(zip(exponents, exponents.dropFirst()).map { ($1 - $0).rounded() }).count == 1)
    let norms = series.flatMap(\.norms).filter { $0 > 0 }
    #expect(exponents.first! <= log10(norms.min()!) && exponents.last! >= log10(norms.max()!))
  }
}
