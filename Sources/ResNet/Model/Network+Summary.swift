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
      rows.append(
        LayerSummary(
          name: name, kind: "Conv2d \(c.kernel)x\(c.kernel)/\(c.stride)", outputShape: shape,
          parameters: c.weight.value.count + (c.bias?.value.count ?? 0),
          multiplyAccumulates: out * g.columnRows, trainingFloatsPerImage: out + input))
    }
    func norm(_ name: String, _ b: BatchNorm2D, residual: Bool = false) {
      let out = shape.reduce(1, *)
      rows.append(
        LayerSummary(
          name: name, kind: "BatchNorm2d" + (residual ? "+add" : "") + (b.relu ? "+ReLU" : ""), outputShape: shape,
          parameters: 2 * b.channels, multiplyAccumulates: out, trainingFloatsPerImage: 2 * out))
    }
    conv("conv1", conv1)
    norm("bn1", bn1)
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
      let name = String(prefix.dropLast())
      let blockInput = shape
      let convs = block.namedConvolutions.filter { !$0.name.hasPrefix("downsample") }
      let norms: [BatchNorm2D] =
        if let b = block as? BasicBlock { [b.bn1, b.bn2] } else if let b = block as? Bottleneck {
          [b.bn1, b.bn2, b.bn3]
        } else { [] }
      for (i, (convName, c)) in convs.enumerated() {
        conv("\(name).\(convName)", c)
        norm("\(name).bn\(i + 1)", norms[i], residual: i == convs.count - 1)
      }
      if let down = block.namedConvolutions.first(where: { $0.name == "downsample.0" })?.conv {
        let saved = shape
        shape = blockInput
        conv("\(name).downsample.0", down)
        norm("\(name).downsample.1", BatchNorm2D(channels: down.outChannels))
        shape = saved
      }
    }
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

  /// Floats of the im2col workspace the largest convolution needs for one image.
  public func workspaceFloats() -> Int {
    var shape = (configuration.inputHeight, configuration.inputWidth)
    var largest = 0
    func visit(_ c: Conv2D, _ h: Int, _ w: Int) -> (Int, Int) {
      let g = c.geometry(height: h, width: w)!
      if !g.isPointwise { largest = max(largest, g.columnRows * g.outputPixels) }
      return (g.outputHeight, g.outputWidth)
    }
    shape = visit(conv1, shape.0, shape.1)
    if let maxPool, let g = maxPool.geometry(height: shape.0, width: shape.1) {
      shape = (g.outputHeight, g.outputWidth)
    }
    for block in stages.joined() {
      let input = shape
      for (name, c) in block.namedConvolutions {
        if name == "downsample.0" { _ = visit(c, input.0, input.1) } else { shape = visit(c, shape.0, shape.1) }
      }
    }
    return largest
  }
}
