import Foundation
import ResNet
import Testing

/// The README's library example, compiled and run here; a test checks the README still shows exactly
/// this code.
struct ReadmeExampleTests {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  @Test func exampleRuns() throws {
    let previous = FileManager.default.currentDirectoryPath
    let scratch = try DatasetTests.temporaryFolder()
    try FileManager.default.createSymbolicLink(
      atPath: scratch + "/Data", withDestinationPath: Self.repository.appendingPathComponent("Data").path)
    _ = FileManager.default.changeCurrentDirectoryPath(scratch)
    defer {
      _ = FileManager.default.changeCurrentDirectoryPath(previous)
      DatasetTests.remove(scratch)
    }
    var printed: [String] = []
    func print(_ items: Any...) { printed.append(items.map { "\($0)" }.joined(separator: " ")) }

    // README example begin
    // Train with the Trainer that `resnet train` uses…
    let dataset = try Dataset.open("Data/fashion-mnist-mini")
    let spec = try ModelSpec.automatic(for: dataset)  // resnet20, 1×28×28, 10 classes
    let model = try Model(spec: spec, seed: 0)
    var options = TrainingOptions()
    options.epochs = 1
    let trainer = try Trainer(
      model: model, train: dataset.train, validation: dataset.test, options: options,
      outputFolder: "runs/example")
    try trainer.run()

    // …then load the best checkpoint and classify an image file.
    let classifier = try Classifier(contentsOf: "runs/example/best.safetensors")
    for prediction in try classifier.classify(file: "Data/fashion-mnist-mini/test/Bag/0467.png", top: 3) {
      print(prediction.label, prediction.probability)
    }
    // README example end

    #expect(printed.count == 3)
    #expect(Set(printed.map { String($0.split(separator: " ").dropLast().joined(separator: " ")) }).count == 3)
  }

  @Test func readmeShowsThisExample() throws {
    let readme = try String(
      contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
    let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
    func lines(_ text: String, from start: String, to end: String) -> [String] {
      guard let a = text.range(of: start), let b = text.range(of: end, range: a.upperBound..<text.endIndex)
      else { return [] }
      let body = text[a.upperBound..<b.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
      let trimmed = body.map { String($0.drop { $0 == " " }) }
      return trimmed.filter { !$0.isEmpty }
    }
    let example = lines(source, from: "// README example begin\n", to: "    // README example end")
    let shown = lines(readme, from: "```swift\nimport ResNet\n", to: "```")
    #expect(!example.isEmpty && example == shown)
  }
}
