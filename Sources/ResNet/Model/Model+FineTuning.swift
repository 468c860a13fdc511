extension Model {
  /// A model to fine-tune from `source` on a dataset of `classes`: the source's architecture and
  /// preprocessing, every tensor of the source copied, and a new classifier (`fc`, initialized from
  /// `seed` as PyTorch's `Linear`) unless `classes` are the source's own, name for name. `head` says
  /// which (`"fc: new, 1000 → 4 classes"`).
  public static func fineTuning(from source: Model, classes: [String], seed: UInt64) throws -> (
    model: Model, head: String
  ) {
    var configuration = source.spec.configuration
    configuration.numClasses = classes.count
    let spec = ModelSpec(configuration: configuration, classes: classes, preprocessing: source.spec.preprocessing)
    let model = try Model(spec: spec, seed: seed)
    let keepsHead = classes == source.spec.classes
    let sourceState = Dictionary(
      source.network.namedState().map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
    for (name, entry) in model.network.namedState() where keepsHead || !name.hasPrefix("fc.") {
      guard let stored = sourceState[name] else {
        throw ConfigurationError.invalid("the source model has no tensor '\(name)'")
      }
      switch (entry, stored) {
      case (.parameter(let p), .parameter(let q)): try copy(q.value, into: p.value, name: name)
      case (.buffer(let t), .buffer(let u)): try copy(u, into: t, name: name)
      case (.batchCount(let a), .batchCount(let b)): a.batchesTracked = b.batchesTracked
      default: throw ConfigurationError.invalid("tensor '\(name)' is of another kind in the source model")
      }
    }
    let head =
      keepsHead
      ? "fc: kept (the same \(classes.count) classes)"
      : "fc: new, \(source.spec.classes.count) → \(classes.count) classes"
    return (model, head)
  }

  private static func copy(_ source: Tensor, into target: Tensor, name: String) throws {
    guard source.shape == target.shape else {
      throw ConfigurationError.invalid("tensor '\(name)' has shape \(source.shape) in the source, \(target.shape) here")
    }
    target.pointer.update(from: source.pointer, count: target.count)
  }
}
