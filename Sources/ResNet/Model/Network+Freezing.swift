/// A leading part of a network: freezing it freezes everything up to and including it.
public enum FrozenPart: String, Codable, Sendable, CaseIterable {
  /// Nothing is frozen.
  case none
  /// `conv1` and `bn1` (and the max pool, which has no state).
  case stem
  /// The stem and the stages up to `layerK`.
  case layer1, layer2, layer3, layer4
  /// Everything but the classifier `fc` (for a pre-activation network, `bn_final` too).
  case backbone

  /// How many stages it covers in a network of `stages` stages (nil: the network has no such stage).
  func frozenStages(of stages: Int) -> Int? {
    switch self {
    case .none, .stem: 0
    case .layer1: stages >= 1 ? 1 : nil
    case .layer2: stages >= 2 ? 2 : nil
    case .layer3: stages >= 3 ? 3 : nil
    case .layer4: stages >= 4 ? 4 : nil
    case .backbone: stages
    }
  }
}

extension Network {
  /// Freezes `part` and everything before it (``FrozenPart/none`` unfreezes). Frozen layers run in
  /// inference mode even in training-mode passes — BatchNorm uses and keeps its running statistics, as
  /// Keras does for a layer with `trainable = False` — and the backward pass stops where they begin, so
  /// they get no gradient and cost no backward work. Throws when the network has no such stage.
  public func freeze(_ part: FrozenPart) throws {
    guard let stages = part.frozenStages(of: self.stages.count) else {
      throw ConfigurationError.invalid(
        "cannot freeze \(part.rawValue): the network has \(self.stages.count) stages (layer1…layer\(self.stages.count))"
      )
    }
    frozen = part
    frozenBlocks = self.stages.prefix(stages).reduce(0) { $0 + $1.count }
  }

  /// The state names (`"layer1.0.conv1.weight"`, …) of the frozen part's parameters and buffers.
  public var frozenStateNames: Set<String> {
    guard frozen != .none else { return [] }
    var state = conv1.namedState(prefix: "conv1.") + (bn1?.namedState(prefix: "bn1.") ?? [])
    for (name, block) in namedBlocks.prefix(frozenBlocks) { state += block.namedState(prefix: name) }
    if frozen == .backbone { state += bnFinal?.namedState(prefix: "bn_final.") ?? [] }
    return Set(state.map(\.name))
  }

  /// Whether the parameter or buffer named `name` belongs to the frozen part.
  public func isFrozen(_ name: String) -> Bool { frozenStateNames.contains(name) }

  /// Each parameter's learning rate as a multiple of the step's, in ``namedParameters()`` order, for
  /// fine-tuning: 0 for a frozen parameter (no step at all), 1 for the classifier `fc`, `backbone` for
  /// the rest. Nil when nothing is frozen and `backbone` is 1 (every parameter at the full rate).
  public func learningRateScales(backbone: Float) -> [Float]? {
    guard frozen != .none || backbone != 1 else { return nil }
    let frozenNames = frozenStateNames
    return namedParameters().map { name, _ in
      frozenNames.contains(name) ? 0 : name.hasPrefix("fc.") ? 1 : backbone
    }
  }
}
