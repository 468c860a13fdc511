/// Matching the graph `torch.onnx.export` writes for a v1 ResNet (torchvision's resnet18…152, the
/// CIFAR ResNets): by either exporter (TorchScript's, with BatchNorm folded into biased convolutions
/// and Identity copies of shared constants; dynamo's, with ReduceMean and Reshape before the
/// classifier and zero biases left out), or with BatchNormalization nodes kept.
extension ONNXGraphReader {
  /// A network found in the graph: its shape and its tensors under this tool's (torchvision's) names.
  struct Found {
    var stem: NetworkConfiguration.Stem = .cifar
    var block: NetworkConfiguration.Block?
    var layers: [Int] = []
    var widths: [Int] = []
    var norm: NetworkConfiguration.Norm = .batch
    var inChannels = 0
    var numClasses = 0
    /// Values by tensor name (`layer1.0.conv1.weight`), with their dims.
    var tensors: [String: (dims: [Int], values: [Float])] = [:]
  }

  /// A convolution found in the graph: its geometry, output and node.
  private struct Convolution {
    var node: Int
    var kernel: Int, stride: Int, padding: Int
    var outChannels: Int
    var output: String
  }

  /// Walks the graph from its input to its output as a v1 ResNet, or throws naming the first node
  /// that does not fit.
  mutating func matchTorchvision() throws -> Found {
    var found = Found()
    // The stem: conv, its normalization, ReLU, and for an ImageNet stem the max pool.
    guard let first = readers(of: inputName).first, readers(of: inputName).count == 1,
      nodes[first].opType == "Conv"
    else { throw fail("the input '\(inputName)' does not feed exactly one Conv (a ResNet's stem)") }
    found.norm =
      readers(of: nodes[first].outputs.first ?? "").contains { nodes[$0].opType == "BatchNormalization" }
      ? .batch : .none
    let stem = try convolution(first, "conv1", &found)
    switch (stem.kernel, stem.stride, stem.padding) {
    case (7, 2, 3): found.stem = .imagenet
    case (3, 1, 1): found.stem = .cifar
    default:
      throw fail(
        first,
        "a stem is 7×7 stride 2 pad 3 or 3×3 stride 1 pad 1, not \(stem.kernel)×\(stem.kernel) stride \(stem.stride) pad \(stem.padding)"
      )
    }
    found.inChannels = found.tensors["conv1.weight"]!.dims[1]
    var (h, last) = try relu(after: try normalized(stem, "conv1", "bn1", &found))
    if found.stem == .imagenet {
      let pool = try soleReader(of: h, ["MaxPool"], after: last)
      guard try ints(pool, "kernel_shape", []) == [3, 3], try ints(pool, "strides", [1, 1]) == [2, 2],
        try ints(pool, "pads", [0, 0, 0, 0]) == [1, 1, 1, 1], try int(pool, "ceil_mode", 0) == 0,
        try ints(pool, "dilations", [1, 1]) == [1, 1]
      else { throw fail(pool, "an ImageNet stem's max pool is 3×3 stride 2 pad 1") }
      (h, last) = (try use(pool), pool)
    }
    // The blocks, until the global pool.
    var channels = stem.outChannels
    while true {
      let r = readers(of: h)
      if r.count == 1, ["GlobalAveragePool", "ReduceMean"].contains(nodes[r[0]].opType) { break }
      (h, last, channels) = try block(from: h, after: last, &found)
    }
    guard !found.layers.isEmpty else { throw fail(last, "no residual block follows the stem") }
    try head(from: h, after: last, channels: channels, &found)
    try checkAllUsed()
    return found
  }

  /// The convolution at node `index`, its weight (and bias) stored as `name.weight` (`.bias`).
  private mutating func convolution(_ index: Int, _ name: String, _ found: inout Found) throws -> Convolution {
    guard nodes[index].opType == "Conv" else { throw fail(index, "expected a Conv") }
    let weight = try floats(index, 1, "weight")
    guard weight.dims.count == 4, weight.dims[2] == weight.dims[3] else {
      throw fail(index, "its weight '\(weight.name)' has dims \(weight.dims), not [out, in, k, k]")
    }
    let k = weight.dims[2]
    let strides = try ints(index, "strides", [1, 1])
    let pads = try ints(index, "pads", [0, 0, 0, 0])
    let autoPad: String
    switch nodes[index].attribute("auto_pad") {
    case nil: autoPad = "NOTSET"
    case .string(let s)?: autoPad = s
    default: throw fail(index, "attribute auto_pad is not a string")
    }
    guard try int(index, "group", 1) == 1, try ints(index, "dilations", [1, 1]) == [1, 1],
      try ints(index, "kernel_shape", [k, k]) == [k, k], autoPad == "NOTSET",
      strides.count == 2, strides[0] == strides[1], pads.count == 4, Set(pads).count == 1
    else {
      throw fail(
        index,
        "only square, ungrouped, undilated convolutions with one stride and one explicit padding are ResNet layers")
    }
    found.tensors[name + ".weight"] = (weight.dims, weight.floats)
    if nodes[index].inputs.count > 2, input(index, 2) != nil {
      let bias = try floats(index, 2, "bias", dims: [weight.dims[0]])
      found.tensors[name + ".bias"] = ([weight.dims[0]], bias.floats)
    }
    return Convolution(
      node: index, kernel: k, stride: strides[0], padding: pads[0], outChannels: weight.dims[0],
      output: try use(index))
  }

  /// After a convolution: its BatchNormalization (stored as `bnName`) in a normalized graph, where a
  /// convolution's bias moves into the running mean; otherwise the convolution's bias (zeros when
  /// left out). Returns the value and node that end the pair.
  private mutating func normalized(
    _ conv: Convolution, _ convName: String, _ bnName: String, _ found: inout Found
  ) throws -> (value: String, node: Int) {
    let c = conv.outChannels
    guard found.norm == .batch else {
      if found.tensors[convName + ".bias"] == nil {
        found.tensors[convName + ".bias"] = ([c], [Float](repeating: 0, count: c))
      }
      return (conv.output, conv.node)
    }
    let bias = found.tensors.removeValue(forKey: convName + ".bias")?.values
    let r = readers(of: conv.output)
    guard r.count == 1, nodes[r[0]].opType == "BatchNormalization" else {
      throw fail(conv.node, "in a graph whose stem has BatchNormalization, every Conv is followed by one")
    }
    let bn = r[0]
    guard nodes[bn].inputs.count == 5 else { throw fail(bn, "expected 5 inputs (x, scale, B, mean, var)") }
    guard try int(bn, "training_mode", 0) == 0 else { throw fail(bn, "it is in training mode") }
    let parts = try (1...4).map { try floats(bn, $0, ["scale", "B", "mean", "var"][$0 - 1], dims: [c]).floats }
    var (mean, variance) = (parts[2], parts[3])
    // bn(conv + b) with mean μ is bn(conv) with mean μ − b; an epsilon ε other than ours (1e-5) is
    // the same as a variance of var + ε − 1e-5.
    if let bias { mean = zip(mean, bias).map { $0 - $1 } }
    let epsilon = try float(bn, "epsilon", 1e-5)
    guard epsilon >= 1e-5, epsilon.isFinite else { throw fail(bn, "epsilon \(epsilon) is below 1e-5") }
    if epsilon != 1e-5 { variance = variance.map { $0 + (epsilon - 1e-5) } }
    for (key, values) in zip(["weight", "bias", "running_mean", "running_var"], [parts[0], parts[1], mean, variance]) {
      found.tensors[bnName + "." + key] = ([c], values)
    }
    return (try use(bn), bn)
  }

  /// The Relu reading `value` (produced by node `index`).
  private mutating func relu(after pair: (value: String, node: Int)) throws -> (value: String, node: Int) {
    let r = try soleReader(of: pair.value, ["Relu"], after: pair.node)
    return (try use(r), r)
  }

  /// One block starting at value `x`: the main branch of 2 (basic) or 3 (bottleneck) convolutions, the
  /// identity or a projection shortcut, the Add and its Relu. Returns the block's output, last node and
  /// output channels.
  private mutating func block(
    from x: String, after last: Int, _ found: inout Found
  ) throws -> (String, Int, Int) {
    let r = readers(of: x)
    if let odd = r.first(where: { !["Conv", "Add"].contains(nodes[$0].opType) }) {
      throw fail(
        odd,
        "expected a residual block's Conv or Add, or the global average pool, after \(Self.describe(nodes[last], last))"
      )
    }
    guard r.count == 2, r.allSatisfy({ ["Conv", "Add"].contains(nodes[$0].opType) }),
      r.contains(where: { nodes[$0].opType == "Conv" })
    else {
      throw fail(
        last, "its output feeds \(r.map { nodes[$0].opType }), not a residual block (Conv and Add, or two Convs)")
    }
    // Which Conv starts the main branch: a projection's Conv leads (through its BatchNorm) to the Add.
    func leadsToAdd(_ conv: Int) -> Bool {
      var v = nodes[conv].outputs.first ?? ""
      var next = readers(of: v)
      if next.count == 1, nodes[next[0]].opType == "BatchNormalization" {
        v = nodes[next[0]].outputs.first ?? ""
        next = readers(of: v)
      }
      return next.count == 1 && nodes[next[0]].opType == "Add"
    }
    let convs = r.filter { nodes[$0].opType == "Conv" }
    let main: Int
    var projection: Int?
    if convs.count == 1 {
      main = convs[0]
    } else {
      guard leadsToAdd(convs[0]) != leadsToAdd(convs[1]) else {
        throw fail(convs[1], "cannot tell the block's main branch from its projection shortcut")
      }
      (main, projection) = leadsToAdd(convs[0]) ? (convs[1], convs[0]) : (convs[0], convs[1])
    }
    // Stage and block numbers are known once the stride is: walk the branch under provisional names.
    var branch = Found(norm: found.norm)
    var conv = try convolution(main, "b.conv1", &branch)
    var geometry = [conv]
    var end = try normalized(conv, "b.conv1", "b.bn1", &branch)
    while true {
      let next = readers(of: end.value)
      guard next.count == 1 else { throw fail(end.node, "its output feeds \(next.count) nodes inside a block") }
      if nodes[next[0]].opType == "Add" { break }
      let (v, n) = try relu(after: end)
      let c = try soleReader(of: v, ["Conv"], after: n)
      guard geometry.count < 3 else { throw fail(c, "a block has at most 3 convolutions") }
      conv = try convolution(c, "b.conv\(geometry.count + 1)", &branch)
      geometry.append(conv)
      end = try normalized(conv, "b.conv\(geometry.count)", "b.bn\(geometry.count)", &branch)
    }
    let kind: NetworkConfiguration.Block = geometry.count == 3 ? .bottleneck : .basic
    guard geometry.count >= 2 else { throw fail(main, "a block's branch has 2 or 3 convolutions, this one 1") }
    if let block = found.block, block != kind {
      throw fail(main, "a \(kind) block in a network of \(block) blocks")
    }
    found.block = kind
    let stride = geometry[kind == .bottleneck ? 1 : 0].stride
    let expected = kind == .bottleneck ? [(1, 1, 0), (3, stride, 1), (1, 1, 0)] : [(3, stride, 1), (3, 1, 1)]
    for (g, e) in zip(geometry, expected) where (g.kernel, g.stride, g.padding) != e {
      throw fail(g.node, "expected \(e.0)×\(e.0) stride \(e.1) pad \(e.2) at this place of a \(kind) block")
    }
    guard stride == 1 || (stride == 2 && !found.layers.isEmpty) else {
      throw fail(geometry[0].node, "stride \(stride): only the first block of the second and later stages has stride 2")
    }
    if stride == 2 || found.layers.isEmpty {
      found.layers.append(1)
      found.widths.append(geometry[0].outChannels)
    } else {
      found.layers[found.layers.count - 1] += 1
    }
    let prefix = "layer\(found.layers.count).\(found.layers.last! - 1)."
    var shortcut = x
    if let projection {
      let p = try convolution(projection, "b.downsample.0", &branch)
      guard (p.kernel, p.stride, p.padding) == (1, stride, 0) else {
        throw fail(projection, "a projection shortcut is 1×1 stride \(stride) pad 0")
      }
      shortcut = try normalized(p, "b.downsample.0", "b.downsample.1", &branch).value
    }
    for (name, tensor) in branch.tensors { found.tensors[prefix + name.dropFirst(2)] = tensor }
    let add = readers(of: end.value)[0]
    guard nodes[add].inputs.count == 2,
      Set([input(add, 0), input(add, 1)]) == Set([resolve(end.value), resolve(shortcut)])
    else { throw fail(add, "the Add does not join the block's branch and its shortcut") }
    let output = try relu(after: (try use(add), add))
    return (output.value, output.node, geometry.last!.outChannels)
  }

  /// The global average pool, the flatten and the classifier (Gemm, or MatMul and Add), ending at the
  /// graph's output.
  private mutating func head(from x: String, after last: Int, channels: Int, _ found: inout Found) throws {
    let pool = readers(of: x)[0]
    var keepDims = true
    if nodes[pool].opType == "ReduceMean" {
      // Axes are an attribute before opset 18, an input from 18 on.
      var axes = try ints(pool, "axes", [])
      if nodes[pool].inputs.count > 1, input(pool, 1) != nil {
        let t = try constant(pool, 1, "axes")
        guard t.dataType == ONNXTensorProto.int64 else { throw fail(pool, "its axes are not int64") }
        axes = t.integers
      }
      guard Set(axes.map { $0 < 0 ? $0 + 4 : $0 }) == [2, 3] else {
        throw fail(pool, "a global average pool reduces axes 2 and 3, this ReduceMean \(axes)")
      }
      keepDims = try int(pool, "keepdims", 1) != 0
    }
    var h = try use(pool)
    var at = pool
    // Flatten to [N, C]: Flatten(axis 1), or Reshape to [N or -1 or 0, C or -1].
    if let r = readers(of: h).first, readers(of: h).count == 1, ["Flatten", "Reshape"].contains(nodes[r].opType) {
      if nodes[r].opType == "Flatten" {
        guard try int(r, "axis", 1) == 1 else { throw fail(r, "a classifier's Flatten has axis 1") }
      } else {
        let shape = try constant(r, 1, "shape")
        guard shape.dataType == ONNXTensorProto.int64, shape.integers.count == 2,
          [-1, channels].contains(shape.integers[1]),
          shape.integers[0] == -1 || shape.integers[0] == 0 || shape.integers[0] == inputDims[0]
        else { throw fail(r, "this Reshape does not flatten [N, \(channels), 1, 1] to [N, \(channels)]") }
      }
      (h, at) = (try use(r), r)
    } else if keepDims {
      throw fail(pool, "the pooled [N, C, 1, 1] is not flattened before the classifier")
    }
    let fc = try soleReader(of: h, ["Gemm", "MatMul"], after: at)
    var weight: [Float]
    var bias: [Float]?
    var classes: Int
    var end = fc
    if nodes[fc].opType == "Gemm" {
      guard try float(fc, "alpha", 1) == 1, try float(fc, "beta", 1) == 1, try int(fc, "transA", 0) == 0,
        input(fc, 0) == resolve(h)
      else { throw fail(fc, "a classifier's Gemm has alpha 1, beta 1 and no transposed input") }
      let w = try floats(fc, 1, "weight")
      let transposed = try int(fc, "transB", 0) != 0
      guard w.dims.count == 2, w.dims[transposed ? 1 : 0] == channels else {
        throw fail(fc, "its weight '\(w.name)' has dims \(w.dims), not a classifier of \(channels) features")
      }
      classes = w.dims[transposed ? 0 : 1]
      weight = transposed ? w.floats : Self.transpose(w.floats, rows: channels, columns: classes)
      if input(fc, 2) != nil { bias = try floats(fc, 2, "bias").floats }
    } else {
      let w = try floats(fc, 1, "weight")
      guard w.dims.count == 2, w.dims[0] == channels, input(fc, 0) == resolve(h) else {
        throw fail(fc, "its weight '\(w.name)' has dims \(w.dims), not [\(channels), classes]")
      }
      classes = w.dims[1]
      weight = Self.transpose(w.floats, rows: channels, columns: classes)
      let add = try soleReader(of: try use(fc), ["Add"], after: fc)
      let other = input(add, 0) == resolve(nodes[fc].outputs[0]) ? 1 : 0
      bias = try floats(add, other, "bias").floats
      end = add
    }
    guard bias == nil || bias!.count == classes else { throw fail(end, "its bias does not have \(classes) values") }
    found.numClasses = classes
    found.tensors["fc.weight"] = ([classes, channels], weight)
    found.tensors["fc.bias"] = ([classes], bias ?? [Float](repeating: 0, count: classes))
    guard resolve(try use(end)) == resolve(outputName) else {
      throw fail(end, "the classifier's output is not the graph's output '\(outputName)'")
    }
  }

  /// `values` (rows × columns, row-major) transposed.
  private static func transpose(_ values: [Float], rows: Int, columns: Int) -> [Float] {
    var out = [Float](repeating: 0, count: values.count)
    for i in 0..<rows {
      for j in 0..<columns { out[j * rows + i] = values[i * columns + j] }
    }
    return out
  }
}
