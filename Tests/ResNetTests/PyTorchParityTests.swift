import Foundation
import ResNet
import Testing

/// The networks of `Fixtures/make_fixtures.py` (PyTorch, torchvision's blocks) reproduced from the
/// same weights: logits within 1e-4 and gradients within 1e-3 of PyTorch's, relative to each tensor's
/// largest magnitude.
@Suite("Parity with PyTorch fixtures")
struct PyTorchParityTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

  @Test(
    "inference and a training step match PyTorch",
    arguments: [
      "cifar_basic", "imagenet_bottleneck", "cifar_basic_plain", "imagenet_bottleneck_plain", "cifar_basic_rezero",
      "imagenet_bottleneck_rezero", "cifar_basic_unnormalized", "imagenet_bottleneck_unnormalized",
      "cifar_basic_preact", "imagenet_bottleneck_preact", "cifar_basic_preact_plain",
      "imagenet_bottleneck_preact_rezero",
      "cifar_basic_preact_unnormalized", "imagenet_basic_preact",
    ])
  func parity(name: String) throws {
    let (file, net) = try Self.fixture(name)
    let input = try file.tensor("input")
    let labels = try file.integers("labels").map { Int($0) }

    Self.expectClose(net.forward(input, training: false), try file.tensor("eval.logits"), 1e-4, "inference logits")
    let engine = try InferenceModel(network: net, height: input.shape[2], width: input.shape[3])
    Self.expectClose(engine.logits(input), try file.tensor("eval.logits"), 1e-4, "inference engine's logits")
    let bf16 = try InferenceModel(network: net, height: input.shape[2], width: input.shape[3], precision: .bf16)
    // bf16 rounds every operand to 8 significant bits: measured 5.6e-4 … 4.8e-3 on these fixtures.
    Self.expectClose(bf16.logits(input), try file.tensor("eval.logits"), 2e-2, "bf16 inference engine's logits")

    let loss = SoftmaxCrossEntropy(labelSmoothing: 0.1)
    let logits = net.forward(input, training: true)
    Self.expectClose(logits, try file.tensor("train.logits"), 1e-4, "training logits")
    let value = loss.forward(logits: logits, labels: labels)
    let expectedLoss = try file.tensor("train.loss")[0]
    #expect(abs(value - expectedLoss) <= 1e-4 * abs(expectedLoss), "loss \(value) against \(expectedLoss)")
    net.zeroGradients()
    let gradInput = net.backward(loss.backward())
    Self.expectClose(gradInput, try file.tensor("grad.input"), 1e-3, "input gradient")
    var checked = 0
    // A gradient that cancels to nearly zero carries the rounding of the terms that cancelled: the
    // stem BatchNorm's γ of a pre-activation ImageNet stem, whose output the first block's BatchNorm
    // normalizes again, gets ~1e-5 where others get ~1e-1. Each gradient is judged against its own
    // largest value, but never against less than 1e-3 of the largest parameter gradient in the network.
    let gradientScale = try net.namedParameters().map { try file.tensor("grad." + $0.name).maxMagnitude }.max() ?? 0
    for (key, entry) in net.namedState() {
      switch entry {
      case .parameter(let p):
        Self.expectClose(
          p.gradient, try file.tensor("grad." + key), 1e-3, "gradient of \(key)", floor: 1e-3 * gradientScale)
        checked += 1
      case .buffer(let t): Self.expectClose(t, try file.tensor("after." + key), 1e-4, key)
      case .batchCount(let bn): #expect(bn.batchesTracked == (try file.integers("after." + key)[0]))
      }
    }
    #expect(checked == file.entries.keys.filter { $0.hasPrefix("grad.") }.count - 1)
  }

  /// Fixture `name` and its network (`resnet.config`) holding the fixture's `state.*` tensors.
  static func fixture(_ name: String) throws -> (file: SafeTensorsFile, network: Network) {
    let file = try SafeTensorsFile(contentsOf: fixtures.appendingPathComponent("\(name).safetensors").path)
    let config = try JSONDecoder().decode(
      NetworkConfiguration.self, from: Data(file.metadata["resnet.config", default: ""].utf8))
    let net = try Network(configuration: config)
    for (key, entry) in net.namedState() {
      switch entry {
      case .parameter(let p): try copy(file.tensor("state." + key), into: p.value)
      case .buffer(let t): try copy(file.tensor("state." + key), into: t)
      case .batchCount(let bn): bn.batchesTracked = try file.integers("state." + key)[0]
      }
    }
    return (file, net)
  }

  private static func copy(_ source: Tensor, into destination: Tensor) throws {
    #expect(source.shape == destination.shape)
    destination.pointer.update(from: source.pointer, count: min(source.count, destination.count))
  }

  /// Expects `actual` within `tolerance` of `expected`, relative to the larger of `expected`'s largest
  /// magnitude and `floor`.
  static func expectClose(
    _ actual: Tensor, _ expected: Tensor, _ tolerance: Float, _ what: String, floor: Float = 1e-6,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    #expect(actual.shape == expected.shape, "\(what): shape", sourceLocation: sourceLocation)
    guard actual.shape == expected.shape else { return }
    var largest: Float = 0
    var worst: Float = 0
    for i in 0..<actual.count {
      largest = max(largest, abs(expected.pointer[i]))
      worst = max(worst, abs(actual.pointer[i] - expected.pointer[i]))
    }
    #expect(
      worst <= tolerance * max(largest, floor), "\(what): error \(worst) against scale \(largest)",
      sourceLocation: sourceLocation)
  }
}

extension Tensor {
  var maxMagnitude: Float { (0..<count).reduce(0) { max($0, abs(pointer[$1])) } }
}

/// torchvision `state_dict`s without this tool's metadata: the architecture is read from the tensor
/// shapes and the network gives PyTorch's logits.
@Suite("torchvision state_dicts")
struct TorchvisionStateDictTests {
  @Test("a bare state_dict loads with its architecture inferred", arguments: ["cifar_basic", "imagenet_bottleneck"])
  func bareStateDict(name: String) throws {
    let fixture = try SafeTensorsFile(
      contentsOf: PyTorchParityTests.fixtures.appendingPathComponent("\(name).safetensors").path)
    let expected = try JSONDecoder().decode(
      NetworkConfiguration.self, from: Data(fixture.metadata["resnet.config", default: ""].utf8))
    let bare = try Self.stateDict(of: fixture)
    let folder = try DatasetTests.temporaryFolder()
    defer { DatasetTests.remove(folder) }
    let path = folder + "/state_dict.safetensors"
    try bare.write(to: path)
    let checkpointModel = try Model(contentsOf: path, inputSize: expected.inputHeight)
    let (checkpoint, network) = (checkpointModel.spec, checkpointModel.network)
    var config = expected
    config.inputWidth = expected.inputHeight
    #expect(checkpoint.configuration == config)
    #expect(checkpoint.classes == (0..<expected.numClasses).map { String($0) })
    let logits = network.forward(try fixture.tensor("input"), training: false)
    let reference = try fixture.tensor("eval.logits")
    let scale = reference.scalars.map(abs).max() ?? 1
    #expect(zip(logits.scalars, reference.scalars).allSatisfy { abs($0 - $1) <= 1e-4 * scale })
  }

  /// What `safetensors.torch.save_file(model.state_dict())` writes for a fixture's network: its state
  /// alone, no metadata.
  static func stateDict(of fixture: SafeTensorsFile) throws -> SafeTensorsWriter {
    var bare = SafeTensorsWriter()
    for key in fixture.entries.keys.sorted() where key.hasPrefix("state.") {
      let name = String(key.dropFirst("state.".count))
      if fixture.entries[key]!.dtype == .i64 {
        bare.add(name, integers: try fixture.integers(key), shape: fixture.entries[key]!.shape)
      } else {
        bare.add(name, try fixture.tensor(key))
      }
    }
    return bare
  }

  @Test("a file that is not a ResNet state_dict is refused")
  func notAResNet() throws {
    var other = SafeTensorsWriter()
    other.add("encoder.weight", Tensor(shape: [2, 2]))
    let folder = try DatasetTests.temporaryFolder()
    defer { DatasetTests.remove(folder) }
    try other.write(to: folder + "/x.safetensors")
    #expect(throws: SafeTensorsError.self) { try Model(contentsOf: folder + "/x.safetensors") }
  }
}
