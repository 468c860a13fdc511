import Foundation

/// A chart's value axis: its range, its ticks at round values and their labels. Linear axes tick at
/// multiples of 1, 2 or 5 × 10ᵏ; percent axes do the same for fractions shown in percent; log axes
/// tick at 1, 2 and 5 × 10ᵏ over up to two decades and at whole decades beyond.
struct ChartAxis {
  /// How values map to positions and how ticks are labelled.
  enum Scale {
    case linear, percent, log
  }

  let scale: Scale
  /// The range drawn, in values; it starts and ends on a tick.
  let low: Double
  let high: Double
  /// The tick values, from `low` to `high`.
  let ticks: [Double]
  /// The tick step of a linear or percent axis (in values), for its labels' decimals.
  private let step: Double

  /// An axis covering `low...high` (finite, and positive for `.log`), with about `count` ticks.
  init(scale: Scale, low: Double, high: Double, count: Int = 5) {
    self.scale = scale
    var (low, high) = (low, high)
    if scale == .log {
      let (lowPower, highPower) = (floor(log10(low)), ceil(log10(high)))
      let decades = highPower - lowPower
      if decades <= 2 {
        // 1, 2, 5 × 10ᵏ: the range from the last such value at or below `low` to the first above `high`.
        let candidates = stride(from: lowPower, through: highPower, by: 1).flatMap { p in
          [1.0, 2, 5].map { $0 * pow(10, p) }
        }
        low = candidates.last { $0 <= low * (1 + 1e-12) } ?? pow(10, lowPower)
        high = candidates.first { $0 >= high * (1 - 1e-12) } ?? pow(10, highPower)
        ticks = candidates.filter { $0 >= low && $0 <= high }
      } else {
        let every = max(1, Int((decades / Double(count + 2)).rounded(.up)))
        let first = Int(lowPower) - ((Int(lowPower) % every) + every) % every
        let last = Int(highPower) + ((every - (Int(highPower) - first) % every) % every)
        (low, high) = (pow(10, Double(first)), pow(10, Double(last)))
        ticks = stride(from: first, through: last, by: every).map { pow(10, Double($0)) }
      }
      step = 0
    } else {
      if high - low < 1e-12 * max(abs(low), 1) {
        let spread = max(abs(low) * 0.1, scale == .percent ? 0.01 : 0.5)
        (low, high) = (low - spread, high + spread)
      }
      let raw = (high - low) / Double(count)
      let magnitude = pow(10, floor(log10(raw)))
      let step = [1.0, 2, 5, 10].first { $0 * magnitude >= raw * (1 - 1e-9) }! * magnitude
      let (first, last) = (floor(low / step + 1e-9), ceil(high / step - 1e-9))
      (low, high) = (first * step, last * step)
      ticks = stride(from: first, through: last, by: 1).map { $0 * step }
      self.step = step
    }
    (self.low, self.high) = (low, high)
  }

  /// Where `value` lies along the axis, 0 at `low` and 1 at `high` (outside for values outside).
  func fraction(_ value: Double) -> Double {
    switch scale {
    case .log: (log10(value) - log10(low)) / (log10(high) - log10(low))
    case .linear, .percent: (value - low) / (high - low)
    }
  }

  /// The label of the tick at `value`: as many decimals as the step needs, "%" on a percent axis,
  /// powers of ten as `1e-5` outside 0.001…10 000 on a log axis.
  func label(_ value: Double) -> String {
    switch scale {
    case .log:
      if value >= 1e-3 && value < 1e4 {
        let decimals = max(0, Int(-floor(log10(value) + 1e-9)))
        return String(format: "%.\(decimals)f", value)
      }
      return "1e\(Int(log10(value).rounded()))"
    case .linear:
      return String(format: "%.\(Self.decimals(step))f", value == 0 ? 0 : value)
    case .percent:
      return String(format: "%.\(Self.decimals(100 * step))f%%", value == 0 ? 0 : 100 * value)
    }
  }

  private static func decimals(_ step: Double) -> Int { max(0, Int(-floor(log10(step) + 1e-9))) }

  /// The ticks of an axis of whole numbers from `first` to `last` (epochs, blocks): every one up to
  /// `count` of them, else `first` and the multiples of a 1-2-5 step after it.
  static func integerTicks(from first: Int, to last: Int, count: Int = 10) -> [Int] {
    guard last - first + 1 > count else { return Array(first...max(first, last)) }
    let raw = Double(last - first) / Double(count - 1)
    let magnitude = pow(10, floor(log10(raw)))
    let step = Int([1.0, 2, 5, 10].first { $0 * magnitude >= raw }! * magnitude)
    return [first] + stride(from: (first / step + 1) * step, through: last, by: step).filter { $0 - first >= step / 2 }
  }
}
