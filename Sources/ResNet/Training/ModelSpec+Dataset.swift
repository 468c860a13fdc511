extension ModelSpec {
  /// The model description `resnet train` picks for a dataset when given no flags: the colour and
  /// size of the first training image (input size = its shorter side, images resized and
  /// center-cropped to that square), mean and standard deviation measured on up to 2,000 training
  /// images, resnet20 (CIFAR stem) up to 64 pixels and resnet18 above, the dataset's classes.
  public static func automatic(
    for dataset: Dataset, model: String? = nil, size: Int? = nil, widthMultiplier: Double = 1
  ) throws -> ModelSpec {
    let first = try firstReadableImage(dataset.train)
    let side = size ?? min(first.width, first.height)
    let name = model ?? (side <= 64 ? "resnet20" : "resnet18")
    let configuration = try NetworkConfiguration.named(
      name, inChannels: first.channels, numClasses: dataset.classes.count, inputHeight: side,
      inputWidth: side, widthMultiplier: widthMultiplier)
    let unit = Preprocessing(
      color: first.mode, resize: side, height: side, width: side,
      mean: [Float](repeating: 0, count: first.channels),
      std: [Float](repeating: 1, count: first.channels))
    let (mean, std) = try channelStatistics(dataset.train, preprocessing: unit, limit: 2000)
    var preprocessing = unit
    preprocessing.mean = mean
    preprocessing.std = std
    return ModelSpec(
      configuration: configuration, classes: dataset.classes, preprocessing: preprocessing)
  }

  private static func firstReadableImage(_ split: DatasetSplit) throws -> Image {
    var firstError: Error?
    for i in 0..<min(split.count, 100) {
      do { return try split.image(at: i) } catch { firstError = firstError ?? error }
    }
    throw firstError ?? DatasetError(path: "(training split)", reason: "has no images")
  }

  /// Per-channel mean and standard deviation of [0, 1] pixel values over up to `limit` images spread
  /// evenly through the split (unreadable ones skipped), rounded to 4 decimals.
  static func channelStatistics(_ split: DatasetSplit, preprocessing: Preprocessing, limit: Int)
    throws -> ([Float], [Float])
  {
    let c = preprocessing.channels
    var sum = [Double](repeating: 0, count: c)
    var squares = [Double](repeating: 0, count: c)
    var n = 0
    let stride = max(1, split.count / limit)
    for i in Swift.stride(from: 0, to: split.count, by: stride) {
      guard let image = try? preprocessing.prepare(split.image(at: i)) else { continue }
      image.pixels.withUnsafeBufferPointer { px in
        for p in 0..<(image.width * image.height) {
          for k in 0..<c {
            let v = Double(px[p * c + k]) / 255
            sum[k] += v
            squares[k] += v * v
          }
        }
      }
      n += image.width * image.height
    }
    guard n > 0 else { throw DatasetError(path: "(training split)", reason: "no readable images") }
    func round4(_ v: Double) -> Float { Float((v * 10000).rounded() / 10000) }
    let mean = sum.map { $0 / Double(n) }
    let std = zip(squares, mean).map { max(($0 / Double(n) - $1 * $1).squareRoot(), 1e-3) }
    return (mean.map(round4), std.map(round4))
  }
}
