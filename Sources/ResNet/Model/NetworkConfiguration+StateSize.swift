extension NetworkConfiguration {
  /// How many values the network's state holds (every weight, bias, BatchNorm statistic and counter),
  /// computed from the configuration alone, without building the network. A checkpoint loader checks
  /// a file against it first, so a small file whose metadata describes a huge network is refused before
  /// anything is allocated. `Network(configuration:)` holds exactly this many (a test checks it).
  public var stateValueCount: Int {
    let normalized = self.norm == .batch
    func conv(_ inChannels: Int, _ outChannels: Int, _ kernel: Int) -> Int {
      inChannels * outChannels * kernel * kernel + (normalized ? 0 : outChannels)  // + bias without BatchNorm
    }
    // γ, β, running mean and variance, counter
    func normValues(_ channels: Int) -> Int { normalized ? 4 * channels + 1 : 0 }
    var count = conv(inChannels, widths[0], stem == .imagenet ? 7 : 3)
    if !preact || stem == .imagenet { count += normValues(widths[0]) }  // the stem's bn1
    var channels = widths[0]
    for (s, (blocks, width)) in zip(layers, widths).enumerated() {
      for b in 0..<blocks {
        let stride = s > 0 && b == 0 ? 2 : 1
        let out: Int
        // A pre-activation block normalizes its input and each inner width, never its output.
        switch block {
        case .basic:
          out = width
          count += conv(channels, width, 3) + conv(width, width, 3) + normValues(width)
          count += normValues(preact ? channels : width)
        case .bottleneck:
          out = width * Bottleneck.expansion
          count += conv(channels, width, 1) + conv(width, width, 3) + conv(width, out, 1) + 2 * normValues(width)
          count += normValues(preact ? channels : out)
        }
        if shortcut == .identity && (stride != 1 || channels != out) {
          count += conv(channels, out, 1) + (preact ? 0 : normValues(out))  // pre-activation: the conv alone
        }
        if residualScale == .rezero { count += 1 }  // alpha
        channels = out
      }
    }
    if preact { count += normValues(channels) }  // bn_final
    return count + channels * numClasses + numClasses
  }
}
