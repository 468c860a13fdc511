import Foundation
import ResNet
import Testing

/// The three dataset formats against `Fixtures/datasets/make_dataset_fixtures.py` (values from its
/// formulas), image folders built here, the hold-out split, export round trips and bad files.
struct DatasetTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/datasets").path

  /// A new empty folder, removed by the caller's `defer`.
  static func temporaryFolder() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "resnet-data-\(UUID().uuidString)"
    ).path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  static func remove(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

  @Test func idxRawAndGzip() throws {
    let dataset = try Dataset.open(Self.fixtures + "/idx")
    #expect(dataset.format == .idx && !dataset.testIsHeldOut)
    #expect(dataset.classes == (0..<10).map { String($0) })
    #expect(dataset.train.count == 5 && dataset.test.count == 2)
    for (split, first) in [(dataset.train, 0), (dataset.test, 5)] {
      for i in 0..<split.count {
        let n = first + i
        let image = try split.image(at: i)
        #expect(image.width == 4 && image.height == 3 && image.mode == .gray)
        let expected = (0..<3).flatMap { y in (0..<4).map { x in UInt8((31 * n + 7 * y + 3 * x) % 256) } }
        #expect(image.pixels == expected)
        #expect(split.labels[i] == Int32(n % 3))
      }
    }
    // A file inside the folder opens the same dataset.
    let viaFile = try Dataset.open(Self.fixtures + "/idx/t10k-labels-idx1-ubyte")
    #expect(viaFile.train.labels == dataset.train.labels)
  }

  @Test func cifar10InterleavesPlanes() throws {
    let dataset = try Dataset.open(Self.fixtures + "/cifar10")
    #expect(dataset.format == .cifar10)
    #expect(dataset.classes == (0..<10).map { "class\($0)" })
    #expect(dataset.train.count == 5 && dataset.test.count == 2)
    for (split, first) in [(dataset.train, 0), (dataset.test, 5)] {
      for i in 0..<split.count {
        let n = first + i
        let image = try split.image(at: i)
        #expect(image.width == 32 && image.height == 32 && image.mode == .rgb)
        for (x, y, c) in [(0, 0, 0), (5, 0, 1), (31, 31, 2), (7, 19, 1)] {
          #expect(Int(image[x, y, c]) == (13 * n + 50 * c + y * 32 + x) % 256)
        }
        #expect(split.labels[i] == Int32(n % 10))
      }
    }
  }

  @Test func cifar100UsesFineLabels() throws {
    let dataset = try Dataset.open(Self.fixtures + "/cifar100")
    #expect(dataset.format == .cifar100 && dataset.classes.count == 100)
    #expect(dataset.classes[7] == "fine7")
    #expect(dataset.train.labels == [0, 7, 14] && dataset.test.labels == [21])
    #expect(Int(try dataset.test.image(at: 0)[1, 0, 2]) == (13 * 3 + 100 + 1) % 256)
  }

  @Test func brokenIDXAndCIFARFilesAreNamed() throws {
    let folder = try Self.temporaryFolder()
    defer { Self.remove(folder) }
    let source = Self.fixtures + "/idx/t10k-images-idx3-ubyte"
    let images = try Data(contentsOf: URL(fileURLWithPath: source))
    let labels = try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/idx/t10k-labels-idx1-ubyte"))
    let imagesPath = folder + "/train-images-idx3-ubyte"
    try images.dropLast(5).write(to: URL(fileURLWithPath: imagesPath))
    try labels.write(to: URL(fileURLWithPath: folder + "/train-labels-idx1-ubyte"))
    do {
      _ = try Dataset.open(folder)
      Issue.record("a truncated IDX file opened")
    } catch {
      #expect(error.path == imagesPath && error.reason.contains("ends after 19 of the 24 bytes"))
    }
    // Labels and images disagree in number.
    var twoLabels = labels
    twoLabels[7] = 1
    try images.write(to: URL(fileURLWithPath: imagesPath))
    try twoLabels.dropLast(1).write(to: URL(fileURLWithPath: folder + "/train-labels-idx1-ubyte"))
    #expect(throws: DatasetError.self) { try Dataset.open(folder) }
    // Not gzip and not IDX: a text file under the IDX name.
    try Data("hello".utf8).write(to: URL(fileURLWithPath: imagesPath))
    #expect(throws: DatasetError(path: imagesPath, reason: "not an IDX file (it does not start with two zero bytes)")) {
      try Dataset.open(folder)
    }
    // A CIFAR batch that is not a whole number of records.
    let cifar = try Self.temporaryFolder()
    defer { Self.remove(cifar) }
    try Data(count: 3074).write(to: URL(fileURLWithPath: cifar + "/data_batch_1.bin"))
    #expect(throws: DatasetError.self) { try Dataset.open(cifar) }
  }

  /// Writes a `width`×`height` gray PNG filled with `value`.
  static func writePNG(_ path: String, value: UInt8, width: Int = 3, height: Int = 2) throws {
    let png = try Image(width: width, height: height, mode: .gray, repeating: value).pngData()
    try Data(png).write(to: URL(fileURLWithPath: path))
  }

  @Test func imageFolderWithSplitsOnDisk() throws {
    let root = try Self.temporaryFolder()
    defer { Self.remove(root) }
    let fm = FileManager.default
    for dir in ["train/zebra", "train/apple/nested", "train/Mango", "train/.hidden", "train/empty", "val/apple"] {
      try fm.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
    }
    try Self.writePNG(root + "/train/zebra/b.png", value: 1)
    try Self.writePNG(root + "/train/zebra/a.PNG", value: 2)
    try Self.writePNG(root + "/train/apple/nested/c.png", value: 3)
    try Self.writePNG(root + "/train/apple/d.png", value: 4)
    try Self.writePNG(root + "/train/Mango/.e.png", value: 5)  // hidden: ignored
    try Self.writePNG(root + "/train/Mango/f.png", value: 6)
    try Self.writePNG(root + "/train/.hidden/g.png", value: 7)
    try Data("notes".utf8).write(to: URL(fileURLWithPath: root + "/train/zebra/notes.txt"))
    try Self.writePNG(root + "/val/apple/h.png", value: 8)
    let dataset = try Dataset.open(root)
    #expect(dataset.format == .imageFolder && !dataset.testIsHeldOut && dataset.test.name == "val")
    // Code point order: upper case before lower case, as Python's sorted().
    #expect(dataset.classes == ["Mango", "apple", "empty", "zebra"])
    #expect(dataset.train.count == 5)
    let values = try (0..<5).map { try dataset.train.image(at: $0).pixels[0] }
    #expect(values == [6, 4, 3, 2, 1])  // files sorted by path, subfolders after a folder's files
    #expect(dataset.train.labels == [0, 1, 1, 3, 3])
    #expect(dataset.test.labels == [1])
    #expect(dataset.warnings.count == 1 && dataset.warnings[0].contains("train/empty"))
  }

  @Test func imageFolderHoldOutIsStratifiedAndSeeded() throws {
    let root = try Self.temporaryFolder()
    defer { Self.remove(root) }
    for (cls, n) in [("a", 20), ("b", 10)] {
      try FileManager.default.createDirectory(atPath: root + "/" + cls, withIntermediateDirectories: true)
      for i in 0..<n { try Self.writePNG(root + "/\(cls)/\(i).png", value: UInt8(i)) }
    }
    let one = try Dataset.open(root, holdOutFraction: 0.2, seed: 7)
    #expect(one.testIsHeldOut)
    #expect(one.test.countsPerClass(2) == [4, 2] && one.train.countsPerClass(2) == [16, 8])
    let again = try Dataset.open(root, holdOutFraction: 0.2, seed: 7)
    #expect(again.test.path(at: 3) == one.test.path(at: 3))
    let other = try Dataset.open(root, holdOutFraction: 0.2, seed: 8)
    #expect((0..<6).map { other.test.path(at: $0) } != (0..<6).map { one.test.path(at: $0) })
    let trainPaths = Set((0..<24).compactMap { one.train.path(at: $0) })
    #expect((0..<6).allSatisfy { !trainPaths.contains(one.test.path(at: $0)!) })
  }

  @Test func notADataset() throws {
    let root = try Self.temporaryFolder()
    defer { Self.remove(root) }
    #expect(throws: DatasetError.self) { try Dataset.open(root) }
    try FileManager.default.createDirectory(atPath: root + "/cls", withIntermediateDirectories: true)
    #expect(throws: DatasetError(path: root, reason: "no PNG or JPEG images in any class folder")) {
      try Dataset.open(root)
    }
    #expect(throws: DatasetError(path: root + "/missing", reason: "no such file or folder")) {
      try Dataset.open(root + "/missing")
    }
  }

  @Test func hostileFoldersAreHandled() throws {
    let root = try Self.temporaryFolder()
    defer { Self.remove(root) }
    let fm = FileManager.default
    // Class names with spaces and non-ASCII letters work; a folder named like an image is a folder.
    for dir in ["Ünïcode class", "plain", "plain/x.png"] {
      try fm.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
    }
    try Self.writePNG(root + "/Ünïcode class/a.png", value: 1)
    try Self.writePNG(root + "/plain/b.png", value: 2)
    try Self.writePNG(root + "/plain/x.png/c.png", value: 3)
    _ = fm.createFile(atPath: root + "/plain/empty.png", contents: Data())
    try Data("not an image".utf8).write(to: URL(fileURLWithPath: root + "/plain/text.png"))
    let dataset = try Dataset.open(root, holdOutFraction: 0.5)
    #expect(dataset.classes == ["plain", "Ünïcode class"])
    // "label:first pixel" of every image, "label:unreadable" for the files that cannot be decoded.
    var seen: [String] = []
    for split in [dataset.train, dataset.test] {
      for i in 0..<split.count {
        let pixel = (try? split.image(at: i).pixels[0]).map { "\($0)" } ?? "unreadable"
        seen.append("\(split.labels[i]):\(pixel)")
      }
    }
    // The empty and the text file are unreadable (skipped with a warning by the loader), not fatal here.
    #expect(seen.sorted() == ["0:2", "0:3", "0:unreadable", "0:unreadable", "1:1"])
    // Pipes named like data files are refused at once, never waited on: an image, an IDX file, a model.
    #expect(mkfifo(root + "/plain/pipe.png", 0o644) == 0)
    let withPipe = try Dataset.open(root, holdOutFraction: 0.5)
    let pipe = [withPipe.train, withPipe.test].flatMap { split in
      (0..<split.count).filter { split.path(at: $0) == root + "/plain/pipe.png" }.map { (split, $0) }
    }
    #expect(pipe.count == 1)
    for (split, index) in pipe {
      #expect { try split.image(at: index) } throws: { "\($0)".contains("not a regular file") }
    }
    try fm.removeItem(atPath: root + "/plain/pipe.png")
    let idx = try Self.temporaryFolder()
    defer { Self.remove(idx) }
    #expect(
      mkfifo(idx + "/train-images-idx3-ubyte", 0o644) == 0 && mkfifo(idx + "/train-labels-idx1-ubyte", 0o644) == 0)
    #expect { try Dataset.open(idx) } throws: { "\($0)".contains("not a regular file") }
    #expect(mkfifo(idx + "/model.safetensors", 0o644) == 0)
    #expect { try Model(contentsOf: idx + "/model.safetensors") } throws: { "\($0)".contains("not a regular file") }
    // A symbolic link back up the tree is refused by name, not followed for ever.
    try fm.createSymbolicLink(atPath: root + "/plain/loop", withDestinationPath: "..")
    #expect {
      try Dataset.open(root, holdOutFraction: 0.5)
    } throws: { error in
      let error = error as? DatasetError
      return error?.path == root + "/plain/loop" && error?.reason.contains("a folder that contains it") == true
    }
  }

  @Test func exportRoundTrip() throws {
    let root = try Self.temporaryFolder()
    defer { Self.remove(root) }
    let source = try Dataset.open(Self.fixtures + "/cifar10")
    let summary = try source.export(to: root + "/out", trainPerClass: 1)
    #expect(summary.train == 5 && summary.test == 2 && summary.skipped.isEmpty)
    let back = try Dataset.open(root + "/out")
    #expect(back.format == .imageFolder && back.classes == source.classes)
    #expect(back.train.count == 5 && back.test.count == 2)
    for i in 0..<5 {
      #expect(try back.train.image(at: i) == (try source.train.image(at: i)))
      #expect(back.train.labels[i] == source.train.labels[i])
    }
    #expect(back.train.path(at: 0)!.hasSuffix("/train/class0/0.png"))
    // Never over an existing folder, and nothing left behind.
    #expect(throws: DatasetError.self) { try source.export(to: root + "/out") }
    #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["out"])
    // Per-class limit with a seed: IDX has 2 samples each of labels 0 and 1, 1 of label 2.
    let idx = try Dataset.open(Self.fixtures + "/idx")
    let limited = try idx.export(to: root + "/idx", trainPerClass: 1, testPerClass: 0)
    #expect(limited.train == 3 && limited.test == 0)
  }
}

@Suite struct DatasetRestrictionTests {
  @Test func someClassesRelabelledWithAFewTrainingImagesEach() throws {
    let dataset = try Dataset.open(DataLoaderTests.mini)
    let part = try dataset.restricted(toClasses: [7, 2], trainPerClass: 3, seed: 4)
    #expect(part.classes == [dataset.classes[7], dataset.classes[2]])
    #expect(part.train.countsPerClass(2) == [3, 3])
    #expect(part.test.countsPerClass(2) == [dataset.test.countsPerClass(10)[7], dataset.test.countsPerClass(10)[2]])
    // Each image is one of the original class's images.
    for split in [(part.train, dataset.train), (part.test, dataset.test)] {
      for i in 0..<split.0.count {
        let old = [7, 2][Int(split.0.labels[i])]
        let path = try #require(split.0.path(at: i))
        let index = try #require((0..<split.1.count).first { split.1.path(at: $0) == path })
        #expect(Int(split.1.labels[index]) == old)
      }
    }
    // Another seed draws other images; the same seed the same ones.
    let again = try dataset.restricted(toClasses: [7, 2], trainPerClass: 3, seed: 4)
    let other = try dataset.restricted(toClasses: [7, 2], trainPerClass: 3, seed: 5)
    let paths = { (d: Dataset) in (0..<d.train.count).map { d.train.path(at: $0)! } }
    #expect(paths(again) == paths(part) && paths(other) != paths(part))
    #expect(throws: DatasetError.self) { try dataset.restricted(toClasses: [2, 2]) }
    #expect(throws: DatasetError.self) { try dataset.restricted(toClasses: [10]) }
  }
}
