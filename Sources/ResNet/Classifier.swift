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
/// normalization), so any size and colour of input works. Not safe to use from several threads at once.
public final class Classifier {
  /// One class and its probability.
  public struct Prediction: Sendable, Equatable {
    /// Class name.
    public let label: String
    /// Class index.
    public let index: Int
    /// Softmax probability.
    public let probability: Float
  }

  /// The model's description.
  public let checkpoint: Checkpoint
  /// The network, in inference mode.
  public let network: Network
  /// The decoder used for files.
  public var decoder = ImageDecoder()

  /// Loads the checkpoint at `path` (validated; see `Checkpoint.load`).
  public convenience init(contentsOf path: String) throws {
    let (checkpoint, network) = try Checkpoint.load(path)
    self.init(checkpoint: checkpoint, network: network)
  }

  /// A classifier over an already built network.
  public init(checkpoint: Checkpoint, network: Network) {
    self.checkpoint = checkpoint
    self.network = network
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
    let p = checkpoint.preprocessing
    let input = Tensor(shape: [images.count, p.channels, p.height, p.width])
    let size = p.channels * p.height * p.width
    for (i, image) in images.enumerated() {
      p.prepare(image).normalize(into: input.pointer + i * size, mean: p.mean, std: p.std)
    }
    let probabilities = self.probabilities(input)
    let classes = checkpoint.classes.count
    return (0..<images.count).map { i in
      let row = Array(UnsafeBufferPointer(start: probabilities.pointer + i * classes, count: classes))
      return row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
        .prefix(max(0, top)).map {
          Prediction(label: checkpoint.classes[$0], index: $0, probability: row[$0])
        }
    }
  }

  /// Softmax probabilities [N, classes] for an input tensor already prepared and normalized
  /// ([N, channels, height, width]).
  public func probabilities(_ input: Tensor) -> Tensor {
    let logits = network.forward(input, training: false)
    let (n, classes) = (logits.shape[0], logits.shape[1])
    let out = Tensor(shape: [n, classes])
    for i in 0..<n {
      let row = logits.pointer + i * classes
      let dst = out.pointer + i * classes
      var maximum = row[0]
      for j in 1..<classes { maximum = max(maximum, row[j]) }
      var sum: Float = 0
      for j in 0..<classes {
        dst[j] = expf(row[j] - maximum)
        sum += dst[j]
      }
      for j in 0..<classes { dst[j] /= sum }
    }
    return out
  }
}
