import Foundation

/// A labelled image dataset with a training and a test split, opened from what a path points at: an
/// image folder, IDX files (MNIST, Fashion-MNIST) or CIFAR-10/100 binary batches.
public struct Dataset: Sendable {
  /// The on-disk formats `open` recognises.
  public enum Format: String, Sendable {
    case imageFolder = "image folder"
    case idx = "IDX"
    case cifar10 = "CIFAR-10"
    case cifar100 = "CIFAR-100"
  }

  /// The folder the dataset was opened from.
  public let path: String
  /// How it is stored.
  public let format: Format
  /// Class names; a label is an index into this list.
  public let classes: [String]
  /// The training split.
  public let train: DatasetSplit
  /// The test (or validation) split.
  public let test: DatasetSplit
  /// Whether `test` was carved out of the training data (no test split on disk).
  public let testIsHeldOut: Bool
  /// Things worth telling the user that do not stop the dataset from being used (empty class folders).
  public let warnings: [String]

  /// A dataset from its parts.
  public init(
    path: String, format: Format, classes: [String], train: DatasetSplit, test: DatasetSplit,
    testIsHeldOut: Bool = false, warnings: [String] = []
  ) {
    self.path = path
    self.format = format
    self.classes = classes
    self.train = train
    self.test = test
    self.testIsHeldOut = testIsHeldOut
    self.warnings = warnings
  }

  /// Opens the dataset at `path` (a folder, or a file inside the folder of an IDX or CIFAR dataset).
  ///
  /// - An image folder is `DIR/<class>/…` images; with `DIR/train` and `DIR/test` (or `DIR/val`) those
  ///   are the splits, otherwise a class-stratified `holdOutFraction` of each class, chosen with `seed`,
  ///   becomes the test split.
  /// - IDX: `train-images-idx3-ubyte` and `train-labels-idx1-ubyte` (optionally `.gz`), and the `t10k-`
  ///   pair for the test split. Class names are Fashion-MNIST's when the path mentions "fashion",
  ///   otherwise the digits.
  /// - CIFAR-10: `data_batch_1.bin`…`data_batch_5.bin` and `test_batch.bin`, names from
  ///   `batches.meta.txt`. CIFAR-100: `train.bin` and `test.bin`, fine labels, names from
  ///   `fine_label_names.txt`.
  public static func open(_ path: String, holdOutFraction: Double = 0.1, seed: UInt64 = 0)
    throws(DatasetError) -> Dataset
  {
    guard fileExists(path) else {
      throw DatasetError(path: path, reason: "no such file or folder")
    }
    let folder = isDirectory(path) ? path : parentFolder(path)
    let opened: Dataset
    if let idx = idxFiles(folder) {
      opened = try openIDX(folder, files: idx, holdOutFraction: holdOutFraction, seed: seed)
    } else if fileExists(folder + "/data_batch_1.bin") {
      opened = try openCIFAR10(folder, holdOutFraction: holdOutFraction, seed: seed)
    } else if fileExists(folder + "/train.bin") {
      opened = try openCIFAR100(folder, holdOutFraction: holdOutFraction, seed: seed)
    } else {
      opened = try openImageFolder(folder, holdOutFraction: holdOutFraction, seed: seed)
    }
    return opened
  }

  /// The class-stratified hold-out: from each class, round(fraction × count) samples chosen with
  /// `seed` go to the test split (in their original order), the rest stay in training.
  public static func holdOut(
    _ split: DatasetSplit, fraction: Double, classCount: Int, seed: UInt64
  ) -> (train: DatasetSplit, test: DatasetSplit) {
    precondition(fraction >= 0 && fraction < 1)
    var byClass = [[Int]](repeating: [], count: classCount)
    for (i, label) in split.labels.enumerated() { byClass[Int(label)].append(i) }
    var isTest = [Bool](repeating: false, count: split.count)
    for (label, members) in byClass.enumerated() {
      var generator = SeededGenerator(seed: seed, stream: 0x686F_6C64, UInt64(label))
      let chosen = generator.shuffled(members).prefix(Int((fraction * Double(members.count)).rounded()))
      for i in chosen { isTest[i] = true }
    }
    let all = 0..<split.count
    return (
      split.subset(all.filter { !isTest[$0] }, name: "train"),
      split.subset(all.filter { isTest[$0] }, name: "test")
    )
  }

  // MARK: - Formats

  static let fashionMNISTClasses = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
    "Ankle boot",
  ]
  static let cifar10Classes = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
  ]

  /// The IDX files of a folder: (train images, train labels, test images?, test labels?).
  private static func idxFiles(_ folder: String) -> [String: String]? {
    var found: [String: String] = [:]
    for stem in [
      "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
      "t10k-labels-idx1-ubyte",
    ] {
      for name in [stem, stem + ".gz"] where fileExists(folder + "/" + name) {
        found[stem] = folder + "/" + name
        break
      }
    }
    return found["train-images-idx3-ubyte"] != nil ? found : nil
  }

  private static func openIDX(
    _ folder: String, files: [String: String], holdOutFraction: Double, seed: UInt64
  ) throws(DatasetError) -> Dataset {
    guard let trainLabels = files["train-labels-idx1-ubyte"] else {
      throw DatasetError(
        path: folder, reason: "has train-images-idx3-ubyte but no train-labels-idx1-ubyte(.gz)")
    }
    var train = try IDXFile.split(
      name: "train", images: files["train-images-idx3-ubyte"]!, labels: trainLabels)
    var test: DatasetSplit?
    if let images = files["t10k-images-idx3-ubyte"] {
      guard let labels = files["t10k-labels-idx1-ubyte"] else {
        throw DatasetError(
          path: folder, reason: "has t10k-images-idx3-ubyte but no t10k-labels-idx1-ubyte(.gz)")
      }
      test = try IDXFile.split(name: "test", images: images, labels: labels)
    }
    let maxLabel = Int((train.labels + (test?.labels ?? [])).max() ?? 0)
    let classes =
      folder.lowercased().contains("fashion") && maxLabel < 10
      ? fashionMNISTClasses : (0...max(maxLabel, 9)).map { String($0) }
    let heldOut = test == nil
    if test == nil {
      (train, test) = holdOut(train, fraction: holdOutFraction, classCount: classes.count, seed: seed)
    }
    return Dataset(
      path: folder, format: .idx, classes: classes, train: train, test: test!,
      testIsHeldOut: heldOut)
  }

  private static func openCIFAR10(_ folder: String, holdOutFraction: Double, seed: UInt64)
    throws(DatasetError) -> Dataset
  {
    let batches = (1...5).map { "\(folder)/data_batch_\($0).bin" }.filter(fileExists)
    let classes = try namesFile(folder + "/batches.meta.txt", count: 10) ?? cifar10Classes
    return try openCIFAR(
      folder, format: .cifar10, train: batches, test: folder + "/test_batch.bin", labelBytes: 1,
      classes: classes, holdOutFraction: holdOutFraction, seed: seed)
  }

  private static func openCIFAR100(_ folder: String, holdOutFraction: Double, seed: UInt64)
    throws(DatasetError) -> Dataset
  {
    let classes =
      try namesFile(folder + "/fine_label_names.txt", count: 100) ?? (0..<100).map { String($0) }
    return try openCIFAR(
      folder, format: .cifar100, train: [folder + "/train.bin"], test: folder + "/test.bin",
      labelBytes: 2, classes: classes, holdOutFraction: holdOutFraction, seed: seed)
  }

  private static func openCIFAR(
    _ folder: String, format: Format, train trainFiles: [String], test testFile: String,
    labelBytes: Int, classes: [String], holdOutFraction: Double, seed: UInt64
  ) throws(DatasetError) -> Dataset {
    var train = try CIFARFile.split(
      name: "train", paths: trainFiles, labelBytes: labelBytes, classCount: classes.count)
    let test: DatasetSplit
    let heldOut = !fileExists(testFile)
    if heldOut {
      (train, test) = holdOut(train, fraction: holdOutFraction, classCount: classes.count, seed: seed)
    } else {
      test = try CIFARFile.split(
        name: "test", paths: [testFile], labelBytes: labelBytes, classCount: classes.count)
    }
    return Dataset(
      path: folder, format: format, classes: classes, train: train, test: test,
      testIsHeldOut: heldOut)
  }

  /// Class names, one per line, when the file exists; it must hold `count` of them.
  private static func namesFile(_ path: String, count: Int) throws(DatasetError) -> [String]? {
    guard fileExists(path) else { return nil }
    let bytes: [UInt8]
    do { bytes = try readFile(path, maxBytes: 1 << 20) } catch { throw DatasetError(error) }
    let names = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline)
      .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard names.count == count else {
      throw DatasetError(path: path, reason: "lists \(names.count) class names, expected \(count)")
    }
    return names
  }

  private static func openImageFolder(_ folder: String, holdOutFraction: Double, seed: UInt64)
    throws(DatasetError) -> Dataset
  {
    let trainRoot = folder + "/train"
    let splitOnDisk = isDirectory(trainRoot)
    let root = splitOnDisk ? trainRoot : folder
    let classes = try ImageFolder.classNames(root)
    guard !classes.isEmpty else {
      throw DatasetError(
        path: folder,
        reason:
          "not a dataset: no IDX or CIFAR files, and no class folders (expected DIR/<class>/*.png|jpg or DIR/train/<class>/…)"
      )
    }
    var (train, empty) = try ImageFolder.split(name: "train", root: root, classes: classes)
    var test: DatasetSplit
    let testRoot = ["test", "val"].map { folder + "/" + $0 }.first(where: isDirectory)
    if splitOnDisk, let testRoot {
      let (split, emptyTest) = try ImageFolder.split(
        name: testRoot.hasSuffix("val") ? "val" : "test", root: testRoot, classes: classes)
      test = split
      empty += emptyTest
    } else {
      (train, test) = holdOut(train, fraction: holdOutFraction, classCount: classes.count, seed: seed)
    }
    guard train.count > 0 else {
      throw DatasetError(path: root, reason: "no PNG or JPEG images in any class folder")
    }
    return Dataset(
      path: folder, format: .imageFolder, classes: classes, train: train, test: test,
      testIsHeldOut: !(splitOnDisk && testRoot != nil),
      warnings: empty.map { "\($0): class folder has no PNG or JPEG images" })
  }
}

/// The folder holding `path`.
func parentFolder(_ path: String) -> String {
  guard let slash = path.lastIndex(of: "/") else { return "." }
  return slash == path.startIndex ? "/" : String(path[..<slash])
}
