import Foundation

/// The first of several racing answers (a request body against its deadline): whoever calls
/// ``give(_:)`` first is the answer, later calls are ignored, and nobody waits for the losers.
final class FirstAnswer<Value: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Value?
  private var continuation: CheckedContinuation<Value, Never>?

  /// Whether an answer has been given.
  var isAnswered: Bool { lock.withLock { value != nil } }

  /// Offers an answer; the first one wins.
  func give(_ answer: Value) {
    let waiting: CheckedContinuation<Value, Never>? = lock.withLock {
      guard value == nil else { return nil }
      value = answer
      defer { continuation = nil }
      return continuation
    }
    waiting?.resume(returning: answer)
  }

  /// Waits for the first answer.
  func wait() async -> Value {
    await withCheckedContinuation { c in
      let ready: Value? = lock.withLock {
        if value == nil { continuation = c }
        return value
      }
      if let ready { c.resume(returning: ready) }
    }
  }
}
