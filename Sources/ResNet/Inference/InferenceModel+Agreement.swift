import ResNetKernels

/// How closely two compilations of one network agree (say bf16 against float32) over a dataset.
public struct InferenceAgreement: Sendable, Equatable {
  /// Images compared.
  public var images = 0
  /// Images whose most probable class is the same under both.
  public var sameTop1 = 0
  /// The largest `max |Δlogit| / max |logit|` of an image (the reference's largest logit).
  public var largestRelativeError: Float = 0

  /// `sameTop1 / images`.
  public var fraction: Double { images == 0 ? 1 : Double(sameTop1) / Double(images) }

  /// Runs `model` and `reference` over every batch of `loader`'s epoch 0 and compares their logits image
  /// by image.
  public init(_ model: InferenceModel, against reference: InferenceModel, loader: DataLoader) throws {
    precondition(model.classes == reference.classes, "InferenceAgreement: different class counts")
    let classes = model.classes
    let batches = loader.epoch(0)
    while let batch = try batches.next() {
      guard batch.count > 0 else { continue }
      let (logits, expected) = (model.logits(batch.images), reference.logits(batch.images))  // [batch, classes]
      for i in 0..<batch.count {
        let (row, truth) = (logits.pointer + i * classes, expected.pointer + i * classes)
        sameTop1 += Logits.argmax(row, count: classes) == Logits.argmax(truth, count: classes) ? 1 : 0
        var (difference, largest): (Float, Float) = (0, 0)
        for j in 0..<classes {
          difference = max(difference, abs(row[j] - truth[j]))
          largest = max(largest, abs(truth[j]))
        }
        largestRelativeError = max(largestRelativeError, difference / max(largest, .leastNormalMagnitude))
        images += 1
      }
    }
  }
}
