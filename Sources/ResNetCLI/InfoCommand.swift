import ArgumentParser
import Foundation
import ResNet

/// `resnet info`: the layer table of an architecture, with parameters, multiply-accumulates and memory.
struct InfoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "info",
    abstract: "Show a model's layers, output shapes, parameter counts, MACs and training memory.")

  @OptionGroup var architecture: ModelOptions

  @Option(name: .long, help: "Batch size for the training-memory estimate.")
  var batch: Int = 128

  @Option(name: .long, help: "Multiply every stage width by this factor.")
  var widthMultiplier: Double = 1

  func validate() throws {
    guard (1...65536).contains(batch) else { throw ValidationError("--batch must be in 1...65536.") }
    _ = try architecture.configuration(widthMultiplier: widthMultiplier)
  }

  func run() throws {
    let config = try architecture.configuration(widthMultiplier: widthMultiplier)
    let net = try Network(configuration: config)
    let rows = net.summary()
    let nameWidth = max(5, rows.map(\.name.count).max()!)
    let kindWidth = max(4, rows.map(\.kind.count).max()!)
    func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
    func left(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
    print("\(modelName(config)): \(config.jsonString())")
    print(
      "\(pad("layer", nameWidth))  \(pad("kind", kindWidth))  \(pad("output", 14))  \(left("params", 11))  \(left("MACs", 14))"
    )
    for r in rows {
      let shape = r.outputShape.map(String.init).joined(separator: "x")
      print(
        "\(pad(r.name, nameWidth))  \(pad(r.kind, kindWidth))  \(pad(shape, 14))  \(left(grouped(r.parameters), 11))  \(left(grouped(r.multiplyAccumulates), 14))"
      )
    }
    let parameters = net.parameterCount
    let macs = rows.reduce(0) { $0 + $1.multiplyAccumulates }
    let activations = rows.reduce(0) { $0 + $1.trainingFloatsPerImage } * batch
    let workspace = rows.map(\.workspaceFloats).max() ?? 0
    print("")
    print("parameters:              \(grouped(parameters)) (\(megabytes(parameters)) as float32)")
    print("multiply-accumulates:    \(grouped(macs)) per image (\(String(format: "%.3f", Double(macs) / 1e9)) GMACs)")
    print(
      "training step, batch \(batch): \(megabytes(activations)) of layer outputs and input-gradient buffers, "
        + "\(megabytes(workspace)) im2col workspace, \(megabytes(3 * parameters)) of weights, gradients and momentum")
    print("  total \(megabytes(activations + workspace + 3 * parameters))")
    let engine = try InferenceModel(network: net, height: config.inputHeight, width: config.inputWidth)
    let paths = PreparedConvolution.Path.allCases.compactMap { path -> String? in
      let count = engine.convolutions.filter { $0.path == path }.count
      return count == 0 ? nil : "\(count) \(path.rawValue)"
    }
    print(
      "inference (classify, eval): convolutions by path: \(paths.joined(separator: ", ")); "
        + "\(megabytes(engine.activationFloatsPerImage)) of activations per image")
  }
}

private func megabytes(_ floats: Int) -> String { String(format: "%.1f MB", Double(floats * 4) / 1e6) }
