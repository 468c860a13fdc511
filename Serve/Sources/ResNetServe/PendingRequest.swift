import Foundation

/// Why an image waiting for a batch got no probabilities.
enum BatchFailure: Error, Sendable {
  /// The model's queue was full when it arrived.
  case queueFull
  /// Its time ran out before its batch was computed.
  case timedOut
}

/// One image waiting in a ``DynamicBatcher``: its prepared input, and its answer — given by its batch
/// or by its timeout, whichever comes first.
struct PendingRequest: Sendable {
  /// The prepared image (``ResNet/Classifier/inputCount`` values).
  let input: [Float]
  /// When it was queued.
  let arrival = ContinuousClock.now
  /// Its probabilities, or why there are none.
  let answer = FirstAnswer<Result<[Float], BatchFailure>>()
}
