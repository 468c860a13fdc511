import ResNet

/// What `dataset info` finds by decoding every image: sizes, channels and the files that fail.
struct DatasetCensus {
  /// How many images have each (width, height, mode).
  var shapes: [String: Int] = [:]
  /// "path: reason" of each image that cannot be decoded.
  var unreadable: [String] = []

  init(_ dataset: Dataset) {
    let decoder = ImageDecoder()
    for split in [dataset.train, dataset.test] {
      if case .images(let images) = split.source {
        shapes["\(images.width)×\(images.height) \(images.mode.rawValue)", default: 0] += split.count
        continue
      }
      for i in 0..<split.count {
        do {
          let image = try split.image(at: i, decoder: decoder)
          shapes["\(image.width)×\(image.height) \(image.mode.rawValue)", default: 0] += 1
        } catch {
          unreadable.append("\(error)")
        }
      }
    }
  }

  /// The report `dataset info` prints.
  func report(_ dataset: Dataset) -> String {
    let train = dataset.train.countsPerClass(dataset.classes.count)
    let test = dataset.test.countsPerClass(dataset.classes.count)
    let testName = dataset.testIsHeldOut ? "held-out" : dataset.test.name
    let width = max(5, dataset.classes.map(\.count).max() ?? 0)
    func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
    func right(_ s: String, _ n: Int) -> String {
      String(repeating: " ", count: max(0, n - s.count)) + s
    }
    var lines = [
      "dataset: \(dataset.path) (\(dataset.format.rawValue))",
      "classes: \(dataset.classes.count)",
      "  label  \(pad("class", width))  \(right("train", 7))  \(right(testName, 8))",
    ]
    for (i, name) in dataset.classes.enumerated() {
      lines.append(
        "  \(pad(String(i), 5))  \(pad(name, width))  \(right(String(train[i]), 7))  \(right(String(test[i]), 8))"
      )
    }
    lines.append(
      "  \(pad("", 5))  \(pad("total", width))  \(right(String(dataset.train.count), 7))  \(right(String(dataset.test.count), 8))"
    )
    let sizes = shapes.sorted { $0.value > $1.value }.map { "\($0.key) (\($0.value))" }
    lines.append("images: " + (sizes.isEmpty ? "none readable" : sizes.joined(separator: ", ")))
    lines.append("unreadable: \(unreadable.isEmpty ? "none" : String(unreadable.count))")
    lines += unreadable.map { "  \($0)" }
    return lines.joined(separator: "\n")
  }
}
