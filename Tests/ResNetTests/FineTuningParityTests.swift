import Foundation
import ResNet
import Testing

/// Fine-tuning a torchvision-named state_dict that PyTorch wrote (`Fixtures/make_fixtures.py`,
/// `make_finetune`): a new 3-class head, a frozen part, SGD with the backbone at a scaled rate — two
/// steps give PyTorch's logits, loss and weights, and leave the frozen part exactly as it was.
@Suite("Fine-tuning against PyTorch")
struct FineTuningParityTests {
  @Test("two fine-tuning steps match PyTorch's", arguments: [FrozenPart.backbone, .layer1])
  func twoSteps(frozen: FrozenPart) throws {
    let fixtures = PyTorchParityTests.fixtures
    let source = try Model(contentsOf: fixtures.appendingPathComponent("finetune_source.safetensors").path)
    let expected = try SafeTensorsFile(
      contentsOf: fixtures.appendingPathComponent("finetune_\(frozen.rawValue).safetensors").path)
    let backboneScale = try #require(Float(expected.metadata["backbone_lr_scale", default: ""]))
    let (model, head) = try Model.fineTuning(from: source, classes: ["a", "b", "c"], seed: 1)
    #expect(head == "fc: new, 6 → 3 classes")
    let network = model.network
    let parameters = Dictionary(uniqueKeysWithValues: network.namedParameters().map { ($0.name, $0.parameter) })
    for name in ["fc.weight", "fc.bias"] {
      let value = try expected.tensor("head." + name)
      let target = try #require(parameters[name]).value
      try #require(target.shape == value.shape)
      target.pointer.update(from: value.pointer, count: value.count)
    }
    let before = FineTuningTests.state(network)
    try network.freeze(frozen)
    let sgd = SGD(
      parameters: network.parameters, momentum: 0.9, weightDecay: 5e-4,
      rateScales: network.learningRateScales(backbone: backboneScale))
    let loss = SoftmaxCrossEntropy(labelSmoothing: 0.1)
    for step in 1...2 {
      network.zeroGradients()
      let logits = network.forward(try expected.tensor("input.\(step)"), training: true)
      PyTorchParityTests.expectClose(logits, try expected.tensor("logits.\(step)"), 1e-4, "step \(step) logits")
      let value = loss.forward(logits: logits, labels: try expected.integers("labels.\(step)").map { Int($0) })
      let reference = try expected.tensor("loss.\(step)")[0]
      #expect(abs(value - reference) <= 1e-4 * abs(reference), "step \(step) loss \(value) against \(reference)")
      network.backward(loss.backward())
      sgd.step(learningRate: 0.1)
    }
    var trained = 0
    for (name, entry) in network.namedState() {
      let after = FineTuningTests.state(network)[name]
      if network.isFrozen(name) {
        #expect(after == before[name], "\(name) is frozen, so bit-identical")
        continue
      }
      switch entry {
      case .parameter(let p):
        // What the two steps changed, against what PyTorch's changed (the weights themselves would hide
        // an error in a small update).
        let start = try #require(before[name]).map { Float(bitPattern: $0) }
        let ours = Tensor(shape: p.value.shape, values: zip(p.value.scalars, start).map { $0 - $1 })
        let theirs = Tensor(
          shape: p.value.shape, values: zip(try expected.tensor("after." + name).scalars, start).map { $0 - $1 })
        PyTorchParityTests.expectClose(ours, theirs, 1e-3, "update of \(name)")
        trained += 1
      case .buffer(let t): PyTorchParityTests.expectClose(t, try expected.tensor("after." + name), 1e-4, name)
      case .batchCount(let bn): #expect(bn.batchesTracked == (try expected.integers("after." + name)[0]), "\(name)")
      }
    }
    // The head alone with a frozen backbone; with layer1 frozen, layer2's convolutions and BatchNorms too.
    #expect(trained == (frozen == .backbone ? 2 : 2 + network.namedParameters().count { $0.name.hasPrefix("layer2.") }))
  }
}
