import Foundation
import ResNet
import Testing

/// `resnet export`'s files: every variant's graph reads back to the same model (bit for bit), a changed
/// graph is refused, and — where a Python with `onnx` and `onnxruntime` is given (CI always gives one)
/// — ONNX's checker accepts every file and ONNX Runtime reproduces the logits within 1e-4.
@Suite("ONNX export")
struct ONNXExportTests {
  static let variants = [
    "cifar_basic", "imagenet_bottleneck", "cifar_basic_plain", "imagenet_bottleneck_plain", "cifar_basic_rezero",
    "imagenet_bottleneck_rezero", "cifar_basic_unnormalized", "imagenet_bottleneck_unnormalized",
    "cifar_basic_preact", "imagenet_bottleneck_preact", "cifar_basic_preact_plain",
    "imagenet_bottleneck_preact_rezero", "cifar_basic_preact_unnormalized", "imagenet_basic_preact",
  ]

  /// A parity fixture's network (randomized weights and BatchNorm statistics) as a model, its ONNX
  /// bytes, its input batch and PyTorch's logits for it.
  static func exported(_ name: String, batch: Int? = nil, opset: Int = 17) throws -> (
    model: Model, bytes: [UInt8], input: Tensor, pytorch: Tensor
  ) {
    let (file, net) = try PyTorchParityTests.fixture(name)
    let config = net.configuration
    let channels = config.inChannels
    let spec = ModelSpec(
      configuration: config, classes: (0..<config.numClasses).map { "class \($0)" },
      preprocessing: Preprocessing(
        color: channels == 1 ? .gray : .rgb, resize: config.inputHeight + 4, height: config.inputHeight,
        width: config.inputWidth, mean: [Float](repeating: 0.4, count: channels),
        std: [Float](repeating: 0.3, count: channels)),
      augmentation: Augmentation(cropPadding: 4, horizontalFlip: true))
    let model = try Model(spec: spec, network: net)
    return (
      model, try model.onnxBytes(batch: batch, opset: opset), try file.tensor("input"), try file.tensor("eval.logits")
    )
  }

  @Test("every variant's export reads back to the same model, bit for bit", arguments: variants)
  func roundTrip(name: String) throws {
    let (model, bytes, input, _) = try Self.exported(name)
    let back = try Model(onnxBytes: bytes, path: "\(name).onnx")
    #expect(back.spec == model.spec)
    let original = Dictionary(uniqueKeysWithValues: model.network.namedState().map { ($0.name, $0.tensor) })
    for (key, entry) in back.network.namedState() {
      switch (entry, original[key]) {
      case (.parameter(let p), .parameter(let q)?): #expect(p.value.scalars == q.value.scalars, "\(key)")
      case (.buffer(let t), .buffer(let u)?): #expect(t.scalars == u.scalars, "\(key)")
      case (.batchCount(let bn), .batchCount?): #expect(bn.batchesTracked == 0)
      default: Issue.record("\(key) is not in the original network")
      }
    }
    #expect(
      back.network.forward(input, training: false).scalars == model.network.forward(input, training: false).scalars)
  }

  @Test("batch and opset are written as asked; other values are refused")
  func batchAndOpset() throws {
    for opset in Model.onnxOpsets {
      let (_, bytes, _, _) = try Self.exported("cifar_basic", batch: 6, opset: opset)
      _ = try Model(onnxBytes: bytes, path: "x.onnx")
    }
    let model = try Self.exported("cifar_basic").model
    #expect(throws: ONNXError.self) { try model.onnxBytes(opset: 18) }
    #expect(throws: ONNXError.self) { try model.onnxBytes(batch: 0) }
  }

  @Test("an export whose graph was changed is refused, naming the node")
  func changedGraph() throws {
    let bytes = try Self.exported("imagenet_bottleneck").bytes
    let message = ONNXImportTests.refusal(ONNXImportTests.replacing("MaxPool", with: "AvgPool", in: bytes))
    #expect(message.contains("'maxpool' (AvgPool) does not fit a ResNet"), "\(message)")
    #expect(message.contains("describes MaxPool 'maxpool' here"), "\(message)")
    let renamed = ONNXImportTests.refusal(
      ONNXImportTests.replacing("layer1.0.conv2", with: "layer1.0.convX", in: bytes))
    #expect(renamed.contains("does not fit a ResNet"), "\(renamed)")
  }

  @Test(
    "ONNX's checker and ONNX Runtime accept every export and give its logits",
    .enabled(
      if: ProcessInfo.processInfo.environment["RESNET_ONNX_PYTHON"] != nil
        || ProcessInfo.processInfo.environment["CI"] != nil,
      "set RESNET_ONNX_PYTHON to a Python with Tests/ONNX/requirements.txt (CI always runs this)"))
  func onnxRuntime() throws {
    guard let python = ProcessInfo.processInfo.environment["RESNET_ONNX_PYTHON"] else {
      Issue.record("CI must set RESNET_ONNX_PYTHON (.ci/run installs onnx and onnxruntime)")
      return
    }
    let folder = try DatasetTests.temporaryFolder()
    defer { DatasetTests.remove(folder) }
    var manifest: [[String: Any]] = []
    func add(_ name: String, _ bytes: [UInt8], _ input: Tensor, _ logits: Tensor) throws {
      let base = folder + "/" + name
      try Data(bytes).write(to: URL(fileURLWithPath: base + ".onnx"))
      try Data(bytes: input.pointer, count: 4 * input.count).write(to: URL(fileURLWithPath: base + ".input"))
      try Data(bytes: logits.pointer, count: 4 * logits.count).write(to: URL(fileURLWithPath: base + ".logits"))
      manifest.append([
        "name": name, "model": base + ".onnx", "input": base + ".input", "logits": base + ".logits",
        "shape": input.shape,
      ])
    }
    for name in Self.variants {
      let (model, bytes, input, pytorch) = try Self.exported(name, batch: name.hasPrefix("cifar") ? nil : 3)
      let engine = try InferenceModel(model: model)
      PyTorchParityTests.expectClose(engine.logits(input), pytorch, 1e-4, "\(name): ours against PyTorch")
      try add(name, bytes, input, engine.logits(input))
    }
    // The shipped model on the mini dataset's first 64 test images, prepared as `classify` prepares them.
    let shipped = try Model(contentsOf: ChartTests.root + "/Models/fashion-mnist.safetensors")
    let classifier = try Classifier(model: shipped)
    let p = shipped.spec.preprocessing
    let files = try FileManager.default.subpathsOfDirectory(atPath: ChartTests.root + "/Data/fashion-mnist-mini/test")
      .filter { $0.hasSuffix(".png") }.sorted().prefix(64)
    let input = Tensor(shape: [files.count, p.channels, p.height, p.width])
    for (i, file) in files.enumerated() {
      let image = try classifier.decoder.decode(contentsOf: ChartTests.root + "/Data/fashion-mnist-mini/test/" + file)
      p.prepare(image).normalize(into: input.pointer + i * p.channels * p.height * p.width, mean: p.mean, std: p.std)
    }
    try add("fashion-mnist", try shipped.onnxBytes(), input, classifier.engine.logits(input))
    let manifestPath = folder + "/manifest.json"
    try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: manifestPath))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [ChartTests.root + "/Tests/ONNX/check_onnx.py", manifestPath]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(text)")
    #expect(text.components(separatedBy: " ok\n").count - 1 == manifest.count, "\(text)")
  }
}
