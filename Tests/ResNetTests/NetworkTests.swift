import Foundation
import ResNet
import Testing

@Suite("ResNet architectures: torchvision's counts and names, initialization, BatchNorm statistics")
struct NetworkTests {
  @Test(
    "parameter counts equal torchvision's and the paper's",
    arguments: [
      ("resnet18", 3, 224, 1000, 11_689_512), ("resnet34", 3, 224, 1000, 21_797_672),
      ("resnet50", 3, 224, 1000, 25_557_032), ("resnet101", 3, 224, 1000, 44_549_160),
      ("resnet20", 3, 32, 10, 272_474), ("resnet56", 3, 32, 10, 855_770),
    ])
  func parameterCounts(name: String, channels: Int, size: Int, classes: Int, expected: Int) throws {
    let config = try NetworkConfiguration.named(
      name, inChannels: channels, numClasses: classes, inputHeight: size, inputWidth: size)
    #expect(try Network(configuration: config).parameterCount == expected)
  }

  @Test("state names and shapes follow torchvision's state_dict")
  func stateNames() throws {
    let net = try Network(
      configuration: .named("resnet18", inChannels: 3, numClasses: 1000, inputHeight: 224, inputWidth: 224))
    let state = net.namedState()
    #expect(state.count == 122)  // len(torchvision.models.resnet18().state_dict())
    #expect(
      state.prefix(7).map(\.name) == [
        "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked",
        "layer1.0.conv1.weight",
      ])
    let names = Set(state.map(\.name))
    #expect(names.contains("layer2.0.downsample.0.weight") && names.contains("layer2.0.downsample.1.running_var"))
    #expect(!names.contains("layer1.0.downsample.0.weight") && names.contains("layer4.1.bn2.weight"))
    #expect(state.suffix(2).map(\.name) == ["fc.weight", "fc.bias"])
    if case .parameter(let w) = state.first(where: { $0.name == "layer3.0.conv1.weight" })!.tensor {
      #expect(w.value.shape == [256, 128, 3, 3])
    } else {
      Issue.record("layer3.0.conv1.weight is not a parameter")
    }
    let fifty = try Network(
      configuration: .named("resnet50", inChannels: 3, numClasses: 1000, inputHeight: 224, inputWidth: 224))
    #expect(fifty.namedState().count == 320)  // len(torchvision.models.resnet50().state_dict())
    #expect(fifty.namedState().contains { $0.name == "layer1.0.conv3.weight" })
    let twenty = try Network(
      configuration: .named("resnet20", inChannels: 1, numClasses: 10, inputHeight: 28, inputWidth: 28))
    #expect(!twenty.namedState().contains { $0.name.hasPrefix("layer4") })
    #expect(twenty.conv1.weight.value.shape == [16, 1, 3, 3])
  }

  @Test("initialization: Kaiming normal fan_out convs, uniform Linear, zero-init residual, seeded")
  func initialization() throws {
    let config = try NetworkConfiguration.named(
      "resnet20", inChannels: 3, numClasses: 10, inputHeight: 32, inputWidth: 32, widthMultiplier: 4)
    let a = try Network(configuration: config, seed: 1, initialization: WeightInitialization(zeroInitResidual: true))
    let b = try Network(configuration: config, seed: 1, initialization: WeightInitialization(zeroInitResidual: true))
    let c = try Network(configuration: config, seed: 2)
    let w = a.stages[1][1].namedConvolutions[0].conv.weight.value  // 128 × 128 × 3 × 3
    let values = w.scalars.map(Double.init)
    let mean = values.reduce(0, +) / Double(values.count)
    let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
    #expect(abs(mean) < 0.002)
    #expect(abs(std / (2.0 / (128 * 9)).squareRoot() - 1) < 0.02)
    let bound = 1 / Float(256).squareRoot()
    #expect(a.fc.weight.value.scalars.allSatisfy { abs($0) <= bound })
    #expect(a.fc.weight.value.scalars.max()! > bound * 0.95)
    #expect(a.stages.joined().allSatisfy { ($0.lastNorm as! BatchNorm2D).weight.value.scalars.allSatisfy { $0 == 0 } })
    #expect(c.stages.joined().allSatisfy { ($0.lastNorm as! BatchNorm2D).weight.value.scalars.allSatisfy { $0 == 1 } })
    #expect(a.conv1.weight.value.scalars == b.conv1.weight.value.scalars)
    #expect(a.conv1.weight.value.scalars != c.conv1.weight.value.scalars)

    // PyTorch's Conv2d default: uniform ±1/√fan_in, so std = bound/√3.
    let d = try Network(
      configuration: config, seed: 1, initialization: WeightInitialization(convolutions: .pytorchDefault))
    let u = d.stages[1][1].namedConvolutions[0].conv.weight.value.scalars.map(Double.init)  // fan_in 128 · 9
    let uniformBound = 1 / (128.0 * 9).squareRoot()
    #expect(u.allSatisfy { abs($0) <= uniformBound } && u.max()! > 0.99 * uniformBound)
    let uniformStd = (u.map { $0 * $0 }.reduce(0, +) / Double(u.count)).squareRoot()
    #expect(abs(uniformStd / (uniformBound / 3.0.squareRoot()) - 1) < 0.02)
    #expect(d.fc.weight.value.scalars == a.fc.weight.value.scalars, "the classifier's init is the same")
  }

  @Test("BatchNorm running statistics: momentum 0.1, unbiased variance, counter; inference uses them")
  func runningStatistics() {
    let bn = BatchNorm2D(channels: 2)
    let x = randomTensor([3, 2, 2, 3], seed: 30, scale: 3)
    _ = bn.forward(x, training: true)
    _ = bn.forward(x, training: true)
    for c in 0..<2 {
      var v: [Double] = []
      for n in 0..<3 { for i in 0..<6 { v.append(Double(x.pointer[(n * 2 + c) * 6 + i])) } }
      let mean = v.reduce(0, +) / 18
      let unbiased = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 17
      let expectedMean = 0.19 * mean  // 0 → 0.1·m → 0.9·0.1·m + 0.1·m
      let expectedVar = 0.81 + 0.19 * unbiased  // 1 → 0.9 + 0.1·u → 0.81 + 0.09·u + 0.1·u
      #expect(abs(Double(bn.runningMean.pointer[c]) - expectedMean) < 1e-5)
      #expect(abs(Double(bn.runningVar.pointer[c]) - expectedVar) < 1e-4)
      let y = bn.forward(x, training: false)
      let scale = 1 / (Double(bn.runningVar.pointer[c]) + 1e-5).squareRoot()
      #expect(abs(Double(y.pointer[c * 6]) - (v[0] - Double(bn.runningMean.pointer[c])) * scale) < 1e-5)
    }
    #expect(bn.batchesTracked == 2)
  }

  @Test("configurations: names, JSON keys, and clear refusals")
  func configurations() throws {
    let config = try NetworkConfiguration.named(
      "resnet56", inChannels: 1, numClasses: 10, inputHeight: 28, inputWidth: 28)
    #expect(config.layers == [9, 9, 9] && config.widths == [16, 32, 64] && config.stem == .cifar)
    #expect(
      config.jsonString()
        == #"{"block":"basic","in_channels":1,"input_height":28,"input_width":28,"layers":[9,9,9],"num_classes":10,"stem":"cifar","widths":[16,32,64]}"#
    )
    #expect(throws: ConfigurationError.self) {
      try NetworkConfiguration.named("resnet19", inChannels: 3, numClasses: 10, inputHeight: 32, inputWidth: 32)
    }
    #expect(throws: ConfigurationError.self) {
      try NetworkConfiguration.named("resnet18", inChannels: 3, numClasses: 0, inputHeight: 8, inputWidth: 8)
    }
    var mismatched = config
    mismatched.widths = [16, 32]
    #expect(throws: ConfigurationError.self) { try mismatched.validate() }
    #expect(throws: ConfigurationError.self) { try Network(configuration: mismatched) }
  }

  @Test("the state size computed from a configuration is the built network's, for every model and odd shapes")
  func stateValueCountMatchesTheNetwork() throws {
    var configurations = try NetworkConfiguration.modelNames.map {
      try NetworkConfiguration.named($0, inChannels: 3, numClasses: 7, inputHeight: 64, inputWidth: 64)
    }
    configurations.append(
      NetworkConfiguration(
        stem: .cifar, block: .bottleneck, layers: [2, 1, 3], widths: [3, 5, 2], inChannels: 1, numClasses: 2,
        inputHeight: 9, inputWidth: 8))
    configurations.append(
      NetworkConfiguration(
        stem: .imagenet, block: .basic, layers: [1, 2], widths: [4, 4], inChannels: 2, numClasses: 3,
        inputHeight: 16, inputWidth: 16))
    configurations += configurations.flatMap { c -> [NetworkConfiguration] in
      var (plain, rezero, unnormalized) = (c, c, c)
      plain.shortcut = .none
      rezero.residualScale = .rezero
      unnormalized.norm = .none
      return [plain, rezero, unnormalized]
    }
    configurations += configurations.map { c in
      var preact = c
      preact.preact = true
      return preact
    }
    for c in configurations {
      let built = try Network(configuration: c).namedState().reduce(0) { total, entry in
        switch entry.tensor {
        case .parameter(let p): total + p.value.count
        case .buffer(let t): total + t.count
        case .batchCount: total + 1
        }
      }
      #expect(c.stateValueCount == built, "\(c.jsonString())")
    }
  }

  @Test("the plain variant: its JSON key, no downsample tensors, and v1 JSON unchanged")
  func plainVariant() throws {
    var config = try NetworkConfiguration.named(
      "resnet20", inChannels: 1, numClasses: 10, inputHeight: 28, inputWidth: 28)
    #expect(!config.jsonString().contains("shortcut"))
    config.shortcut = .none
    #expect(config.jsonString().contains(#""shortcut":"none""#))
    let decoded = try JSONDecoder().decode(NetworkConfiguration.self, from: Data(config.jsonString().utf8))
    #expect(decoded == config)
    let plain = try Network(configuration: config, seed: 1)
    let residual = try Network(configuration: config.with(shortcut: .identity), seed: 1)
    let plainNames = plain.namedState().map(\.name)
    #expect(!plainNames.contains { $0.contains("downsample") })
    #expect(plainNames == residual.namedState().map(\.name).filter { !$0.contains("downsample") })
    #expect(throws: DecodingError.self) {
      try JSONDecoder().decode(
        NetworkConfiguration.self, from: Data(config.jsonString().replacingOccurrences(of: "none", with: "skip").utf8))
    }
  }

  @Test("the ReZero variant: its JSON key, an alpha per block, and no ReZero without shortcuts")
  func rezeroVariant() throws {
    var config = try NetworkConfiguration.named(
      "resnet20", inChannels: 1, numClasses: 10, inputHeight: 28, inputWidth: 28)
    config.residualScale = .rezero
    #expect(config.jsonString().contains(#""residual_scale":"rezero""#))
    #expect(try JSONDecoder().decode(NetworkConfiguration.self, from: Data(config.jsonString().utf8)) == config)
    let net = try Network(configuration: config, seed: 1)
    let names = net.namedState().map(\.name)
    #expect(names.filter { $0.hasSuffix(".alpha") }.count == 9)
    #expect(net.summary().reduce(0) { $0 + $1.parameters } == net.parameterCount)
    #expect(net.summary().filter { $0.kind == "ReZero scale+add+ReLU" }.count == 9)
    #expect(
      names.contains("layer2.0.alpha") && names[names.firstIndex(of: "layer2.0.alpha")! + 1] == "layer2.0.conv1.weight")
    config.shortcut = .none
    #expect(throws: ConfigurationError.self) { try config.validate() }
    var unnormalized = try NetworkConfiguration.named(
      "resnet20", inChannels: 1, numClasses: 10, inputHeight: 28, inputWidth: 28)
    unnormalized.norm = .none
    #expect(unnormalized.jsonString().contains(#""norm":"none""#))
    #expect(
      try JSONDecoder().decode(NetworkConfiguration.self, from: Data(unnormalized.jsonString().utf8)) == unnormalized)
    let state = try Network(configuration: unnormalized, seed: 1).namedState().map(\.name)
    #expect(!state.contains { $0.contains("bn") || $0.contains("downsample.1") })
    #expect(state.filter { $0.hasSuffix("conv1.bias") || $0.hasSuffix("conv2.bias") }.count == 1 + 18)
  }
}

extension NetworkConfiguration {
  /// This configuration with another shortcut.
  fileprivate func with(shortcut: Shortcut) -> NetworkConfiguration {
    var copy = self
    copy.shortcut = shortcut
    return copy
  }
}
