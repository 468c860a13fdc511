import ResNet
import Testing

/// The gradient through a deep stack of blocks at initialization, as in issue 10's table (measured
/// there in PyTorch): 28 basic blocks of 16 channels, Kaiming (fan_out) initialization, BatchNorm in
/// training mode. The plain stack's gradient explodes (thousands of times the gradient arriving at its
/// output); the residual stack's grows only about 20-fold.
@Suite struct GradientHighwayTests {
  /// ‖∂L/∂input‖ / ‖∂L/∂output‖ of the network's blocks, for a random gradient at the output.
  static func gainThroughBlocks(shortcut: NetworkConfiguration.Shortcut, seed: UInt64) throws -> Double {
    let config = NetworkConfiguration(
      stem: .cifar, block: .basic, layers: [28], widths: [16], inChannels: 16, numClasses: 2, inputHeight: 8,
      inputWidth: 8, shortcut: shortcut)
    let net = try Network(configuration: config, seed: seed)
    let blocks = Array(net.stages.joined())
    var h = randomTensor([8, 16, 8, 8], seed: seed + 100)
    for i in 0..<h.count { h.pointer[i] = max(h.pointer[i], 0) }  // a ReLU output, as a block's input is
    for block in blocks { h = block.forward(h, training: true) }
    let dy = randomTensor(h.shape, seed: seed + 200)
    let outputNorm = norm(dy)
    var g = dy
    for block in blocks.reversed() { g = block.backward(g) }
    return norm(g) / outputNorm
  }

  static func norm(_ t: Tensor) -> Double {
    (0..<t.count).reduce(0.0) { $0 + Double(t.pointer[$1]) * Double(t.pointer[$1]) }.squareRoot()
  }

  @Test(arguments: [1, 2, 3] as [UInt64])
  func withBatchNormThePlainStackExplodes(seed: UInt64) throws {
    let plain = try Self.gainThroughBlocks(shortcut: .none, seed: seed)
    let residual = try Self.gainThroughBlocks(shortcut: .identity, seed: seed)
    #expect(plain > 50 * residual, "plain \(plain), residual \(residual)")
    #expect(residual > 1 && residual < 1000, "residual \(residual)")
  }
}
