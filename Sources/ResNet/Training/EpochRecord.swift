/// One row of a run's `metrics.csv`: the numbers of one finished epoch, as stored (values rounded to
/// 6 decimals, so a record is the same whether it was just measured or read back from the file).
public struct EpochRecord: Sendable, Equatable {
  /// 1-based epoch number.
  public var epoch: Int
  /// Learning rate of the epoch's last step.
  public var learningRate: Float
  /// Mean training loss (with label smoothing) and accuracy on the augmented batches.
  public var trainLoss: Double
  public var trainAccuracy: Double
  /// Validation loss, accuracy and top-5 accuracy (nil with 10 classes or fewer).
  public var validationLoss: Double
  public var validationAccuracy: Double
  public var validationTop5: Double?
  /// Wall time of the epoch (training and validation) and training images per second.
  public var seconds: Double
  public var imagesPerSecond: Double

  /// The record of an epoch's measurements.
  public init(_ m: EpochMetrics) {
    epoch = m.epoch
    learningRate = m.learningRate
    trainLoss = rounded6(m.trainLoss)
    trainAccuracy = rounded6(m.trainAccuracy)
    validationLoss = rounded6(m.validation.loss)
    validationAccuracy = rounded6(m.validation.accuracy)
    validationTop5 = m.validation.top5.map(rounded6)
    seconds = rounded6(m.seconds)
    imagesPerSecond = rounded6(m.imagesPerSecond)
  }

  /// The columns of metrics.csv.
  static let csvHeader =
    "epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy,val_top5,seconds,images_per_s"

  /// The record as a metrics.csv row.
  var csvRow: String {
    [
      String(epoch), String(learningRate), String(trainLoss), String(trainAccuracy), String(validationLoss),
      String(validationAccuracy), validationTop5.map { String($0) } ?? "", String(seconds),
      String(imagesPerSecond),
    ].joined(separator: ",")
  }

  /// The record of a metrics.csv row, or nil when the row does not have the columns of ``csvHeader``.
  init?(csvRow row: Substring) {
    let f = row.split(separator: ",", omittingEmptySubsequences: false)
    guard f.count == 9, let epoch = Int(f[0]), let rate = Float(f[1]), let trainLoss = Double(f[2]),
      let trainAccuracy = Double(f[3]), let validationLoss = Double(f[4]),
      let validationAccuracy = Double(f[5]), f[6].isEmpty || Double(f[6]) != nil,
      let seconds = Double(f[7]), let imagesPerSecond = Double(f[8])
    else { return nil }
    (self.epoch, learningRate, self.trainLoss, self.trainAccuracy) = (epoch, rate, trainLoss, trainAccuracy)
    (self.validationLoss, self.validationAccuracy, validationTop5) =
      (validationLoss, validationAccuracy, Double(f[6]))
    (self.seconds, self.imagesPerSecond) = (seconds, imagesPerSecond)
  }
}

/// `v` rounded to 6 decimals (non-finite values as they are).
func rounded6(_ v: Double) -> Double {
  v.isFinite ? (v * 1e6).rounded() / 1e6 : v
}
