import Foundation

/// Where a training run stands and how it was set up: what a training checkpoint holds besides the
/// model (docs/contracts.md, "Training checkpoints").
struct TrainingState {
  /// The run's options and the weights' initialization (`resnet.training`).
  var record: TrainingRecord
  /// Epochs and steps done, the best epoch (`resnet.progress`).
  var progress: TrainingProgress
  /// The optimizer's momentum buffers, in parameter order (empty before the first step).
  var momentum: [Tensor]
}

extension RunFolder {
  /// Writes last.safetensors: `model` with `state`, atomically.
  func writeTrainingCheckpoint(_ model: Model, state: TrainingState) throws {
    var writer = try model.writer()
    for ((name, _), buffer) in zip(model.network.namedParameters(), state.momentum) {
      writer.add(Model.momentumPrefix + name, buffer)
    }
    writer.metadata["resnet.training"] = try jsonText(state.record)
    writer.metadata["resnet.progress"] = try jsonText(state.progress)
    try writer.write(to: path(of: .last))
  }

  /// The training state in `file` (a last.safetensors) for `model`, the model it holds: the metadata
  /// decoded and each momentum buffer checked against its parameter's shape and for finite values.
  static func trainingState(in file: SafeTensorsFile, of model: Model) throws -> TrainingState {
    guard let recordText = file.metadata["resnet.training"], let progressText = file.metadata["resnet.progress"]
    else {
      throw SafeTensorsError(
        path: file.path, reason: "holds a model but no training state (resume from a last.safetensors)")
    }
    let record = try JSONDecoder().decode(TrainingRecord.self, from: Data(recordText.utf8))
    let progress = try JSONDecoder().decode(TrainingProgress.self, from: Data(progressText.utf8))
    guard record.options.momentum != 0 && progress.step > 0 else {
      return TrainingState(record: record, progress: progress, momentum: [])
    }
    let momentum = try model.network.namedParameters().map { name, parameter in
      let buffer = try file.tensor(Model.momentumPrefix + name)
      guard buffer.shape == parameter.value.shape else {
        throw SafeTensorsError(
          path: file.path,
          reason: "tensor '\(Model.momentumPrefix + name)' has shape \(buffer.shape), its parameter "
            + "\(parameter.value.shape)")
      }
      try refuseInvalidValues(
        buffer, name: Model.momentumPrefix + name, path: file.path, holder: "training state")
      return buffer
    }
    return TrainingState(record: record, progress: progress, momentum: momentum)
  }
}
