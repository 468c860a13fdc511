import Foundation
import ResNetKernels

/// A network frozen for inference on inputs of one size, built once from a ``Network`` (or a ``Model``):
/// every BatchNorm that follows a convolution folded into it, the bias, the residual add and the ReLU
/// applied by the convolution as it writes its output, 3×3 weights transformed for Winograd's path at
/// load, each convolution's algorithm chosen by its geometry alone, and the activations in a few
/// buffers planned once (``InferencePlan``).
///
/// An image's logits are the same bits alone or in any batch, for any thread count. Safe to share:
/// the weights are read-only, and each call takes activation memory of its own (kept for reuse), so
/// any number of tasks may call it at once. It copies the weights: later changes to the network are
/// not seen.
///
/// ```swift
/// let engine = try InferenceModel(model: try Model(contentsOf: "Models/fashion-mnist.safetensors"))
/// let logits = engine.logits(batch)  // [N, classes]
/// ```
public final class InferenceModel: Sendable {
  /// Input channels, height and width of one image.
  public let inputShape: (channels: Int, height: Int, width: Int)
  /// Classes (logits per image).
  public let classes: Int
  /// The precision of the convolutions and the classifier (``Precision/bf16``: operands rounded to bf16,
  /// products accumulated in float32; BatchNorm is folded in float32 before the rounding).
  public let precision: Precision
  /// The bf16 micro-kernels the model runs in bf16.
  public let bf16Kernel: BF16Kernel
  /// Each convolution's torchvision name and the path it takes, in order.
  public let convolutions: [(name: String, path: PreparedConvolution.Path)]
  private let steps: [InferenceStep]
  private let stepNames: [String]
  private let plan: InferencePlan
  private let features: (value: Int, channels: Int, pixels: Int)  // what the classifier reads
  /// The classifier as a 1×1 convolution of features × 1 × 1 inputs, its weight packed once.
  private let fc: PreparedConvolution
  private let arenas = InferenceArenas()

  /// The network compiled for inputs of `height` × `width` (its configuration's channels), in `precision`.
  /// In bf16, `bf16Kernel` chooses between `vdpbf16ps` (``BF16Kernel/best`` on a CPU that has it) and its
  /// emulation, which gives the same bits.
  public init(
    network: Network, height: Int, width: Int, precision: Precision = .f32, bf16Kernel: BF16Kernel = .best
  ) throws {
    let c = network.configuration
    self.precision = precision
    self.bf16Kernel = bf16Kernel
    var builder = InferenceBuilder(
      channels: c.inChannels, height: height, width: width, precision: precision, bf16Kernel: bf16Kernel)
    let result = try builder.add(network)
    let shapes = builder.shapes
    inputShape = shapes[0]
    classes = c.numClasses
    steps = builder.steps
    stepNames = builder.stepNames
    convolutions = zip(steps, stepNames).compactMap { step, name in
      guard case .convolution(let conv, _, _, _, _) = step else { return nil }
      return (name, conv.path)
    }
    plan = InferencePlan(
      steps: steps, sizes: shapes.map { $0.channels * $0.height * $0.width }, result: result)
    features = (result, shapes[result].channels, shapes[result].height * shapes[result].width)
    precondition(network.fc.inFeatures == features.channels, "InferenceModel: classifier width")
    let weight = Array(UnsafeBufferPointer(start: network.fc.weight.value.pointer, count: classes * features.channels))
    let bias = Array(UnsafeBufferPointer(start: network.fc.bias.value.pointer, count: classes))
    fc = PreparedConvolution(
      geometry: ConvGeometry(channels: features.channels, height: 1, width: 1, kernel: 1)!, outputChannels: classes,
      weight: weight, bias: bias, precision: precision, bf16Kernel: bf16Kernel)
  }

  /// The model's network compiled for its preprocessing's image size, in `precision`.
  public convenience init(model: Model, precision: Precision = .f32) throws {
    let p = model.spec.preprocessing
    try self.init(network: model.network, height: p.height, width: p.width, precision: precision)
  }

  /// Floats of activation memory one image needs (the plan's slots added up).
  public var activationFloatsPerImage: Int { plan.slotFloats.reduce(0, +) }

  /// The logits `[N, classes]` of a batch `[N, channels, height, width]` (prepared and normalized as
  /// the model expects).
  public func logits(_ input: Tensor) -> Tensor { forward(input, timing: nil) }

  /// Each step of the forward pass over `input` (a batch as ``logits(_:)`` takes) with its median time
  /// over `rounds` passes, in the order they run; the last entry, `avgpool+fc`, is the global average
  /// pool and the classifier. Every step runs as it does in ``logits(_:)``, on the same threads, and
  /// is timed from its start to the end of its last thread's work.
  public func profile(_ input: Tensor, rounds: Int) -> [InferenceStepTime] {
    precondition(rounds > 0 && input.rank == 4 && input.shape[0] > 0, "InferenceModel.profile: no rounds or no images")
    var times = [[Double]](repeating: [], count: steps.count + 1)  // per step, one per round
    for _ in 0..<rounds { _ = forward(input, timing: { step, seconds in times[step].append(seconds) }) }
    let names = stepNames + ["avgpool+fc"]
    let summaries = steps.map(\.summary) + ["avgpool \(features.channels) × \(features.pixels) pixels, fc → \(classes)"]
    return (0..<names.count).map { i in
      let sorted = times[i].sorted()
      let middle = sorted.count / 2
      let median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
      return InferenceStepTime(name: names[i], operation: summaries[i], seconds: median)
    }
  }

  /// The logits of `input`; `timing(step, seconds)` (when given) hears each step's time, the head's
  /// as step `steps.count`.
  private func forward(_ input: Tensor, timing: ((Int, Double) -> Void)?) -> Tensor {
    precondition(
      input.rank == 4 && input.shape[1] == inputShape.channels && input.shape[2] == inputShape.height
        && input.shape[3] == inputShape.width,
      "InferenceModel: input \(input.shape) for images of \(inputShape)")
    let batch = input.shape[0]
    let out = Tensor(shape: [batch, classes])
    guard batch > 0 else { return out }
    let arena = arenas.take(slotFloats: plan.slotFloats.map { $0 * batch })
    defer { arenas.give(arena) }
    let pool = ThreadPool.shared
    let address = { (value: Int) -> UnsafeMutablePointer<Float> in
      value == 0 ? input.pointer : arena.slots[self.plan.slots[value]!].pointer
    }
    let clock = ContinuousClock()
    var start = clock.now
    // The time since `start`, to `timing` as step `index`'s; then restarts the clock.
    func lap(_ index: Int) {
      guard let timing else { return }
      let now = clock.now
      timing(index, seconds(now - start))
      start = now
    }
    for (index, step) in steps.enumerated() {
      step.run(batch: batch, address: address, pool: pool)
      lap(index)
    }
    // Global average pool, then the classifier: logits = features · Wᵀ + b, a 1×1 convolution of the
    // pooled features as `batch` images of 1×1 pixel.
    let pooled = arena.pooled.reserve(batch * features.channels)  // N × features
    globalAveragePoolForward(
      input: address(features.value), planes: batch * features.channels, plane: features.pixels, output: pooled,
      pool: pool)
    fc.forward(pooled, batch: batch, output: out.pointer, relu: false, pool: pool)
    lap(steps.count)
    return out
  }

  /// Softmax probabilities `[N, classes]` of a prepared batch; with `averagingMirror`, each row the
  /// mean of the image's and its left–right mirror image's.
  public func probabilities(_ input: Tensor, averagingMirror: Bool = false) -> Tensor {
    softmaxProbabilities(input, averagingMirror: averagingMirror, logits: logits)
  }
}

/// One step of an ``InferenceModel``'s forward pass and its median time (``InferenceModel/profile(_:rounds:)``).
public struct InferenceStepTime: Sendable {
  /// The layer's torchvision name (`conv1`, `maxpool`, `layer1.0.conv2`, `layer2.0.downsample.0`), or
  /// `avgpool+fc` for the head.
  public let name: String
  /// What it computes: a convolution's kernel/stride, channels, planes, path, and whether it adds the
  /// residual and applies the ReLU (`conv 3×3/1 64→64 56×56→56×56 winograd relu`).
  public let operation: String
  /// The median over the rounds, in seconds.
  public let seconds: Double
}

/// One call's activation memory: a buffer per slot of the plan, and the pooled features.
final class InferenceArena: @unchecked Sendable {
  var slots: [ScratchBuffer] = []
  let pooled = ScratchBuffer()
}

/// The arenas not in use, so that concurrent calls each get their own and later calls reuse them.
final class InferenceArenas: @unchecked Sendable {
  private let lock = NSLock()
  private var free: [InferenceArena] = []

  /// An arena with at least `slotFloats[i]` floats in slot `i`.
  func take(slotFloats: [Int]) -> InferenceArena {
    let arena = lock.withLock { free.popLast() } ?? InferenceArena()
    while arena.slots.count < slotFloats.count { arena.slots.append(ScratchBuffer()) }
    for (slot, floats) in zip(arena.slots, slotFloats) { slot.reserve(floats) }
    return arena
  }

  /// Returns an arena for reuse.
  func give(_ arena: InferenceArena) { lock.withLock { free.append(arena) } }
}
