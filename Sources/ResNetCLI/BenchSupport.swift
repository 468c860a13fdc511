/// Helpers the benchmarks share.

/// A duration in seconds.
func seconds(_ d: Duration) -> Double {
  Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// `v` rounded to one decimal.
func round1(_ v: Double) -> Double { (v * 10).rounded() / 10 }

/// `v` rounded to two decimals.
func round2(_ v: Double) -> Double { (v * 100).rounded() / 100 }

/// `v` rounded to three decimals.
func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

/// The median of `values` (not empty).
func median(_ values: [Double]) -> Double {
  let s = values.sorted()
  return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
