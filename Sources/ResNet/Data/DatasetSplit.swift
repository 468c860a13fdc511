/// One split of a dataset (train or test): where each sample's image comes from and its label.
public struct DatasetSplit: Sendable {
  /// Where the images are.
  public enum Source: Sendable {
    /// Encoded image files, decoded on demand.
    case files([String])
    /// Decoded images in memory.
    case images(ImageArray)
  }

  /// "train", "test" or "val".
  public let name: String
  /// The images.
  public let source: Source
  /// Class index of each sample.
  public let labels: [Int32]

  /// A split; `labels` has one entry per image of `source`.
  public init(name: String, source: Source, labels: [Int32]) {
    switch source {
    case .files(let paths): precondition(paths.count == labels.count)
    case .images(let images): precondition(images.count == labels.count)
    }
    self.name = name
    self.source = source
    self.labels = labels
  }

  /// How many samples.
  public var count: Int { labels.count }

  /// The file of sample `index`, when the split is made of files.
  public func path(at index: Int) -> String? {
    if case .files(let paths) = source { return paths[index] }
    return nil
  }

  /// Sample `index`'s image, decoded if it is a file.
  public func image(at index: Int, decoder: ImageDecoder = ImageDecoder()) throws -> Image {
    switch source {
    case .files(let paths): return try decoder.decode(contentsOf: paths[index])
    case .images(let images): return images.image(at: index)
    }
  }

  /// The samples at `indices`, in that order, as a split called `name`.
  public func subset(_ indices: [Int], name: String? = nil) -> DatasetSplit {
    let source: Source
    switch self.source {
    case .files(let paths): source = .files(indices.map { paths[$0] })
    case .images(let images): source = .images(images.subset(indices))
    }
    return DatasetSplit(name: name ?? self.name, source: source, labels: indices.map { labels[$0] })
  }

  /// Samples per class, for `classCount` classes.
  public func countsPerClass(_ classCount: Int) -> [Int] {
    var counts = [Int](repeating: 0, count: classCount)
    for label in labels { counts[Int(label)] += 1 }
    return counts
  }
}
