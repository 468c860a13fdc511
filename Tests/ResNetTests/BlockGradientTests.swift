import ResNet
import Testing

@Suite("Residual blocks and the network: backward against finite differences")
struct BlockGradientTests {
  @Test("basic block with identity and with projection shortcut", arguments: [(4, 4, 1), (3, 4, 2)])
  func basic(inChannels: Int, channels: Int, stride: Int) {
    let block = BasicBlock(inChannels: inChannels, channels: channels, stride: stride, workspace: ScratchBuffer())
    #expect((block.downsample != nil) == (stride != 1 || inChannels != channels))
    randomizeParameters(block, seed: 20)
    GradientCheck.network.run(
      input: randomTensor([3, inChannels, 6, 5], seed: 21), parameters: block.namedParameters(),
      forward: { block.forward($0, training: true).copy() }, backward: { block.backward($0) })
  }

  @Test("bottleneck block with identity and with projection shortcut", arguments: [(8, 2, 1), (3, 2, 2)])
  func bottleneck(inChannels: Int, channels: Int, stride: Int) {
    let block = Bottleneck(inChannels: inChannels, channels: channels, stride: stride, workspace: ScratchBuffer())
    #expect(block.outChannels == 4 * channels)
    #expect((block.downsample != nil) == (stride != 1 || inChannels != 4 * channels))
    randomizeParameters(block, seed: 22)
    GradientCheck.network.run(
      input: randomTensor([3, inChannels, 5, 6], seed: 23), parameters: block.namedParameters(),
      forward: { block.forward($0, training: true).copy() }, backward: { block.backward($0) })
  }

  @Test("a whole small network with the ImageNet stem, input and parameter gradients")
  func network() throws {
    let config = NetworkConfiguration(
      stem: .imagenet, block: .basic, layers: [1, 1], widths: [4, 6], inChannels: 2, numClasses: 3, inputHeight: 13,
      inputWidth: 11)
    let net = try Network(configuration: config, seed: 5)
    GradientCheck.network.run(
      input: randomTensor([3, 2, 13, 11], seed: 24), parameters: net.namedParameters(),
      forward: { net.forward($0, training: true).copy() }, backward: { net.backward($0) })
  }

  @Test(
    "plain blocks (no shortcut, no projection even where the shape changes)",
    arguments: [(NetworkConfiguration.Block.basic, 1), (.basic, 2), (.bottleneck, 1), (.bottleneck, 2)])
  func plain(kind: NetworkConfiguration.Block, stride: Int) {
    let block: any ResidualBlock =
      kind == .basic
      ? BasicBlock(inChannels: 3, channels: 4, stride: stride, shortcut: false, workspace: ScratchBuffer())
      : Bottleneck(inChannels: 3, channels: 2, stride: stride, shortcut: false, workspace: ScratchBuffer())
    #expect(!block.hasShortcut && !block.namedModules.contains { $0.name == "downsample" })
    randomizeParameters(block, seed: 25)
    GradientCheck.network.run(
      input: randomTensor([3, 3, 6, 5], seed: 26), parameters: block.namedParameters(),
      forward: { block.forward($0, training: true).copy() }, backward: { block.backward($0) })
  }

  @Test("a whole plain network, input and parameter gradients")
  func plainNetwork() throws {
    let config = NetworkConfiguration(
      stem: .cifar, block: .basic, layers: [2, 1], widths: [4, 6], inChannels: 2, numClasses: 3, inputHeight: 8,
      inputWidth: 7, shortcut: .none)
    let net = try Network(configuration: config, seed: 6)
    GradientCheck.network.run(
      input: randomTensor([3, 2, 8, 7], seed: 27), parameters: net.namedParameters(),
      forward: { net.forward($0, training: true).copy() }, backward: { net.backward($0) })
  }

  @Test(
    "ReZero blocks (s + alpha·F(x), then ReLU), with identity and projection shortcuts",
    arguments: [(NetworkConfiguration.Block.basic, 1), (.basic, 2), (.bottleneck, 1), (.bottleneck, 2)])
  func rezero(kind: NetworkConfiguration.Block, stride: Int) {
    let block: any ResidualBlock =
      kind == .basic
      ? BasicBlock(inChannels: 4, channels: 4, stride: stride, rezero: true, workspace: ScratchBuffer())
      : Bottleneck(inChannels: 8, channels: 2, stride: stride, rezero: true, workspace: ScratchBuffer())
    #expect(block.namedState(prefix: "").first?.name == "alpha")
    randomizeParameters(block, seed: 28)
    #expect(abs(block.rezero!.alpha.value[0]) > 0.1)
    GradientCheck.network.run(
      input: randomTensor([3, kind == .basic ? 4 : 8, 6, 5], seed: 29), parameters: block.namedParameters(),
      forward: { block.forward($0, training: true).copy() }, backward: { block.backward($0) })
  }

  @Test("a ReZero network at initialization: every identity-shortcut block returns its input bit for bit")
  func rezeroStartsAsIdentity() throws {
    let config = NetworkConfiguration(
      stem: .cifar, block: .basic, layers: [2, 2], widths: [4, 6], inChannels: 1, numClasses: 3, inputHeight: 8,
      inputWidth: 8, residualScale: .rezero)
    let net = try Network(configuration: config, seed: 7)
    var h = net.bn1!.forward(net.conv1.forward(randomTensor([2, 1, 8, 8], seed: 30), training: true), training: true)
    var identities = 0
    for block in net.stages.joined() {
      #expect(block.rezero?.alpha.value[0] == 0)
      let input = h.copy()
      h = block.forward(h, training: true)
      if block.namedModules.allSatisfy({ $0.name != "downsample" }) {
        #expect((0..<input.count).allSatisfy { h.pointer[$0].bitPattern == input.pointer[$0].bitPattern })
        identities += 1
      }
    }
    #expect(identities == 3)
  }

  @Test(
    "unnormalized blocks (no BatchNorm, convolutions with biases)",
    arguments: [(NetworkConfiguration.Block.basic, 1), (.basic, 2), (.bottleneck, 1), (.bottleneck, 2)])
  func unnormalized(kind: NetworkConfiguration.Block, stride: Int) {
    let block: any ResidualBlock =
      kind == .basic
      ? BasicBlock(inChannels: 3, channels: 4, stride: stride, normalized: false, workspace: ScratchBuffer())
      : Bottleneck(inChannels: 3, channels: 2, stride: stride, normalized: false, workspace: ScratchBuffer())
    let names = block.namedState(prefix: "").map(\.name)
    #expect(!names.contains { $0.hasPrefix("bn") || $0.hasPrefix("downsample.1") })
    #expect(names.contains("conv1.bias") && names.contains("downsample.0.bias"))
    randomizeParameters(block, seed: 32)
    GradientCheck.network.run(
      input: randomTensor([3, 3, 6, 5], seed: 33), parameters: block.namedParameters(),
      forward: { block.forward($0, training: true).copy() }, backward: { block.backward($0) })
  }

  @Test("a whole unnormalized network with the ImageNet stem, input and parameter gradients")
  func unnormalizedNetwork() throws {
    let config = NetworkConfiguration(
      stem: .imagenet, block: .basic, layers: [1, 1], widths: [4, 6], inChannels: 2, numClasses: 3, inputHeight: 13,
      inputWidth: 11, norm: .none)
    let net = try Network(configuration: config, seed: 9)
    GradientCheck.network.run(
      input: randomTensor([3, 2, 13, 11], seed: 34), parameters: net.namedParameters(),
      forward: { net.forward($0, training: true).copy() }, backward: { net.backward($0) })
  }
}
