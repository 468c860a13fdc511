import ResNetKernels

/// One row of a network's layer table.
public struct LayerSummary: Sendable {
  /// torchvision's module name (`"layer1.0.conv1"`).
  public let name: String
  /// What the layer is (`"Conv2d 3x3/2"`, `"BatchNorm2d+ReLU"`…).
  public let kind: String
  /// Output shape of one sample (C, H, W, or features).
  public let outputShape: [Int]
  /// Learnable scalars.
  public let parameters: Int
  /// Multiply-accumulates per image.
  public let multiplyAccumulates: Int
  /// Floats the engine keeps per image for this layer during a training step: its output (kept for
  /// the backward pass or the next layer) and its input gradient buffer.
  public let trainingFloatsPerImage: Int
  /// Floats of im2col columns this layer needs (one image at a time; 0 when it needs none).
  public var workspaceFloats = 0
}

extension Network {
  /// The layer table for one image of the configured input size, computed from the layers' shapes.
  public func summary() -> [LayerSummary] {
    var rows: [LayerSummary] = []
    var shape = [configuration.inChannels, configuration.inputHeight, configuration.inputWidth]
    func conv(_ name: String, _ c: Conv2D) {
      let g = c.geometry(height: shape[1], width: shape[2])!
      let input = shape.reduce(1, *)
      shape = [c.outChannels, g.outputHeight, g.outputWidth]
      let out = shape.reduce(1, *)
      var row = LayerSummary(
        name: name, kind: "Conv2d \(c.kernel)x\(c.kernel)/\(c.stride)", outputShape: shape,
        parameters: c.weight.value.count + (c.bias?.value.count ?? 0),
        multiplyAccumulates: out * g.columnRows, trainingFloatsPerImage: out + input)
      row.workspaceFloats = g.isPointwise ? 0 : g.columnRows * g.outputPixels
      rows.append(row)
    }
    func norm(_ name: String, _ b: any Normalization, residual: Bool = false) {
      let out = shape.reduce(1, *)
      let normalizes = b is BatchNorm2D
      let parts = (normalizes ? ["BatchNorm2d"] : []) + (residual ? ["add"] : []) + (b.relu ? ["ReLU"] : [])
      guard !parts.isEmpty else { return }
      rows.append(
        LayerSummary(
          name: normalizes ? name : name.replacingOccurrences(of: "bn", with: "relu"),
          kind: parts.joined(separator: "+"), outputShape: shape, parameters: normalizes ? 2 * b.channels : 0,
          multiplyAccumulates: out, trainingFloatsPerImage: 2 * out))
    }
    conv("conv1", conv1)
    if let bn1 { norm("bn1", bn1) }
    let preact = configuration.preact
    if let maxPool {
      let g = maxPool.geometry(height: shape[1], width: shape[2])!
      let input = shape.reduce(1, *)
      shape = [shape[0], g.outputHeight, g.outputWidth]
      let out = shape.reduce(1, *)
      rows.append(
        LayerSummary(
          name: "maxpool", kind: "MaxPool2d 3x3/2", outputShape: shape, parameters: 0, multiplyAccumulates: 0,
          trainingFloatsPerImage: 2 * out + input))  // output, argmax (int32), input gradient
    }
    for (prefix, block) in namedBlocks {
      let blockInput = shape
      for (name, module) in block.namedModules {
        let full = prefix + name
        if let c = module as? Conv2D {
          conv(full, c)
        } else if let b = module as? any Normalization {
          norm(full, b, residual: !preact && b === block.lastNorm && block.hasShortcut && block.rezero == nil)
        } else if let projection = module as? Projection {
          let branchOutput = shape
          shape = blockInput
          conv(full + ".0", projection.conv)
          if let bn = projection.norm { norm(full + ".1", bn) }
          shape = branchOutput
        }
      }
      let out = shape.reduce(1, *)
      if block.rezero != nil {
        rows.append(
          LayerSummary(
            name: prefix + "alpha", kind: preact ? "ReZero scale+add" : "ReZero scale+add+ReLU", outputShape: shape,
            parameters: 1, multiplyAccumulates: out, trainingFloatsPerImage: 2 * out))  // output, branch gradient
      } else if preact && block.hasShortcut {
        // The add ends a pre-activation block, after its last convolution.
        rows.append(
          LayerSummary(
            name: prefix + "add", kind: "add", outputShape: shape, parameters: 0, multiplyAccumulates: out,
            trainingFloatsPerImage: out))  // output
      }
    }
    if let bnFinal { norm("bn_final", bnFinal) }
    let features = shape[0]
    rows.append(
      LayerSummary(
        name: "avgpool", kind: "GlobalAvgPool", outputShape: [features], parameters: 0,
        multiplyAccumulates: shape.reduce(1, *), trainingFloatsPerImage: features + shape.reduce(1, *)))
    rows.append(
      LayerSummary(
        name: "fc", kind: "Linear", outputShape: [configuration.numClasses],
        parameters: fc.weight.value.count + fc.bias.value.count,
        multiplyAccumulates: features * configuration.numClasses,
        trainingFloatsPerImage: configuration.numClasses + features))
    return rows
  }
}
