import Foundation

/// A model as one safetensors file (docs/contracts.md): torchvision-named tensors and the
/// `resnet.config`, `resnet.classes` and `resnet.preprocess` metadata. Training checkpoints also carry
/// momentum tensors (under ``momentumPrefix``) and metadata of their own, which loading a model ignores.
extension Model {
  /// Prefix of the names of a training checkpoint's momentum buffers (`optimizer.momentum.<parameter>`).
  public static let momentumPrefix = "optimizer.momentum."

  /// A writer holding the network's state and the description's metadata (add training state to it,
  /// then `write(to:)`).
  public func writer() throws -> SafeTensorsWriter {
    var writer = SafeTensorsWriter()
    for (name, entry) in network.namedState() {
      switch entry {
      case .parameter(let p): writer.add(name, p.value)
      case .buffer(let t): writer.add(name, t)
      case .batchCount(let bn): writer.add(name, integers: [bn.batchesTracked], shape: [])
      }
    }
    writer.metadata = try metadata()
    return writer
  }

  /// The `resnet.config`, `resnet.classes`, `resnet.preprocess` and (when known) `resnet.augmentation` and
  /// `resnet.precision` strings that describe the model in a checkpoint's metadata and an ONNX file's
  /// `metadata_props`.
  func metadata() throws -> [String: String] {
    var metadata = [
      "resnet.config": spec.configuration.jsonString(), "resnet.classes": try jsonText(spec.classes),
      "resnet.preprocess": try jsonText(PreprocessRecord(spec.preprocessing)),
    ]
    if let augmentation = spec.augmentation {
      metadata["resnet.augmentation"] = try jsonText(AugmentationRecord(augmentation))
    }
    if let precision = spec.trainingPrecision { metadata["resnet.precision"] = precision.rawValue }
    return metadata
  }

  /// Saves the model to `path`, atomically (temporary file, fsync, rename).
  public func save(to path: String) throws {
    try writer().write(to: path)
  }

  /// Reads the checkpoint at `path`, validating the file, the metadata and every tensor's name, dtype
  /// and shape against the configuration; a path ending in `.onnx` is read as an ONNX file
  /// (``init(onnxContentsOf:inputSize:)``). `inputSize` sets the input of a torchvision state_dict (see
  /// ``ModelSpec/inferred(from:inputSize:)``).
  public convenience init(contentsOf path: String, inputSize: Int? = nil) throws {
    if path.lowercased().hasSuffix(".onnx") {
      try self.init(onnxContentsOf: path, inputSize: inputSize)
    } else {
      try self.init(file: try SafeTensorsFile(contentsOf: path), inputSize: inputSize)
    }
  }

  /// The model of an opened safetensors file (see ``init(contentsOf:inputSize:)``). A file without this
  /// tool's metadata — a torchvision `state_dict` saved with `safetensors.torch.save_file` — loads too:
  /// the architecture is read from the tensor shapes.
  public convenience init(file: SafeTensorsFile, inputSize: Int? = nil) throws {
    let spec = try ModelSpec(file: file, inputSize: inputSize)
    try file.checkSize(of: spec.configuration)
    let network = try Network(configuration: spec.configuration)
    try network.loadState(from: file)
    try self.init(spec: spec, network: network)
  }
}

extension ModelSpec {
  /// The description held by a checkpoint's metadata, validated; for a file without `resnet.config`,
  /// the description ``inferred(from:inputSize:)`` from a torchvision state_dict's shapes.
  init(file: SafeTensorsFile, inputSize: Int?) throws {
    guard file.metadata["resnet.config"] != nil else {
      self = try Self.inferred(from: file, inputSize: inputSize)
      return
    }
    try self.init(metadata: file.metadata, path: file.path)
  }

  /// The description held by `metadata` (a checkpoint's, or an ONNX file's `metadata_props`), which
  /// must have `resnet.config`; errors name `path`.
  init(metadata: [String: String], path: String) throws {
    func fail(_ reason: String) -> SafeTensorsError { SafeTensorsError(path: path, reason: reason) }
    let configText = metadata["resnet.config", default: ""]
    let configuration: NetworkConfiguration
    do {
      configuration = try JSONDecoder().decode(NetworkConfiguration.self, from: Data(configText.utf8))
      try configuration.validate()
    } catch {
      throw fail("resnet.config is not a valid configuration: \(error)")
    }
    let classes: [String]
    do {
      classes = try JSONDecoder().decode(
        [String].self, from: Data(metadata["resnet.classes", default: ""].utf8))
    } catch {
      throw fail("resnet.classes is missing or not a JSON list of names")
    }
    guard classes.count == configuration.numClasses else {
      throw fail(
        "resnet.classes names \(classes.count) classes but the network has \(configuration.numClasses)")
    }
    let preprocessing: Preprocessing
    do {
      let record = try JSONDecoder().decode(
        PreprocessRecord.self, from: Data(metadata["resnet.preprocess", default: ""].utf8))
      preprocessing = try record.preprocessing(for: configuration)
    } catch let error as SafeTensorsError {
      throw error
    } catch {
      throw fail("resnet.preprocess is missing or malformed: \(error)")
    }
    var augmentation: Augmentation?
    if let text = metadata["resnet.augmentation"] {
      guard let record = try? JSONDecoder().decode(AugmentationRecord.self, from: Data(text.utf8)),
        (0...65536).contains(record.cropPadding)
      else {
        throw fail(
          "resnet.augmentation is malformed (expected {\"crop_padding\":0…65536,\"horizontal_flip\":true|false})")
      }
      augmentation = Augmentation(cropPadding: record.cropPadding, horizontalFlip: record.horizontalFlip)
    }
    var trainingPrecision: Precision?
    if let text = metadata["resnet.precision"] {
      guard let precision = Precision(rawValue: text) else {
        throw fail("resnet.precision is \"\(text)\", expected \"f32\" or \"bf16\"")
      }
      trainingPrecision = precision
    }
    self.init(
      configuration: configuration, classes: classes, preprocessing: preprocessing, augmentation: augmentation,
      trainingPrecision: trainingPrecision)
  }
}

extension ModelSpec {
  /// The description a torchvision ResNet `state_dict` describes, read from its tensor shapes: the stem
  /// from `conv1.weight` (7×7: ImageNet, 3×3: CIFAR), the block kind from whether `conv3` exists, the
  /// stages and their blocks and widths from `layer{S}.{B}.conv1.weight`, the classes from `fc.weight`.
  /// The input is `inputSize` square (default 224 for the ImageNet stem, 32 for the CIFAR stem),
  /// prepared as torchvision's ImageNet recipe does (resize to 256/224 × the input, center crop,
  /// ImageNet mean and std; their average for one channel); classes are named by their index.
  public static func inferred(from file: SafeTensorsFile, inputSize: Int? = nil) throws -> ModelSpec {
    func fail(_ reason: String) -> SafeTensorsError { SafeTensorsError(path: file.path, reason: reason) }
    guard let stem = file.entries["conv1.weight"], stem.shape.count == 4,
      let fc = file.entries["fc.weight"], fc.shape.count == 2
    else {
      throw fail(
        "no resnet.config metadata, and not a torchvision ResNet state_dict (no 4-d conv1.weight and 2-d fc.weight)"
      )
    }
    let imagenet = stem.shape[2] == 7
    let bottleneck = file.entries["layer1.0.conv3.weight"] != nil
    var layers: [Int] = []
    var widths: [Int] = []
    while let first = file.entries["layer\(layers.count + 1).0.conv1.weight"], first.shape.count == 4 {
      let s = layers.count + 1
      var blocks = 1
      while file.entries["layer\(s).\(blocks).conv1.weight"] != nil { blocks += 1 }
      layers.append(blocks)
      widths.append(first.shape[0])
    }
    guard !layers.isEmpty else { throw fail("no layer1.0.conv1.weight: not a ResNet state_dict") }
    let side = inputSize ?? (imagenet ? 224 : 32)
    let channels = stem.shape[1]
    let configuration = NetworkConfiguration(
      stem: imagenet ? .imagenet : .cifar, block: bottleneck ? .bottleneck : .basic, layers: layers,
      widths: widths, inChannels: channels, numClasses: fc.shape[0], inputHeight: side, inputWidth: side)
    do { try configuration.validate() } catch { throw fail("inferred configuration: \(error)") }
    guard let spec = torchvision(configuration) else {
      throw fail("\(channels) input channels: only 1 or 3 are images")
    }
    return spec
  }

  /// The description of a torchvision network of `configuration` that says nothing else of itself:
  /// classes named by their index, images prepared by torchvision's ImageNet recipe for the input size
  /// (the shorter side resized to 256/224 of the input's, center crop, ImageNet mean and std, their
  /// average for one channel); nil unless the network reads 1 or 3 channels.
  static func torchvision(_ configuration: NetworkConfiguration) -> ModelSpec? {
    let (channels, height, width) = (configuration.inChannels, configuration.inputHeight, configuration.inputWidth)
    guard channels == 1 || channels == 3 else { return nil }
    let mean = channels == 3 ? imageNetMean : [Float](repeating: 0.449, count: channels)
    let std = channels == 3 ? imageNetStd : [Float](repeating: 0.226, count: channels)
    return ModelSpec(
      configuration: configuration, classes: (0..<configuration.numClasses).map { String($0) },
      preprocessing: Preprocessing(
        color: channels == 1 ? .gray : .rgb, resize: min(height, width) * 256 / 224, height: height, width: width,
        mean: mean, std: std))
  }
}

extension SafeTensorsFile {
  /// Refuses the file, before the network is built, when it holds fewer values than `configuration`'s
  /// state needs: its metadata (or its shapes, for a bare state_dict) describe a bigger network than
  /// its tensors can fill. This bounds what loading allocates by the file's own size.
  func checkSize(of configuration: NetworkConfiguration) throws {
    let held = entries.filter { !$0.key.hasPrefix(Model.momentumPrefix) }.values
      .reduce(0) { $0 + $1.range.count / $1.dtype.size }
    let needed = configuration.stateValueCount
    guard needed <= held else {
      throw SafeTensorsError(
        path: path,
        reason: "the configuration needs \(needed) state values but the file's tensors hold \(held)")
    }
  }
}

extension Network {
  /// Copies every state tensor from `file`, checking names, dtypes and shapes; tensors the network does
  /// not have are an error, except the optimizer state of training checkpoints.
  public func loadState(from file: SafeTensorsFile) throws {
    func fail(_ reason: String) -> SafeTensorsError { SafeTensorsError(path: file.path, reason: reason) }
    let state = namedState()
    let expected = Set(state.map(\.name))
    if let extra = file.entries.keys.sorted().first(where: {
      !expected.contains($0) && !$0.hasPrefix(Model.momentumPrefix)
    }) {
      throw fail("unexpected tensor '\(extra)' for this configuration")
    }
    for (name, entry) in state {
      guard let stored = file.entries[name] else { throw fail("missing tensor '\(name)'") }
      switch entry {
      case .parameter(let p): try copy(file, name, stored, into: p.value)
      case .buffer(let t): try copy(file, name, stored, into: t)
      case .batchCount(let bn):
        guard stored.shape.reduce(1, *) == 1 else {
          throw fail("tensor '\(name)' has shape \(stored.shape), expected a single int64")
        }
        bn.batchesTracked = try file.integers(name)[0]
      }
    }
  }

  private func copy(
    _ file: SafeTensorsFile, _ name: String, _ stored: SafeTensorsFile.Entry, into tensor: Tensor
  ) throws {
    let value = try file.tensor(name)
    try loadStateTensor(
      name, shape: stored.shape, values: UnsafeBufferPointer(start: value.pointer, count: value.count), into: tensor,
      path: file.path, holder: "checkpoint")
  }

  /// Copies `values`, stored with `shape` as state tensor `name` of the file at `path`, into `tensor`:
  /// refused when the shape is not the tensor's, and when a value is NaN or infinite (or a running
  /// variance negative) — such a weight would only ever produce NaN probabilities. `holder` names what
  /// is then damaged.
  func loadStateTensor(
    _ name: String, shape: [Int], values: UnsafeBufferPointer<Float>, into tensor: Tensor, path: String,
    holder: String
  ) throws {
    guard shape == tensor.shape, values.count == tensor.count else {
      throw SafeTensorsError(
        path: path, reason: "tensor '\(name)' has shape \(shape), the configuration needs \(tensor.shape)")
    }
    try refuseInvalidValues(values, name: name, path: path, nonNegative: name.hasSuffix("running_var"), holder: holder)
    guard let base = values.baseAddress else { return }
    tensor.pointer.update(from: base, count: tensor.count)
  }

}

/// The JSON of `resnet.preprocess`.
struct PreprocessRecord: Codable {
  var color: ColorMode
  var resize: Int?
  var mean: [Float]
  var std: [Float]

  init(_ p: Preprocessing) {
    (color, resize, mean, std) = (p.color, p.resize, p.mean, p.std)
  }

  func preprocessing(for c: NetworkConfiguration) throws -> Preprocessing {
    guard color.channels == c.inChannels, mean.count == c.inChannels, std.count == c.inChannels,
      std.allSatisfy({ $0 > 0 && $0.isFinite }), mean.allSatisfy(\.isFinite), (1...65536).contains(resize ?? 1)
    else {
      throw SafeTensorsError(
        path: "resnet.preprocess",
        reason:
          "color/mean/std do not fit a \(c.inChannels)-channel network, a value is not finite, std ≤ 0, or resize is outside 1–65536"
      )
    }
    return Preprocessing(
      color: color, resize: resize, height: c.inputHeight, width: c.inputWidth, mean: mean, std: std)
  }
}

/// The JSON of `resnet.augmentation`.
struct AugmentationRecord: Codable {
  var cropPadding: Int
  var horizontalFlip: Bool

  init(_ a: Augmentation) {
    (cropPadding, horizontalFlip) = (a.cropPadding, a.horizontalFlip)
  }

  enum CodingKeys: String, CodingKey {
    case cropPadding = "crop_padding"
    case horizontalFlip = "horizontal_flip"
  }
}

/// `value` as compact JSON text.
func jsonText<T: Encodable>(_ value: T) throws -> String {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
  return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Throws, naming the tensor and the first bad index, when `tensor` (stored as `name` in `path`) holds
/// a NaN or an infinity, or with `nonNegative` a negative value; `holder` says what is then damaged.
func refuseInvalidValues(
  _ tensor: Tensor, name: String, path: String, nonNegative: Bool = false, holder: String
) throws {
  try refuseInvalidValues(
    UnsafeBufferPointer(start: tensor.pointer, count: tensor.count), name: name, path: path,
    nonNegative: nonNegative, holder: holder)
}

/// The same check on values not yet in a tensor.
func refuseInvalidValues(
  _ values: UnsafeBufferPointer<Float>, name: String, path: String, nonNegative: Bool = false, holder: String
) throws {
  guard let bad = values.firstIndex(where: { !$0.isFinite || (nonNegative && $0 < 0) }) else { return }
  throw SafeTensorsError(
    path: path,
    reason: "tensor '\(name)' holds \(values[bad]) at index \(bad)"
      + (nonNegative ? " (a variance must be finite and ≥ 0)" : " (values must be finite)")
      + "; the \(holder) is damaged")
}
