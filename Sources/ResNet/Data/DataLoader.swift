import Foundation

/// A batch of network inputs.
public struct Batch: Sendable {
  /// [count, channels, height, width] normalized floats.
  public let images: Tensor
  /// Class index of each image.
  public let labels: [Int32]
  /// Each image's index in the split.
  public let indices: [Int]

  /// Images in the batch.
  public var count: Int { labels.count }
}

/// Feeds a split to training or evaluation in batches: shuffled per epoch from a seed, decoded,
/// prepared, augmented and normalized on background worker threads, a bounded number of batches ahead.
///
/// Every random choice — the epoch's order and each sample's augmentation — derives from
/// (seed, epoch, sample index), so batch contents do not depend on the number of workers or on timing.
/// Prepared 8-bit images of file-based splits are kept in memory up to `cacheBytes`, so later epochs
/// skip decoding. A file that cannot be decoded is left out of its batch and remembered (see
/// `skippedFiles`); with `strict`, it ends the epoch with its error instead.
public final class DataLoader: @unchecked Sendable {
  /// The split being loaded.
  public let split: DatasetSplit
  /// Images per batch (the last batch of an epoch may be smaller unless `dropLast`).
  public let batchSize: Int
  /// Shape and normalization of the inputs.
  public let preprocessing: Preprocessing
  /// Training-time perturbations.
  public let augmentation: Augmentation
  /// Whether each epoch visits the samples in a new random order.
  public let shuffle: Bool
  /// Seed of the order and of the augmentations.
  public let seed: UInt64
  /// Whether an epoch's final partial batch is dropped.
  public let dropLast: Bool
  /// Background threads that prepare batches.
  public let workers: Int
  /// Batches prepared ahead of the consumer, at most.
  public let prefetch: Int
  /// Whether an unreadable file is an error rather than skipped.
  public let strict: Bool
  /// In data-parallel training, the part of each batch this process loads (nil: all of it). An
  /// epoch then yields one batch per global batch, empty when all of its part was unreadable.
  public let shard: Shard?

  private let decoder: ImageDecoder
  private let cache: ImageCache
  private let failures = FailureLog()

  /// A loader; see the type's documentation for what each setting does.
  public init(
    split: DatasetSplit, batchSize: Int, preprocessing: Preprocessing,
    augmentation: Augmentation = .none, shuffle: Bool, seed: UInt64 = 0, dropLast: Bool = false,
    workers: Int = 2, prefetch: Int = 4, cacheBytes: Int = 1 << 30, strict: Bool = false, shard: Shard? = nil,
    decoder: ImageDecoder = ImageDecoder()
  ) {
    precondition(batchSize > 0 && workers > 0 && prefetch > 0)
    self.split = split
    self.batchSize = batchSize
    self.preprocessing = preprocessing
    self.augmentation = augmentation
    self.shuffle = shuffle
    self.seed = seed
    self.dropLast = dropLast
    self.workers = workers
    self.prefetch = prefetch
    self.strict = strict
    self.shard = shard
    self.decoder = decoder
    self.cache = ImageCache(count: split.count, budget: cacheBytes)
  }

  /// Batches per epoch.
  public var batchesPerEpoch: Int {
    dropLast ? split.count / batchSize : (split.count + batchSize - 1) / batchSize
  }

  /// The order in which epoch `epoch` visits the split.
  public func order(epoch: Int) -> [Int] {
    guard shuffle else { return Array(0..<split.count) }
    var generator = SeededGenerator(seed: seed, stream: 0x6F72_6465, UInt64(epoch))
    return generator.shuffled(Array(0..<split.count))
  }

  /// Starts epoch `epoch`: workers begin preparing its batches at once.
  public func epoch(_ epoch: Int) -> EpochIterator {
    EpochIterator(loader: self, epoch: epoch)
  }

  /// "path: reason" of every file skipped so far, in index order.
  public var skippedFiles: [String] { failures.sorted }

  /// One warning line for the skipped files (their number and the first few), or nil if none.
  public func skippedWarning(naming limit: Int = 3) -> String? {
    let all = skippedFiles
    guard !all.isEmpty else { return nil }
    let more = all.count > limit ? "; and \(all.count - limit) more" : ""
    return "skipped \(all.count) unreadable file\(all.count == 1 ? "" : "s"): "
      + all.prefix(limit).joined(separator: "; ") + more
  }

  /// The prepared (converted, resized, cropped) 8-bit image of sample `index`.
  func prepared(_ index: Int) throws -> Image {
    if let image = cache[index] { return image }
    if failures.contains(index) { throw SkippedSample() }
    let image: Image
    do {
      image = preprocessing.prepare(try split.image(at: index, decoder: decoder))
    } catch let error as ImageError {
      failures.record(index, error.description)
      throw error
    }
    if case .files = split.source { cache.store(image, at: index) }
    return image
  }

  /// Builds the batch of the samples `indices` of epoch `epoch`.
  func makeBatch(_ indices: ArraySlice<Int>, epoch: Int) throws -> Batch? {
    var images: [Image] = []
    var kept: [Int] = []
    images.reserveCapacity(indices.count)
    for index in indices {
      do {
        var image = try prepared(index)
        if augmentation != .none {
          var generator = SeededGenerator(seed: seed, stream: UInt64(epoch), UInt64(index))
          image = augmentation.apply(image, using: &generator)
        }
        images.append(image)
        kept.append(index)
      } catch let error as ImageError {
        if strict { throw error }
      } catch is SkippedSample {
        continue
      }
    }
    guard !images.isEmpty || shard != nil else { return nil }
    let p = preprocessing
    let tensor = Tensor(shape: [images.count, p.channels, p.height, p.width])
    let stride = p.channels * p.height * p.width
    for (k, image) in images.enumerated() {
      image.normalize(into: tensor.pointer + k * stride, mean: p.mean, std: p.std)
    }
    return Batch(images: tensor, labels: kept.map { split.labels[$0] }, indices: kept)
  }
}

/// Thrown for a sample already known to be unreadable.
struct SkippedSample: Error {}

/// Prepared images of a file-based split, kept while they fit the byte budget.
final class ImageCache: @unchecked Sendable {
  private var images: [Image?]
  private var used = 0
  private let budget: Int
  private let lock = NSLock()

  init(count: Int, budget: Int) {
    images = [Image?](repeating: nil, count: budget > 0 ? count : 0)
    self.budget = budget
  }

  subscript(index: Int) -> Image? {
    lock.withLock { images.isEmpty ? nil : images[index] }
  }

  func store(_ image: Image, at index: Int) {
    lock.withLock {
      guard !images.isEmpty, images[index] == nil, used + image.pixels.count <= budget else { return }
      images[index] = image
      used += image.pixels.count
    }
  }
}

/// Samples that failed to decode, with their messages.
final class FailureLog: @unchecked Sendable {
  private var messages: [Int: String] = [:]
  private let lock = NSLock()

  func record(_ index: Int, _ message: String) { lock.withLock { messages[index] = message } }
  func contains(_ index: Int) -> Bool { lock.withLock { messages[index] != nil } }
  var sorted: [String] { lock.withLock { messages.sorted { $0.key < $1.key }.map(\.value) } }
}
