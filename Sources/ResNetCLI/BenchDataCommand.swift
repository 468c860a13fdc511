import ArgumentParser
import Foundation
import ResNet

/// `resnet bench decode`: single-threaded decode (+ convert, + resize) speed, as
/// Benchmarks/decode_peer.py measures Pillow.
struct BenchDecodeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "decode",
    abstract: "Decode speed: PNG/JPEG files decoded from memory, converted, optionally resized.",
    discussion: """
      Mirrors Benchmarks/decode_peer.py: all files are read into memory first, then decoded and
      converted to --mode (and with --size resized, bilinear, to size × size) on one thread for about
      --seconds. Prints {"impl":"resnet","what":"decode","files":N,"images_per_s":R,\
      "megapixels_per_s":P}.
      """)

  @Argument(help: "PNG/JPEG files or folders (walked recursively).")
  var paths: [String]

  @Option(help: "Convert to L (gray) or RGB, as Pillow's convert().")
  var mode: String = "RGB"

  @Option(help: "Resize to size × size after decoding (0: no resize).")
  var size: Int = 0

  @Option(help: "Seconds to keep decoding.")
  var seconds: Double = 2

  func validate() throws {
    guard ["L", "RGB", "gray", "rgb"].contains(mode) else {
      throw ValidationError("--mode must be L or RGB.")
    }
    guard size >= 0 && size <= 16384 else { throw ValidationError("--size must be in 0...16384.") }
    guard seconds > 0 && seconds <= 600 else { throw ValidationError("--seconds must be in (0, 600].") }
  }

  func run() throws {
    let files = try paths.flatMap { try imageFiles(in: $0) }
    guard !files.isEmpty else { throw ValidationError("no PNG or JPEG files in \(paths).") }
    let blobs = try files.map { [UInt8](try Data(contentsOf: URL(fileURLWithPath: $0))) }
    let target: ColorMode = mode == "L" || mode == "gray" ? .gray : .rgb
    let decoder = ImageDecoder()
    let clock = ContinuousClock()
    let start = clock.now
    var done = 0
    var pixels = 0
    while done == 0 || ResNetCLI.seconds(clock.now - start) < seconds {
      for (file, blob) in zip(files, blobs) {
        var image = try decoder.decode(blob, name: file).converted(to: target)
        if size > 0 { image = image.resized(width: size, height: size) }
        pixels += image.width * image.height
        done += 1
      }
    }
    let elapsed = ResNetCLI.seconds(clock.now - start)
    print(
      #"{"impl":"resnet","what":"decode","files":\#(files.count),"images_per_s":\#(round1(Double(done) / elapsed)),"megapixels_per_s":\#(round2(Double(pixels) / elapsed / 1e6))}"#
    )
  }
}

/// `resnet bench loader`: how fast the data loader delivers training batches.
struct BenchLoaderCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "loader",
    abstract: "Loader speed: training batches (decode, prepare, augment, normalize) per second.",
    discussion: """
      Runs the training split through the loader as `resnet train` will: shuffled, random crop with
      padding 4 and horizontal flips, normalized into float batches. The first epoch decodes every
      file (cold); later epochs come from the in-memory cache (warm). Prints
      {"impl":"resnet","what":"loader","workers":W,"batch":B,"images":N,"cold_images_per_s":R,\
      "warm_images_per_s":R}.
      """)

  @OptionGroup var dataOptions: DataOptions

  @Option(help: "Images per batch.")
  var batch: Int = 128

  @Option(help: "Loader worker threads.")
  var workers: Int = 2

  @Option(help: "Side of the square network input (default: the images' own size).")
  var size: Int?

  @Option(help: "Warm epochs to time after the cold one.")
  var epochs: Int = 2

  func validate() throws {
    guard (1...65536).contains(batch) else { throw ValidationError("--batch must be in 1...65536.") }
    guard (1...64).contains(workers) else { throw ValidationError("--workers must be in 1...64.") }
    guard (1...100).contains(epochs) else { throw ValidationError("--epochs must be in 1...100.") }
    if let size, !(1...4096).contains(size) { throw ValidationError("--size must be in 1...4096.") }
  }

  func run() throws {
    let dataset = try dataOptions.open()
    let first = try dataset.train.image(at: 0)
    let side = size ?? min(first.width, first.height)
    let preprocessing = Preprocessing(
      color: first.mode, resize: side, height: side, width: side,
      mean: [Float](repeating: 0.5, count: first.channels),
      std: [Float](repeating: 0.25, count: first.channels))
    let loader = DataLoader(
      split: dataset.train, batchSize: batch, preprocessing: preprocessing,
      augmentation: Augmentation(cropPadding: 4, horizontalFlip: true), shuffle: true,
      seed: dataOptions.seed, workers: workers)
    let clock = ContinuousClock()
    func epochRate(_ epoch: Int) throws -> Double {
      let start = clock.now
      var images = 0
      let iterator = loader.epoch(epoch)
      while let b = try iterator.next() { images += b.count }
      return Double(images) / seconds(clock.now - start)
    }
    let cold = try epochRate(0)
    var warm: [Double] = []
    for epoch in 1...epochs { warm.append(try epochRate(epoch)) }
    if let warning = loader.skippedWarning() { printError("warning: \(warning)") }
    print(
      #"{"impl":"resnet","what":"loader","workers":\#(workers),"batch":\#(batch),"images":\#(dataset.train.count),"size":\#(side),"cold_images_per_s":\#(round1(cold)),"warm_images_per_s":\#(round1(median(warm)))}"#
    )
  }
}
