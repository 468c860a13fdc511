import Foundation
import ResNet
import Testing

/// The loader: identical batches whatever the workers, prefetch depth and cache; correct values;
/// per-epoch shuffles; unreadable files skipped (or fatal when strict).
struct DataLoaderTests {
  static let mini = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Data/fashion-mnist-mini").path

  static let gray28 = Preprocessing(color: .gray, height: 28, width: 28, mean: [0.286], std: [0.353])

  /// Every batch of an epoch, as (labels, indices, values).
  static func drain(_ loader: DataLoader, epoch: Int) throws -> [([Int32], [Int], [Float])] {
    let iterator = loader.epoch(epoch)
    var out: [([Int32], [Int], [Float])] = []
    while let batch = try iterator.next() {
      out.append((batch.labels, batch.indices, batch.images.scalars))
    }
    return out
  }

  @Test func sameBatchesWhateverTheWorkers() throws {
    let train = try Dataset.open(Self.mini).train
    let augmentation = Augmentation(cropPadding: 4, horizontalFlip: true)
    func loader(workers: Int, prefetch: Int, cache: Int) -> DataLoader {
      DataLoader(
        split: train, batchSize: 96, preprocessing: Self.gray28, augmentation: augmentation,
        shuffle: true, seed: 42, workers: workers, prefetch: prefetch, cacheBytes: cache)
    }
    let one = loader(workers: 1, prefetch: 1, cache: 0)
    let three = loader(workers: 3, prefetch: 5, cache: 1 << 30)
    let reference = try Self.drain(one, epoch: 0)
    #expect(reference.count == 21)  // 2000 / 96, rounded up
    #expect(reference.last!.0.count == 2000 - 20 * 96)
    let all = reference.flatMap(\.1)
    #expect(all.sorted() == Array(0..<2000))  // each sample exactly once
    for epoch in 0..<2 {  // epoch 1 comes from three's cache
      let a = try Self.drain(one, epoch: epoch)
      let b = try Self.drain(three, epoch: epoch)
      #expect(a.count == b.count)
      for (x, y) in zip(a, b) {
        #expect(x.0 == y.0 && x.1 == y.1)
        #expect(x.2 == y.2)
      }
    }
    let epoch1 = try Self.drain(one, epoch: 1)
    #expect(epoch1[0].1 != reference[0].1)  // a new order each epoch
    let otherSeed = DataLoader(
      split: train, batchSize: 96, preprocessing: Self.gray28, shuffle: true, seed: 43)
    #expect(try Self.drain(otherSeed, epoch: 0)[0].1 != reference[0].1)
  }

  @Test("the shards of every batch, joined in rank order, are the batch, augmentation included")
  func shardsJoinToTheBatch() throws {
    let train = try Dataset.open(Self.mini).train
    let augmentation = Augmentation(cropPadding: 4, horizontalFlip: true)
    func loader(_ shard: Shard?) -> DataLoader {
      DataLoader(
        split: train, batchSize: 90, preprocessing: Self.gray28, augmentation: augmentation, shuffle: true,
        seed: 7, dropLast: true, workers: 2, shard: shard)
    }
    for count in [2, 3] {
      for epoch in 0..<2 {
        let whole = try Self.drain(loader(nil), epoch: epoch)
        let shards = try (0..<count).map { try Self.drain(loader(Shard(index: $0, count: count)), epoch: epoch) }
        #expect(shards.allSatisfy { $0.count == whole.count })
        for (b, batch) in whole.enumerated() {
          let sizes = shards.map { $0[b].0.count }
          #expect(sizes.max()! - sizes.min()! <= 1)
          #expect(batch.0 == shards.flatMap { $0[b].0 } && batch.1 == shards.flatMap { $0[b].1 })
          #expect(batch.2 == shards.flatMap { $0[b].2 }, "epoch \(epoch), batch \(b), \(count) shards")
        }
      }
    }
  }

  @Test func valuesAreNormalizedPixels() throws {
    let split = try Dataset.open(DatasetTests.fixtures + "/idx").train
    let p = Preprocessing(color: .gray, height: 3, width: 4, mean: [0.5], std: [0.25])
    let loader = DataLoader(split: split, batchSize: 2, preprocessing: p, shuffle: false, workers: 2)
    let batches = try Self.drain(loader, epoch: 0)
    #expect(batches.map(\.1) == [[0, 1], [2, 3], [4]])
    for (b, batch) in batches.enumerated() {
      #expect(batch.0 == batch.1.map { Int32($0 % 3) })
      for (k, n) in batch.1.enumerated() {
        for y in 0..<3 {
          for x in 0..<4 {
            let pixel = Float((31 * n + 7 * y + 3 * x) % 256)
            let expected = (pixel / 255 - 0.5) / 0.25
            #expect(batch.2[k * 12 + y * 4 + x] == expected, "batch \(b)")
          }
        }
      }
    }
    let dropping = DataLoader(
      split: split, batchSize: 2, preprocessing: p, shuffle: false, dropLast: true)
    let dropped = try Self.drain(dropping, epoch: 0)
    #expect(dropping.batchesPerEpoch == 2 && dropped.count == 2)
  }

  @Test func augmentationFollowsSeedEpochAndIndex() throws {
    let split = try Dataset.open(Self.mini).test
    let augmentation = Augmentation(cropPadding: 4, horizontalFlip: true)
    let loader = DataLoader(
      split: split, batchSize: 50, preprocessing: Self.gray28, augmentation: augmentation,
      shuffle: true, seed: 5)
    let batch = try loader.epoch(3).next()!
    for k in [0, 17, 49] {
      let index = batch.indices[k]
      var generator = SeededGenerator(seed: 5, stream: 3, UInt64(index))
      let image = augmentation.apply(try split.image(at: index), using: &generator)
      var expected = [Float](repeating: 0, count: 784)
      image.normalize(into: &expected, mean: [0.286], std: [0.353])
      #expect(Array(batch.images.scalars[k * 784..<(k + 1) * 784]) == expected)
    }
    // Padding 4 and flips: some of the 50 images differ from the plain preprocessed ones.
    let plain = DataLoader(split: split, batchSize: 50, preprocessing: Self.gray28, shuffle: true, seed: 5)
    let same = try plain.epoch(3).next()!
    #expect(same.indices == batch.indices && same.images.scalars != batch.images.scalars)
  }

  @Test func unreadableFilesAreSkippedOrFatal() throws {
    let root = try DatasetTests.temporaryFolder()
    defer { DatasetTests.remove(root) }
    try FileManager.default.createDirectory(atPath: root + "/a", withIntermediateDirectories: true)
    for i in 0..<5 { try DatasetTests.writePNG(root + "/a/\(i).png", value: UInt8(i), width: 4, height: 4) }
    try Data("not a png".utf8).write(to: URL(fileURLWithPath: root + "/a/2b.png"))
    let split = try Dataset.open(root, holdOutFraction: 0).train
    let p = Preprocessing(color: .gray, height: 4, width: 4, mean: [0], std: [1])
    let lenient = DataLoader(split: split, batchSize: 4, preprocessing: p, shuffle: false)
    for epoch in 0..<2 {
      let batches = try Self.drain(lenient, epoch: epoch)
      #expect(batches.map(\.1) == [[0, 1, 2], [4, 5]])  // index 3 is 2b.png ("." sorts before "b")
    }
    #expect(lenient.skippedFiles.count == 1)
    #expect(lenient.skippedWarning()!.hasPrefix("skipped 1 unreadable file: \(root)/a/2b.png: not a PNG or JPEG"))
    let strict = DataLoader(split: split, batchSize: 4, preprocessing: p, shuffle: false, strict: true)
    let iterator = strict.epoch(0)
    #expect(throws: ImageError.self) { _ = try iterator.next() }
    #expect(try iterator.next() == nil)
  }

  @Test func stoppingEarlyReleasesTheWorkers() throws {
    let split = try Dataset.open(Self.mini).train
    let loader = DataLoader(
      split: split, batchSize: 8, preprocessing: Self.gray28, shuffle: true, workers: 2, prefetch: 2)
    for epoch in 0..<20 {
      let iterator = loader.epoch(epoch)
      #expect(try iterator.next()?.count == 8)
    }
  }
}
