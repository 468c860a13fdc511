import Foundation
import ResNet
import Testing

/// Test-time flips: each image's probabilities averaged with its mirror image's, in `Classifier` and
/// in `Evaluation`; refused for a model that records training without flips.
@Suite struct TestTimeFlipTests {
  /// A model with weights of its own and 40 test images of the mini dataset (every class).
  static func setup() throws -> (Model, DatasetSplit) {
    let model = try FineTuningTests.source()
    let (_, _, test) = try TrainerTests.setup(widthMultiplier: 0.25, testCount: 40)
    return (model, test)
  }

  @Test func theMeanOfTheImagesAndTheirMirrorImagesProbabilities() throws {
    let (model, test) = try Self.setup()
    let plain = try Classifier(model: model)
    let flipped = try Classifier(model: model, averagingMirror: true)
    let classes = model.spec.classes.count
    var differs = false
    for index in 0..<8 {
      let image = try test.image(at: index)
      // The reference: the image and its mirror image classified apart, their probabilities averaged.
      let original = plain.classify(image, top: classes)
      let mirror = plain.classify(image.flippedHorizontally(), top: classes)
      let both = flipped.classify(image, top: classes)
      #expect(both.count == classes)
      for prediction in both {
        let a = try #require(original.first { $0.index == prediction.index }).probability
        let b = try #require(mirror.first { $0.index == prediction.index }).probability
        #expect(abs(prediction.probability - (a + b) / 2) <= 1e-6, "image \(index), class \(prediction.index)")
        if abs(a - b) > 1e-3 { differs = true }
      }
    }
    #expect(differs, "the mirror images should change some probabilities, or this test checks nothing")
  }

  @Test func evaluationAgreesWithTheClassifier() throws {
    let (model, test) = try Self.setup()
    let classifier = try Classifier(model: model, averagingMirror: true)
    let loader = DataLoader(
      split: test, batchSize: 16, preprocessing: model.spec.preprocessing, shuffle: false)
    let result = try Evaluation.run(model.network, loader: loader, averagingMirror: true)
    let classes = model.spec.classes.count
    var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
    var loss = 0.0
    for index in 0..<test.count {
      let predictions = classifier.classify(try test.image(at: index), top: classes)
      let truth = Int(test.labels[index])
      confusion[truth][predictions[0].index] += 1
      loss -= log(Double(try #require(predictions.first { $0.index == truth }).probability))
    }
    #expect(result.count == test.count)
    #expect(result.confusion == confusion)
    #expect(abs(result.loss - loss / Double(test.count)) <= 1e-5 * abs(result.loss))
    // Without flips, the evaluation is another one.
    let plain = try Evaluation.run(model.network, loader: loader)
    #expect(plain.loss != result.loss)
  }

  @Test func aModelTrainedWithoutFlipsRefusesThem() throws {
    let (spec, train, test) = try TrainerTests.setup(widthMultiplier: 0.25, trainCount: 16, testCount: 8)
    let folder = try DatasetTests.temporaryFolder()
    defer { DatasetTests.remove(folder) }
    for flips in [true, false] {
      var options = TrainingOptions()
      (options.epochs, options.batchSize, options.horizontalFlip, options.cropPadding) = (1, 8, flips, 2)
      let model = try Model(spec: spec, seed: 1)
      #expect(model.spec.augmentation == nil)
      try Trainer(model: model, train: train, validation: test, options: options, outputFolder: folder).run()
      let saved = try Model(contentsOf: folder + "/best.safetensors")
      #expect(saved.spec.augmentation == Augmentation(cropPadding: 2, horizontalFlip: flips))
      if flips {
        #expect(try Classifier(model: saved, averagingMirror: true).averagingMirror)
      } else {
        #expect(throws: TestTimeFlipError.self) { try Classifier(model: saved, averagingMirror: true) }
      }
    }
  }

  @Test func aMalformedAugmentationRecordIsRefused() throws {
    let (model, _) = try Self.setup()
    let folder = try DatasetTests.temporaryFolder()
    defer { DatasetTests.remove(folder) }
    for bad in [#"{"crop_padding":-1,"horizontal_flip":true}"#, #"{"horizontal_flip":"yes"}"#, "[]"] {
      var writer = try model.writer()
      writer.metadata["resnet.augmentation"] = bad
      let path = folder + "/bad.safetensors"
      try writer.write(to: path)
      #expect {
        try Model(contentsOf: path)
      } throws: { error in
        "\(error)".contains(path) && "\(error)".contains("resnet.augmentation is malformed")
      }
    }
  }
}
