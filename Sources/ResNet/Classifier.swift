import Foundation

/// Classifies images with a trained checkpoint — the public inference API:
///
/// ```swift
/// let classifier = try Classifier(contentsOf: "Models/fashion-mnist.safetensors")
/// for p in try classifier.classify(file: "shoe.png", top: 3) {
///   print(p.label, p.probability)
/// }
/// ```
///
/// Images are prepared as the checkpoint's `resnet.preprocess` says (colour, resize, center crop,
/// normalization), so any size and colour of input works. With `averagingMirror`, each prediction is the
/// mean of the probabilities of the image and its mirror image (test-time flips).
///
/// It runs the network through an ``InferenceModel`` built once at `init` (BatchNorm folded, fused
/// epilogues, weights prepared), and is `Sendable`: one classifier may serve any number of concurrent
/// tasks, which share its weights read-only and each get activation memory of their own. An image's
/// result is the same bits whether it is classified alone, in a batch, or concurrently with others.
public final class Classifier: Sendable {
  /// One class and its probability.
  public struct Prediction: Sendable, Equatable {
    /// Class name.
    public let label: String
    /// Class index.
    public let index: Int
    /// Softmax probability.
    public let probability: Float
  }

  /// The model's description: classes, preprocessing, architecture.
  public let spec: ModelSpec
  /// The network compiled for inference on the preprocessing's image size.
  public let engine: InferenceModel
  /// The decoder used for files.
  public let decoder: ImageDecoder
  /// Whether predictions average the probabilities of each image and its left–right mirror image.
  public let averagingMirror: Bool

  /// Loads the checkpoint at `path` (validated; see ``Model/init(contentsOf:inputSize:)``).
  public convenience init(contentsOf path: String) throws {
    try self.init(model: try Model(contentsOf: path))
  }

  /// A classifier over a loaded model that, with `averagingMirror`, averages each image's
  /// probabilities with its mirror image's. Throws when the model records that it was trained
  /// without horizontal flips (its mirror images are inputs it has not learned); a model that records
  /// no augmentation (a torchvision state_dict) is taken as trained with them, as torchvision's are.
  /// The classifier copies the weights: later changes to `model` are not seen. With `precision: .bf16`, the
  /// convolutions and the classifier run with operands rounded to bfloat16 (see ``Precision``).
  public init(
    model: Model, averagingMirror: Bool = false, decoder: ImageDecoder = ImageDecoder(), precision: Precision = .f32
  ) throws {
    if averagingMirror, model.spec.augmentation?.horizontalFlip == false {
      throw TestTimeFlipError(
        description:
          "the model was trained without horizontal flips (--no-flip), so test-time flips (--tta) would show it mirror images it never learned"
      )
    }
    spec = model.spec
    engine = try InferenceModel(model: model, precision: precision)
    self.decoder = decoder
    self.averagingMirror = averagingMirror
  }

  /// The `top` most probable classes of the image file at `path`, most probable first.
  public func classify(file path: String, top: Int = 5) throws -> [Prediction] {
    classify(try decoder.decode(contentsOf: path), top: top)
  }

  /// The `top` most probable classes of `image`.
  public func classify(_ image: Image, top: Int = 5) -> [Prediction] {
    classify([image], top: top)[0]
  }

  /// The `top` most probable classes of 8-bit pixels (`height` × `width` × channels, interleaved).
  public func classify(pixels: [UInt8], width: Int, height: Int, mode: ColorMode, top: Int = 5)
    -> [Prediction]
  {
    classify(Image(width: width, height: height, mode: mode, pixels: pixels), top: top)
  }

  /// The `top` most probable classes of each image, classified as one batch.
  public func classify(_ images: [Image], top: Int = 5) -> [[Prediction]] {
    guard !images.isEmpty else { return [] }
    let p = spec.preprocessing
    let input = Tensor(shape: [images.count, p.channels, p.height, p.width])
    for (i, image) in images.enumerated() {
      prepare(image, into: input.pointer + i * inputCount)
    }
    let probabilities = self.probabilities(input)
    let classes = spec.classes.count
    return (0..<images.count).map { i in
      predictions(Array(UnsafeBufferPointer(start: probabilities.pointer + i * classes, count: classes)), top: top)
    }
  }

  /// Values in one image's input (channels × height × width).
  public var inputCount: Int { spec.preprocessing.channels * spec.preprocessing.height * spec.preprocessing.width }

  /// Writes `image`, prepared and normalized as the model's preprocessing says, to `input`
  /// (``inputCount`` values: one image of the batch ``probabilities(_:)`` takes).
  public func prepare(_ image: Image, into input: UnsafeMutablePointer<Float>) {
    let p = spec.preprocessing
    p.prepare(image).normalize(into: input, mean: p.mean, std: p.std)
  }

  /// The `top` most probable classes of one image's `probabilities` (a row of ``probabilities(_:)``),
  /// most probable first; equal probabilities in class order.
  public func predictions(_ probabilities: [Float], top: Int) -> [Prediction] {
    probabilities.indices.sorted {
      probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1)
    }
    .prefix(max(0, top)).map { Prediction(label: spec.classes[$0], index: $0, probability: probabilities[$0]) }
  }

  /// Softmax probabilities [N, classes] for an input tensor already prepared and normalized
  /// ([N, channels, height, width]), averaged with the mirror images' with ``averagingMirror``.
  public func probabilities(_ input: Tensor) -> Tensor {
    engine.probabilities(input, averagingMirror: averagingMirror)
  }
}

/// Why a classifier refuses test-time flips for a model: it was trained without horizontal flips.
public struct TestTimeFlipError: Error, CustomStringConvertible {
  /// What is wrong, in a sentence.
  public let description: String
}
