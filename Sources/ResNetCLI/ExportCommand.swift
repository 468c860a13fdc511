import ArgumentParser
import Foundation
import ResNet

/// `resnet export MODEL --to FILE.onnx`: the model as an ONNX file for ONNX Runtime, OpenVINO and others.
struct ExportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Write a model as an ONNX file (for ONNX Runtime, OpenVINO, coremltools' converters, …).",
    discussion: """
      The file holds the inference graph in standard ONNX operators (Conv, BatchNormalization, Relu, Add, \
      Mul for ReZero, MaxPool, GlobalAveragePool, Flatten, Gemm), every weight under its checkpoint name, \
      input 'input' [N, C, H, W] (float32 after the model's preprocessing: resize, crop, scale to [0,1], \
      subtract mean, divide by std) and output 'logits' [N, classes]. Its metadata_props carry \
      resnet.config, resnet.classes and resnet.preprocess, so the file says its classes and preprocessing; \
      `resnet classify --model FILE.onnx` reads it back. IR version 8 (7 for opset 13).
      """)

  @Argument(help: ArgumentHelp("A checkpoint (.safetensors) or an ONNX file.", valueName: "model"))
  var model: String

  @Option(help: ArgumentHelp("Where to write the ONNX file.", valueName: "path"))
  var to: String

  @Option(help: ArgumentHelp("The batch dimension: a number, or 'dynamic'.", valueName: "N|dynamic"))
  var batch: String = "dynamic"

  @Option(help: ArgumentHelp("The ONNX operator set to write.", valueName: "13…17"))
  var opset: Int = 17

  @Option(help: "Input size for a model without resnet metadata (a torchvision state_dict).")
  var inputSize: Int?

  func validate() throws {
    guard Model.onnxOpsets.contains(opset) else { throw ValidationError("--opset must be 13…17.") }
    guard batch == "dynamic" || (Int(batch).map { (1...65536).contains($0) } ?? false) else {
      throw ValidationError("--batch must be 1…65536 or 'dynamic'.")
    }
  }

  func run() throws {
    let loaded = try Model(contentsOf: model, inputSize: inputSize)
    try loaded.exportONNX(to: to, batch: Int(batch), opset: opset)
    let c = loaded.spec.configuration
    print(
      "\(to): \(modelName(c)), input [\(batch == "dynamic" ? "N" : batch), \(c.inChannels), \(c.inputHeight), \(c.inputWidth)], "
        + "\(c.numClasses) classes, opset \(opset)")
  }
}
