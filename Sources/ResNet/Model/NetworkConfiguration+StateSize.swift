extension NetworkConfiguration {
  /// How many values the network's state holds (every weight, bias, BatchNorm statistic and counter),
  /// computed from the configuration alone, without building the network. A checkpoint loader checks
  /// a file against it first, so a small file whose metadata describes a huge network is refused before
  /// anything is allocated. `Network(configuration:)` holds exactly this many (a test checks it).
  public var stateValueCount: Int {
    func conv(_ inChannels: Int, _ outChannels: Int, _ kernel: Int) -> Int {
      inChannels * outChannels * kernel * kernel
    }
    func norm(_ channels: Int) -> Int { 4 * channels + 1 }  // γ, β, running mean and variance, counter
    var count = conv(inChannels, widths[0], stem == .imagenet ? 7 : 3) + norm(widths[0])
    var channels = widths[0]
    for (s, (blocks, width)) in zip(layers, widths).enumerated() {
      for b in 0..<blocks {
        let stride = s > 0 && b == 0 ? 2 : 1
        let out: Int
        switch block {
        case .basic:
          out = width
          count += conv(channels, width, 3) + norm(width) + conv(width, width, 3) + norm(width)
        case .bottleneck:
          out = width * Bottleneck.expansion
          count += conv(channels, width, 1) + norm(width) + conv(width, width, 3) + norm(width)
          count += conv(width, out, 1) + norm(out)
        }
        if shortcut == .identity && (stride != 1 || channels != out) { count += conv(channels, out, 1) + norm(out) }
        if residualScale == .rezero { count += 1 }  // alpha
        channels = out
      }
    }
    return count + channels * numClasses + numClasses
  }
}
